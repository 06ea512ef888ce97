"""Charge states of a defect: finite-size corrections, formation energies and charge-transition levels.

    E_f(q, E_F) = E_defect(q) - E_pristine - sum_i n_i mu_i + q (E_VBM + E_F) + E_corr(q)

with n_i the atoms of element i added (removed: negative), mu_i absolute chemical potentials in the
hybrid's energy scale (given, or E(O2)/2 + dmu_O from the workflow's O2 reference), E_VBM the pristine
supercell's VBM over its SCF mesh and band path (the same reference edges as the defect levels), and
E_corr the finite-size correction of the charged cell through pymatgen-analysis-defects: eFNV
(Kumagai-Oba, from the OUTCAR atomic-site potentials, which needs no LOCPOT and takes the anisotropic
tensor) or Freysoldt (from the LOCPOT planar averages, with the mean of the tensor's diagonal). The
dielectric tensor is the static total eps_inf + eps_ion (relaxed geometries), given or computed.

A defect's charge states are the systems of one study-file entry that differ only in charge; the
transition level e(q/q') is the Fermi level where E_f(q) = E_f(q'), found on the lower envelope of the
E_f lines with pymatgen-analysis-defects' own get_lower_envelope / get_transitions. Transition levels do
not depend on the chemical potentials (they shift every charge state of a defect alike).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pymatgen.io.vasp.outputs import VolumetricData  # the class pymatgen-analysis-defects checks for

from dftflow.analysis.energetics import element_changes
from dftflow.analysis.locate import locate_defects


@dataclass
class ChargedCell:
    system: str
    label: str
    defect: str  # the defect's name without its charge, e.g. "V_O(s_z)"
    charge: int
    energy: float  # hybrid total energy of the cell, uncorrected
    correction: float
    correction_method: str  # efnv | freysoldt | none | "not applied: <why>"
    correction_parts: dict = field(default_factory=dict)  # e.g. point-charge and alignment terms
    element_changes: dict = field(default_factory=dict)
    executor: str = "vasp"


@dataclass
class FormationRow:
    defect: str
    system: str
    charge: int
    limit: str
    at_vbm: float  # E_f at E_F = 0 (the reference VBM)
    at_cbm: float  # E_f at E_F = reference gap
    correction: float
    corrected: bool
    executor: str


@dataclass
class TransitionLevel:
    defect: str
    transition: str  # "e(+2/+1)", "e(+1/0)"
    charges: tuple[int, int]
    above_vbm: float  # E_F of the transition, from the reference VBM
    below_cbm: float  # reference CBM - E_F
    executor: str
    measured_below_cbm: float | None = None  # an experimental level of this defect from the study file
    measured_source: str = ""


@dataclass
class DefectThermodynamics:
    vbm: float  # reference VBM (pristine scale) = E_F zero
    gap: float  # reference gap: the E_F range of the diagram
    dielectric: list | None
    dielectric_source: str
    limits: dict[str, dict[str, float]]  # name -> {element: absolute mu}
    limit_notes: list[str]
    cells: list[ChargedCell] = field(default_factory=list)
    formation: list[FormationRow] = field(default_factory=list)
    transitions: list[TransitionLevel] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self, defect: str, limit: str) -> list[tuple[int, float]]:
        """(charge, E_f at the VBM) of each charge state of a defect at a limit: the diagram's lines."""
        return [(r.charge, r.at_vbm) for r in self.formation if r.defect == defect and r.limit == limit]

    @property
    def defects(self) -> list[str]:
        return list(dict.fromkeys(c.defect for c in self.cells))


def dielectric_tensor(value, dielectric_run=None) -> tuple[np.ndarray | None, str]:
    """The 3x3 static dielectric tensor from the study file's `dielectric` (number, tensor, or "compute":
    the stored DFPT step's electronic + ionic total), and where it came from."""
    if value is None:
        return None, "none given: charged cells uncorrected"
    if value == "compute":
        if dielectric_run is None:
            return None, "the dielectric step has no stored result"
        tensors = dielectric_run.task.output.dielectric
        if not tensors:
            return None, f"'{dielectric_run.label}' stored no dielectric tensor"
        return np.array(tensors["total"], dtype=float), f"computed ({dielectric_run.label}: electronic + ionic)"
    if isinstance(value, int | float):
        return np.eye(3) * float(value), "given in the study file"
    return np.array(value, dtype=float), "given in the study file"


def chemical_potentials(spec, o2_run=None) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Absolute chemical potentials per limit: given in the study file, or E(O2)/2 of the stored O2
    reference plus each limit's dmu_O."""
    if spec.chemical_potentials is not None:
        return {k: dict(v) for k, v in spec.chemical_potentials.items()}, [
            "chemical potentials given in the study file"
        ]
    if o2_run is None:
        return {}, ["the O2 reference has no stored result: no formation energies"]
    mu_o = o2_run.task.output.energy / 2
    limits = {}
    for name, dmu in spec.limits.items():
        limits[name] = {el: (mu_o if el == "O" else 0.0) + d for el, d in dmu.items()}
    note = f"mu_O = E(O2)/2 + dmu_O with E(O2)/2 = {mu_o:.4f} eV from '{o2_run.label}'"
    return limits, [note]


def potential_structure(run):
    """The run's final structure with pydefect's site potentials (minus OUTCAR's potential at each core)."""
    potentials = run.task.output.core_potentials
    if len(potentials) != len(run.structure):
        return None
    return run.structure.copy(site_properties={"potential": [-float(p) for p in potentials]})


class PlanarAverages(VolumetricData):
    """The stored planar averages of a run's LOCPOT, handed to pymatgen-analysis-defects as the Locpot it
    came from. Its dict input would place the N averages on np.linspace(0, L, N), a grid of spacing
    L/(N - 1) (0.4 meV off its own Locpot result on the 2V_O q=+2 cell of tests/analysis); VASP's grid,
    and the Locpot path, is i L / N."""

    def __init__(self, structure, averages: dict):  # noqa: D107 (no 3D data: only what the correction reads)
        self.structure = structure
        self.averages = [np.asarray(averages[f"axis{i}"], dtype=float) for i in range(3)]
        self.dim = tuple(len(a) for a in self.averages)

    @classmethod
    def of(cls, run) -> PlanarAverages:
        arrays, _ = run.arrays["locpot"]
        return cls(run.structure, arrays)

    def get_average_along_axis(self, ind):
        return self.averages[ind]


def finite_size_correction(defect_run, pristine_run, charge: int, tensor, method: str) -> tuple[float, str, dict]:
    """(correction, method or why none, parts) of a charged cell through pymatgen-analysis-defects."""
    if charge == 0:
        return 0.0, "none needed (q = 0)", {}
    if tensor is None or method == "none":
        return 0.0, "not applied: no dielectric tensor" if tensor is None else "none (study choice)", {}
    if method == "efnv":
        defect, bulk = potential_structure(defect_run), potential_structure(pristine_run)
        if defect is None or bulk is None:
            return 0.0, "not applied: no OUTCAR site potentials", {}
        from pymatgen.analysis.defects.corrections.kumagai import get_efnv_correction

        # the defect position as pydefect finds it (its structure comparator), as pymatgen-analysis-defects does
        result = get_efnv_correction(charge, defect, bulk, tensor.tolist())
        efnv = result.metadata["efnv_corr"]
        parts = {
            "point_charge": float(efnv.point_charge_correction),
            "alignment": float(efnv.alignment_correction),
            "average_potential_difference": float(efnv.average_potential_diff),
            "defect_region_radius": float(efnv.defect_region_radius),
        }
        return float(result.correction_energy), "efnv", parts
    if "locpot" not in defect_run.arrays or "locpot" not in pristine_run.arrays:
        return 0.0, "not applied: no LOCPOT planar averages", {}
    centres = locate_defects(defect_run.structure, pristine_run.structure).centers
    centre = centres.mean(axis=0) if len(centres) else None
    from pymatgen.analysis.defects.corrections.freysoldt import get_freysoldt_correction

    scalar = float(np.mean(np.diag(tensor)))
    result = get_freysoldt_correction(
        charge, scalar, PlanarAverages.of(defect_run), PlanarAverages.of(pristine_run), defect_frac_coords=centre
    )
    return float(result.correction_energy), "freysoldt", {"dielectric (mean of the diagonal)": scalar}


def thermodynamics(
    families: dict[str, list[tuple[str, object]]],
    pristine,
    spec,
    measured,
    *,
    vbm,
    gap,
    tensor,
    tensor_source,
    limits,
    limit_notes,
) -> DefectThermodynamics:
    """Corrections, formation energies and transition levels of every defect; `families`: defect name ->
    [(system, hybrid static RunData)] of its charge states; vbm, gap: the reference edges (pristine scale)."""
    from pymatgen.analysis.defects.thermo import get_lower_envelope, get_transitions

    out = DefectThermodynamics(
        vbm, gap, None if tensor is None else tensor.tolist(), tensor_source, limits, list(limit_notes)
    )
    e_pristine = pristine.task.output.energy
    for defect, members in families.items():
        for system, run in members:
            charge = int(run.task.charge or 0)
            value, method, parts = finite_size_correction(run, pristine, charge, tensor, spec.correction)
            out.cells.append(
                ChargedCell(
                    system,
                    run.label,
                    defect,
                    charge,
                    run.task.output.energy,
                    value,
                    method,
                    parts,
                    element_changes(run.structure, pristine.structure),
                    run.executor,
                )
            )
    for cell in out.cells:
        for limit, mu in limits.items():
            missing = [el for el in cell.element_changes if el not in mu]
            if missing:
                note = f"{cell.system}: no chemical potential for {', '.join(missing)} at {limit}: left out"
                out.notes.append(note)
                continue
            base = cell.energy - e_pristine - sum(n * mu[el] for el, n in cell.element_changes.items())
            base += cell.charge * vbm + cell.correction
            corrected = cell.charge == 0 or not cell.correction_method.startswith(("not applied", "none ("))
            out.formation.append(
                FormationRow(
                    cell.defect,
                    cell.system,
                    cell.charge,
                    limit,
                    float(base),
                    float(base + cell.charge * gap),
                    cell.correction,
                    corrected,
                    cell.executor,
                )
            )
    any_limit = next(iter(limits), None)
    for defect in out.defects:
        lines = out.lines(defect, any_limit) if any_limit else []
        if len(lines) < 2:
            continue
        envelope = get_lower_envelope([(float(q), e) for q, e in lines])
        points = [x for x, _ in get_transitions(envelope, 0.0, gap)]
        executor = "mock" if any(c.executor == "mock" for c in out.cells if c.defect == defect) else "vasp"
        level = _measured(measured, defect)
        for left, x, right in zip(points[:-2], points[1:-1], points[2:], strict=True):
            q1, q2 = _lowest_charge(envelope, (left + x) / 2), _lowest_charge(envelope, (x + right) / 2)
            out.transitions.append(
                TransitionLevel(
                    defect,
                    f"e({_charge_text(q1)}/{_charge_text(q2)})",
                    (q1, q2),
                    float(x),
                    float(gap - x),
                    executor,
                    level.below_cbm if level else None,
                    _source(level),
                )
            )
        if len(points) == 2:
            out.notes.append(f"{defect}: one charge state is lowest across the whole gap: no transition level in it")
    return out


def _charge_text(q: int) -> str:
    """A charge as transition levels are written: +2, +1, 0, -1."""
    return f"{q:+d}" if q else "0"


def _lowest_charge(lines, fermi: float) -> int:
    """The charge state whose line is lowest at this Fermi level."""
    return int(round(min(lines, key=lambda line: line[0] * fermi + line[1])[0]))


def _measured(measured, defect: str):
    """The study file's measured level for this defect: matched on the family name ("WO2.938 V_O(s_z)"),
    its descriptor ("V_O(s_z)") or the defect type without site and count ("V_O")."""
    descriptor = defect.split()[-1] if defect.split() else defect
    base = descriptor.split("(")[0].lstrip("0123456789")
    return next((m for m in measured if m.defect in (defect, descriptor, base)), None)


def _source(level) -> str:
    if level is None:
        return ""
    return "; ".join(x for x in ("experiment", level.method, level.source) if x)
