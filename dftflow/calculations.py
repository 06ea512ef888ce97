"""From a StudySpec to its systems and its ordered calculations (one job label each).

Each study is one DAG: bulk relax -> for every system (the pristine supercell and each defect cell,
built from the relaxed bulk) a PBEsol relax -> hybrid static (+DOS) -> hybrid band structure where
the study asks for it. `dftflow inputs`, `dftflow plan` and the FireWorks builders all use this list,
so labels, order and dependencies are defined in one place.

Job labels come from the steps (steps.Step.label): "bulk relax", "relax <system>", "hse-static <system>",
"hse-bands <system>", where the system name is its composition, defect and charge ("WO2.938 V_O(s_z)
q=+2") or the study's own name. Code that needs a system's calculation asks Study.calculation_for.
The same label is the Firework name, INCAR SYSTEM, the database task_label and (slugged) the
directory name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from pymatgen.core import Structure

from dftflow.defects import DefectCell, build_defect_cell
from dftflow.errors import InputError
from dftflow.steps import Step
from dftflow.structures import load_host, make_supercell
from dftflow.study import StudySpec, SystemSpec
from dftflow.vasp.potcars import PotcarChoice, potcars_available
from dftflow.vasp.sets import Science, VaspInputs, make_inputs

BULK_LABEL = Step.BULK_RELAX.label()


@dataclass(frozen=True)
class Calculation:
    label: str
    step: Step
    system: str | None  # system name; None for the bulk relax
    parent: str | None  # label of the calculation whose output (CONTCAR, WAVECAR) this one starts from

    @property
    def dirname(self) -> str:
        return slug(self.label)


def slug(label: str) -> str:
    """Directory-safe form of a job label: 'relax WO2.938 V_O(s_z) q=+2' -> 'relax_WO2.938_V_O-s_z_q+2'."""
    text = label.replace("(", "-").replace(")", "").replace("=", "").replace(",", "-")
    text = re.sub(r"\s+", "_", text.strip())
    return re.sub(r"[^A-Za-z0-9_.+\-]", "", text)


def build_system(bulk: Structure, spec: StudySpec, system: SystemSpec) -> DefectCell:
    """The system's cell from a (relaxed or not) bulk unit cell: supercell, then defect recipes."""
    cell = build_defect_cell(make_supercell(bulk, spec.supercell), system.recipes(), system.charge)
    return cell


def system_name(cell: DefectCell, system: SystemSpec) -> str:
    return system.name or cell.name


def science_from_spec(spec: StudySpec, real_potcars: bool) -> Science:
    return Science(
        potcars=PotcarChoice(
            symbols=tuple(sorted(spec.potcars.symbols.items())), functional=spec.potcars.functional, real=real_potcars
        ),
        relax_functional=spec.functional.relax,
        hybrid_functional=spec.functional.hybrid,
        aexx=spec.functional.aexx,
        hfscreen=spec.functional.hfscreen,
        base_gga=spec.functional.base_gga,
        encut=spec.encut,
        kpoint_style=spec.kpoints.style,
        bulk_mesh=tuple(spec.kpoints.bulk),
        supercell_mesh=tuple(spec.kpoints.supercell),
        band_path=tuple(tuple(b) for b in spec.band_path.path),
        line_density=spec.band_path.line_density,
        incar_overrides={k: dict(v) for k, v in spec.incar.items()},
    )


class Study:
    """A validated study: host, systems built on it, calculations and their input sets.

    `potcars`: "real" (PMG_VASP_PSP_DIR, error without it), "spec" (POTCAR.spec + ZVAL table) or
    "auto" (real when PMG_VASP_PSP_DIR is set).
    """

    def __init__(self, spec: StudySpec, potcars: str = "auto", host: Structure | None = None):
        if potcars not in ("auto", "real", "spec"):
            raise InputError(f"potcars must be auto, real or spec, got {potcars!r}")
        self.spec = spec
        self.real_potcars = potcars == "real" or (potcars == "auto" and potcars_available())
        self.science = science_from_spec(spec, self.real_potcars)
        if host is None:
            lattice = spec.host.lattice.model_dump() if spec.host.lattice else None
            host = load_host(spec.structure_path(), lattice)
        self.host = host

    def to_dict(self) -> dict:
        """Self-contained form for a workflow: the validated spec and the host structure itself (the
        cluster running the workflow need not have the study's files)."""
        return {"spec": self.spec.model_dump(mode="json"), "host": self.host.as_dict()}

    @classmethod
    def from_dict(cls, data: dict, potcars: str = "auto") -> Study:
        from dftflow.study import study_from_dict

        spec = study_from_dict(data["spec"], source=None)
        host = data["host"]  # FireWorks already turns MSONable dicts back into objects
        return cls(spec, potcars=potcars, host=host if isinstance(host, Structure) else Structure.from_dict(host))

    def spec_hash(self) -> str:
        """sha256 of the study's science (spec + host): the identity of its workflow."""
        import hashlib
        import json

        payload = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    @cached_property
    def systems(self) -> dict[str, tuple[SystemSpec, DefectCell]]:
        """System name -> (spec, cell built on the unrelaxed host), pristine first."""
        out: dict[str, tuple[SystemSpec, DefectCell]] = {}
        for system in self.spec.systems_with_pristine():
            cell = build_system(self.host, self.spec, system)
            name = system_name(cell, system)
            if name in out:
                raise InputError(f"study {self.spec.name}: two systems are both named {name!r}; give one a name")
            out[name] = (system, cell)
        return out

    @cached_property
    def calculations(self) -> list[Calculation]:
        calcs = [Calculation(BULK_LABEL, Step.BULK_RELAX, None, None)]
        for name, (system, _) in self.systems.items():
            relax = Calculation(Step.RELAX.label(name), Step.RELAX, name, BULK_LABEL)
            calcs.append(relax)
            calcs.append(Calculation(Step.HSE_STATIC.label(name), Step.HSE_STATIC, name, relax.label))
            if system.band_structure:
                calcs.append(Calculation(Step.HSE_BANDS.label(name), Step.HSE_BANDS, name, relax.label))
        return calcs

    @cached_property
    def _by_step(self) -> dict[tuple[Step, str | None], Calculation]:
        return {(calc.step, calc.system): calc for calc in self.calculations}

    def calculation(self, label: str) -> Calculation:
        for calc in self.calculations:
            if calc.label == label:
                return calc
        raise InputError(f"study {self.spec.name} has no calculation {label!r}")

    def calculation_for(self, step: Step, system: str | None = None) -> Calculation | None:
        """The calculation of `step` for `system`, or None when the study has none (no band structure asked)."""
        return self._by_step.get((Step(step), system))

    def check_inputs(self) -> list[VaspInputs]:
        """Build every structure and input set (on the unrelaxed host): a bad study fails here, before
        anything is written, submitted or run."""
        return [self.inputs(calc) for calc in self.calculations]

    def inputs(self, calc: Calculation, structure: Structure | None = None, note: str = "") -> VaspInputs:
        """Input set of `calc` on `structure` (default: the unrelaxed host or the system built on it)."""
        if calc.step is Step.BULK_RELAX:
            return make_inputs(calc.step, calc.label, structure or self.host, self.science, note=note)
        system, cell = self.systems[calc.system]
        return make_inputs(
            calc.step,
            calc.label,
            structure or cell.structure,
            self.science,
            charge=cell.charge,
            seed_w=tuple(cell.seed_w),
            defect_electrons=cell.defect_electrons,
            note=note,
        )
