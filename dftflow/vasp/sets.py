"""VASP input sets: scientific settings from YAML presets, per-system values computed here.

INCAR = step preset (with its parents) + functional preset + study overrides + system values
(SYSTEM = job label, NELECT from ZVAL, NBANDS, MAGMOM seeds). Presets live in vasp/presets/*.yaml,
one file per step or functional, each naming its parent and saying why each value is there.
Machine settings (NCORE, KPAR, command, scratch) never enter here: they come from the worker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pymatgen.core import Structure
from pymatgen.io.vasp import Incar, Kpoints, Poscar

from dftflow.errors import InputError
from dftflow.fileio import atomic_write_text
from dftflow.steps import Step
from dftflow.vasp.kpoints import DEFAULT_LINE_DENSITY, DEFAULT_PATH, automatic_kpoints, zero_weight_kpoints
from dftflow.vasp.potcars import PotcarChoice, default_nbands, nelect

MAGMOM_SEED = 0.6  # mu_B on each W next to a defect that leaves electrons behind (V_O+, V_O0, H)


@cache
def preset(name: str) -> dict:
    """A preset's INCAR with its parents merged in (child wins; a child's null removes the tag), plus its
    description."""
    try:
        text = resources.files("dftflow.vasp").joinpath(f"presets/{name}.yaml").read_text()
    except FileNotFoundError:
        raise InputError(f"unknown preset {name!r}; available: {', '.join(available_presets())}") from None
    data = yaml.safe_load(text)
    incar = dict(preset(data["parent"])["incar"]) if data.get("parent") else {}
    incar.update(data.get("incar") or {})
    return {"incar": {k: v for k, v in incar.items() if v is not None}, "description": data.get("description", name)}


def available_presets() -> list[str]:
    folder = resources.files("dftflow.vasp").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


@dataclass(frozen=True)
class Science:
    """Everything scientific a study fixes for its input sets (no machine settings)."""

    potcars: PotcarChoice
    relax_functional: str = "pbesol"
    hybrid_functional: str = "hse06-28"
    aexx: float | None = None
    hfscreen: float | None = None
    base_gga: str | None = None
    encut: float = 520.0
    kpoint_style: str = "Monkhorst-Pack"
    bulk_mesh: tuple[int, int, int] = (4, 4, 4)
    supercell_mesh: tuple[int, int, int] = (4, 4, 2)
    band_path: tuple = DEFAULT_PATH
    line_density: float = DEFAULT_LINE_DENSITY
    incar_overrides: dict = field(default_factory=dict)  # {"bulk-relax"|"relax"|"hybrid": {TAG: value}}
    bulk_functional: str | None = None  # the bulk relax's functional preset (default: relax_functional)
    bulk_cell: str = "relax"  # "relax": ISIF 3; "fixed": the given lattice kept, positions relaxed (ISIF 2)

    def step_incar(self, step: Step | str) -> dict:
        """Preset + functional + study overrides for one step (no per-system values yet)."""
        step = Step(step)
        hybrid = step.hybrid
        incar = dict(preset(step.preset)["incar"])
        functional = self.hybrid_functional if hybrid else self.relax_functional
        if step is Step.BULK_RELAX and self.bulk_functional:
            functional = self.bulk_functional
        incar.update(preset(functional)["incar"])
        incar["ENCUT"] = self.encut
        if step is Step.BULK_RELAX and self.bulk_cell == "fixed":
            incar["ISIF"] = 2  # the lattice is the one given (a published cell): positions only
        if step is Step.BULK_RELAX and incar.get("LHFCALC"):  # a hybrid bulk relax: the study's hybrid values
            hybrid = True
        if hybrid:
            if not incar.get("LHFCALC"):
                raise InputError(f"hybrid functional preset {self.hybrid_functional!r} does not set LHFCALC")
            for tag, value in (("AEXX", self.aexx), ("HFSCREEN", self.hfscreen), ("GGA", self.base_gga)):
                if value is not None:
                    incar[tag] = value
        elif incar.get("LHFCALC"):
            raise InputError(f"relax functional preset {self.relax_functional!r} is a hybrid")
        incar.update(self.incar_overrides.get(step.override_group, {}))
        incar.setdefault("LDAU", False)
        return incar


@dataclass
class VaspInputs:
    """One calculation's inputs, ready to write or hash."""

    label: str
    incar: Incar
    kpoints: Kpoints
    structure: Structure
    potcars: PotcarChoice
    note: str = ""

    def files(self) -> dict[str, str]:
        """File name -> text, POTCAR.spec when offline (the real POTCAR is added by write())."""
        files = {
            "INCAR": str(self.incar),
            "KPOINTS": str(self.kpoints),
            "POSCAR": Poscar(self.structure, comment=self.label).get_str(significant_figures=10),
        }
        if not self.potcars.real:
            files["POTCAR.spec"] = "\n".join(self.potcars.symbols_for(self.structure)) + "\n"
        if self.note:
            files["NOTE.txt"] = self.note
        return files

    def input_hash(self) -> str:
        """sha256 of everything that determines the result: INCAR, KPOINTS, POSCAR, POTCAR identity."""
        payload = {
            "incar": {k: self.incar[k] for k in sorted(self.incar) if k != "SYSTEM"},
            "kpoints": str(self.kpoints).splitlines()[1:],
            "poscar": Poscar(self.structure).get_str(significant_figures=8).splitlines()[1:],
            "potcars": [self.potcars.functional, *self.potcars.symbols_for(self.structure)],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def write_into(self, directory: str | Path) -> Path:
        """Write the input files into an existing (launch) directory, each file atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in self.files().items():
            atomic_write_text(directory / name, text)
        if self.potcars.real:
            atomic_write_text(directory / "POTCAR", str(self.potcars.potcar(self.structure)))
            (directory / "POTCAR.spec").unlink(missing_ok=True)
        else:
            (directory / "POTCAR").unlink(missing_ok=True)  # a stale real POTCAR must not win over the spec
        return directory

    def write(self, directory: str | Path) -> Path:
        """Write the folder atomically: into a sibling temporary folder, then rename."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        potcar = self.potcars.potcar(self.structure) if self.potcars.real else None
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            for name, text in self.files().items():
                (tmp / name).write_text(text)
            if potcar is not None:
                potcar.write_file(tmp / "POTCAR")
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return directory


def make_inputs(
    step: Step | str,
    label: str,
    structure: Structure,
    science: Science,
    charge: int = 0,
    seed_w: tuple[int, ...] = (),
    defect_electrons: int = 0,
    note: str = "",
    molecule: bool = False,
    extra: dict | None = None,
) -> VaspInputs:
    """The input set of one calculation (see the module docstring for the order of precedence).

    molecule: a molecule in a box (the O2 reference): the molecule preset on top, Gamma point only.
    extra: INCAR values set for this calculation alone (LWAVE of a static a partial-charge step reads,
    IBAND of that step)."""
    step = Step(step)
    incar = science.step_incar(step)
    if molecule:
        incar.update(preset("molecule-o2")["incar"])
    incar.update(extra or {})
    n_el = nelect(structure, science.potcars, charge)
    incar["SYSTEM"] = label
    incar["NELECT"] = n_el
    if not step.bulk:
        incar.setdefault("NBANDS", default_nbands(n_el, len(structure)))
    if incar.get("ISPIN") == 2 and "MAGMOM" not in incar:
        if molecule:
            incar["MAGMOM"] = [float(incar.get("NUPDOWN", 0)) / len(structure)] * len(structure)
        else:
            seeds = set(seed_w) if defect_electrons > 0 else set()
            incar["MAGMOM"] = [MAGMOM_SEED if i in seeds else 0.0 for i in range(len(structure))]
    if molecule:
        kpoints = automatic_kpoints((1, 1, 1), "Gamma")
    elif step is Step.HSE_BANDS:
        kpoints = zero_weight_kpoints(
            structure,
            science.supercell_mesh,
            science.kpoint_style,
            int(incar.get("ISYM", 2)),
            path=science.band_path,
            line_density=science.line_density,
        )
    else:
        mesh = science.bulk_mesh if step.bulk else science.supercell_mesh
        kpoints = automatic_kpoints(mesh, science.kpoint_style)
    return VaspInputs(
        label=label, incar=Incar(incar), kpoints=kpoints, structure=structure, potcars=science.potcars, note=note
    )
