"""The steps of a study's chain, named once: every job label, preset and dependency derives from these.

A calculation's job label is its step's label prefix followed by the system name ("relax WO2.938 V_O(s_z)
q=+2", "hse-static WO3"); the bulk relax has no system. Code that needs a calculation of a system asks the
study for it (Study.calculation_for) instead of rebuilding the label.
"""

from __future__ import annotations

from enum import Enum


class Step(str, Enum):
    BULK_RELAX = "bulk-relax"
    DIELECTRIC = "dielectric"  # dielectric tensor of the relaxed bulk (finite-size corrections)
    RELAX = "relax"
    HSE_RELAX = "hse-relax"  # optional hybrid ionic relaxation from the PBEsol geometry
    HSE_STATIC = "hse-static"
    HSE_BANDS = "hse-bands"
    HSE_PARCHG = "hse-parchg"  # partial charge density of a defect cell's in-gap states

    def __str__(self) -> str:
        return self.value

    @property
    def hybrid(self) -> bool:
        return self in (Step.HSE_RELAX, Step.HSE_STATIC, Step.HSE_BANDS, Step.HSE_PARCHG)

    @property
    def bulk(self) -> bool:
        """A step on the bulk unit cell (no system)."""
        return self in (Step.BULK_RELAX, Step.DIELECTRIC)

    @property
    def preset(self) -> str:
        """The step's preset file in vasp/presets."""
        named = {
            Step.HSE_RELAX: "hybrid-relax",
            Step.HSE_STATIC: "hybrid-static",
            Step.HSE_BANDS: "hybrid-bands",
            Step.HSE_PARCHG: "hybrid-parchg",
        }
        return named.get(self, self.value)

    @property
    def override_group(self) -> str:
        """The study file's `incar:` group whose overrides apply to this step."""
        return "hybrid" if self.hybrid else self.value

    def label(self, system: str | None = None) -> str:
        """The job label of this step for `system` (none for the bulk steps)."""
        if self is Step.BULK_RELAX:
            return "bulk relax"
        if self is Step.DIELECTRIC:
            return "dielectric bulk"
        if not system:
            raise ValueError(f"step {self.value} needs a system name")
        return f"{self.value} {system}"
