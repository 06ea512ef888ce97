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

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from pymatgen.core import Structure

from dftflow.defects import DefectCell, build_defect_cell, charge_text
from dftflow.errors import InputError
from dftflow.steps import Step
from dftflow.structures import load_host, make_supercell, o2_molecule
from dftflow.study import StudySpec, SystemSpec
from dftflow.vasp.potcars import PotcarChoice, potcars_available
from dftflow.vasp.sets import Science, VaspInputs, make_inputs

BULK_LABEL = Step.BULK_RELAX.label()


O2_SYSTEM = "O2"  # the O2 molecule reference (formation_energy.o2_reference)


@dataclass(frozen=True)
class Calculation:
    label: str
    step: Step
    system: str | None  # system name; None for the bulk steps
    parent: str | None  # label of the calculation whose output (CONTCAR, WAVECAR) this one starts from
    requires: tuple[str, ...] = ()  # further calculations whose stored results this one reads

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


def oxygen_orbits(supercell: Structure) -> dict[str, int]:
    """Number of crystallographic orbits of each O label (s_x, s_y, s_z) in a cell."""
    from dftflow.sites import Framework

    counts: dict[str, set[int]] = {}
    for site in Framework(supercell).oxygen_sites():
        counts.setdefault(site.label, set()).add(site.orbit)
    return {label: len(orbits) for label, orbits in counts.items()}


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
        bulk_functional=spec.host.functional,
        bulk_cell=spec.host.cell,
    )


class Study:
    """A validated study: host, systems built on it, calculations and their input sets.

    `potcars`: "real" (PMG_VASP_PSP_DIR, error without it), "spec" (POTCAR.spec + ZVAL table) or
    "auto" (real when PMG_VASP_PSP_DIR is set).
    """

    def __init__(
        self, spec: StudySpec, potcars: str = "auto", host: Structure | None = None, host_provenance: dict | None = None
    ):
        if potcars not in ("auto", "real", "spec"):
            raise InputError(f"potcars must be auto, real or spec, got {potcars!r}")
        self.spec = spec
        self.real_potcars = potcars == "real" or (potcars == "auto" and potcars_available())
        self.science = science_from_spec(spec, self.real_potcars)
        if host is None:
            lattice = spec.host.lattice.model_dump() if spec.host.lattice else None
            path = spec.structure_path().resolve()
            host = load_host(path, lattice)
            host_provenance = {
                "source": "host file",
                "path": str(path),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "lattice": "published lattice from the study file" if lattice else "as in the file",
            }
        self.host = host
        self.host_provenance = host_provenance or {"source": "host structure given in code"}

    def to_dict(self) -> dict:
        """Self-contained form for a workflow: the validated spec and the host structure itself (the
        cluster running the workflow need not have the study's files)."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "host": self.host.as_dict(),
            "host_provenance": self.host_provenance,
        }

    @classmethod
    def from_dict(cls, data: dict, potcars: str = "auto") -> Study:
        from dftflow.study import study_from_dict

        spec = study_from_dict(data["spec"], source=None)
        host = data["host"]  # FireWorks already turns MSONable dicts back into objects
        host = host if isinstance(host, Structure) else Structure.from_dict(host)
        return cls(spec, potcars=potcars, host=host, host_provenance=data.get("host_provenance"))

    def spec_hash(self) -> str:
        """sha256 of the study's science (spec + host, not where the host file lies): the identity of its
        workflow."""
        import json

        science = {k: v for k, v in self.to_dict().items() if k != "host_provenance"}
        payload = json.dumps(science, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    @cached_property
    def systems(self) -> dict[str, tuple[SystemSpec, DefectCell]]:
        """System name -> (concrete spec, cell built on the unrelaxed host), pristine first. A study entry
        with several charges, orbits or spacings stands for one system each (SystemSpec.expand)."""
        out: dict[str, tuple[SystemSpec, DefectCell]] = {}
        self._origins: dict[str, tuple[int, dict]] = {}
        n_orbits = oxygen_orbits(make_supercell(self.host, self.spec.supercell))
        for index, entry in enumerate(self.spec.systems_with_pristine()):
            variants = entry.expand(n_orbits)
            for system, variant in variants:
                cell = build_system(self.host, self.spec, system)
                name = system_name(cell, system)
                if system.name and len(variants) > 1:
                    name = f"{system.name} {cell.descriptor} {charge_text(cell.charge)}"
                if name in out:
                    raise InputError(f"study {self.spec.name}: two systems are both named {name!r}; give one a name")
                out[name] = (system, cell)
                self._origins[name] = (index, variant)
        return out

    def origin(self, system: str) -> tuple[int, dict]:
        """(index of the study-file entry the system came from, what distinguishes it from its siblings)."""
        self.systems  # noqa: B018 - builds the origins
        return self._origins[system]

    @property
    def formation(self):
        return self.spec.formation_energy

    @property
    def lattice_source(self) -> str:
        """Which lattice the cells of this study sit in, in words stored with every result."""
        host = self.spec.host
        functional = host.functional or self.spec.functional.relax
        if host.cell == "fixed":
            given = "given in the study file" if host.lattice else "of the structure file"
            return f"fixed: the lattice {given}, positions relaxed with {functional} (ISIF 2)"
        start = " from the lattice given" if host.lattice else ""
        return f"relaxed with {functional} (ISIF 3){start}"

    @cached_property
    def references(self) -> dict[str, Structure]:
        """Reference systems computed beside the defect cells: the O2 molecule when the study asks for it."""
        return {O2_SYSTEM: o2_molecule()} if self.formation is not None and self.formation.o2_reference else {}

    @cached_property
    def calculations(self) -> list[Calculation]:
        calcs = [Calculation(BULK_LABEL, Step.BULK_RELAX, None, None)]
        if self.formation is not None and self.formation.dielectric == "compute":
            calcs.append(Calculation(Step.DIELECTRIC.label(), Step.DIELECTRIC, None, BULK_LABEL))
        pristine = next(iter(self.systems))
        for name, (system, _) in self.systems.items():
            relax = Calculation(Step.RELAX.label(name), Step.RELAX, name, BULK_LABEL)
            calcs.append(relax)
            if self.spec.functional.hybrid_relax:  # the statics start from the hybrid geometry
                relax = Calculation(Step.HSE_RELAX.label(name), Step.HSE_RELAX, name, relax.label)
                calcs.append(relax)
            static = Calculation(Step.HSE_STATIC.label(name), Step.HSE_STATIC, name, relax.label)
            calcs.append(static)
            if system.band_structure:
                calcs.append(Calculation(Step.HSE_BANDS.label(name), Step.HSE_BANDS, name, relax.label))
            if system.partial_charge and name != pristine:  # needs the pristine static to classify its states
                parchg = Step.HSE_PARCHG.label(name)
                calcs.append(
                    Calculation(parchg, Step.HSE_PARCHG, name, static.label, (Step.HSE_STATIC.label(pristine),))
                )
        for name in self.references:
            relax = Calculation(Step.RELAX.label(name), Step.RELAX, name, None)
            calcs += [relax, Calculation(Step.HSE_STATIC.label(name), Step.HSE_STATIC, name, relax.label)]
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

    def inputs(
        self, calc: Calculation, structure: Structure | None = None, note: str = "", incar: dict | None = None
    ) -> VaspInputs:
        """Input set of `calc` on `structure` (default: the unrelaxed host or the system built on it);
        `incar`: values only known when the step runs (IBAND of a partial-charge step)."""
        if calc.step.bulk:
            return make_inputs(calc.step, calc.label, structure or self.host, self.science, note=note)
        if calc.system in self.references:
            structure = structure or self.references[calc.system]
            return make_inputs(calc.step, calc.label, structure, self.science, note=note, molecule=True)
        system, cell = self.systems[calc.system]
        keep_wavecar = calc.step is Step.HSE_STATIC and system.partial_charge
        return make_inputs(
            calc.step,
            calc.label,
            structure or cell.structure,
            self.science,
            charge=cell.charge,
            seed_w=tuple(cell.seed_w),
            defect_electrons=cell.defect_electrons,
            note=note,
            extra={"LWAVE": True} if keep_wavecar else incar,
        )
