"""Site energetics and formation energies.

Relative energies: E(system) - min E over systems with the same composition, charge and supercell
(study K: V_O2+ at s_x, s_y, s_z). Both the PBEsol relax energies and the hybrid single points are
given; the hybrid ones carry the approximation "hybrid energy at the PBEsol geometry".

Formation energies (when the study gives chemical potentials):
    E_f(q, E_F) = E_defect - E_pristine - sum_i n_i mu_i + q (E_VBM + E_F) + E_corr
with n_i = atoms of element i added (removed: negative), mu_i absolute chemical potentials in the
same functional's energy scale, E_VBM the pristine VBM, and E_corr the Freysoldt (FNV) correction
from pymatgen-analysis-defects when a dielectric constant is given (from the planar-averaged LOCPOTs
stored with each run), otherwise 0 (reported as uncorrected).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from dftflow.analysis.band_edges import best_edges


@dataclass
class FormationEnergy:
    label: str
    charge: int
    limit: str  # name of the chemical-potential set
    at_vbm: float  # E_f at E_F = 0 (the pristine VBM)
    at_cbm: float  # E_f at E_F = gap
    correction: float
    corrected: bool
    element_changes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def relative_energies(runs: list) -> list[dict]:
    """Rows {label, composition, charge, energy, relative} grouped by (formula, charge, nsites)."""
    groups: dict[tuple, list] = {}
    for run in runs:
        key = (run.doc.get("formula"), run.doc.get("charge"), run.doc.get("nsites"))
        groups.setdefault(key, []).append(run)
    rows = []
    for members in groups.values():
        lowest = min(r.doc["output"]["energy"] for r in members)
        for r in members:
            rows.append(
                {
                    "task_label": r.label,
                    "composition_label": r.doc.get("composition_label"),
                    "defect": (r.doc.get("defect") or {}).get("descriptor"),
                    "charge": r.doc.get("charge"),
                    "energy": r.doc["output"]["energy"],
                    "relative": r.doc["output"]["energy"] - lowest,
                    "executor": r.executor,
                    "functional": (r.doc.get("functional") or {}).get("label"),
                }
            )
    return rows


def element_changes(defect_structure, pristine_structure) -> dict[str, int]:
    """Atoms added (+) or removed (-) per element, defect cell relative to the pristine cell."""
    diff = Counter(s.specie.symbol for s in defect_structure)
    diff.subtract(Counter(s.specie.symbol for s in pristine_structure))
    return {el: n for el, n in diff.items() if n}


def freysoldt_correction(defect_run, pristine_run, charge: int, dielectric, defect_frac_coords) -> float | None:
    """FNV correction via pymatgen-analysis-defects from stored planar-averaged LOCPOTs, or None."""
    if not charge or dielectric is None:
        return 0.0 if not charge else None
    if "locpot" not in defect_run.arrays or "locpot" not in pristine_run.arrays:
        return None
    from pymatgen.analysis.defects.corrections.freysoldt import get_freysoldt_correction

    def planar(run):
        arrays, _ = run.arrays["locpot"]
        return {i: arrays[f"axis{i}"] for i in range(3)}

    result = get_freysoldt_correction(
        charge,
        dielectric,
        planar(defect_run),
        planar(pristine_run),
        defect_frac_coords=defect_frac_coords,
        lattice=defect_run.structure.lattice,
    )
    return float(result.correction_energy)


def formation_energies(
    defect_runs: list,
    pristine_run,
    chemical_potentials: dict[str, dict[str, float]],
    dielectric=None,
    skipped: list | None = None,
) -> list[FormationEnergy]:
    """Formation energies of every defect run at every chemical-potential limit. A run that exchanges an
    element the limits give no chemical potential for is left out and named in `skipped`."""
    from dftflow.analysis.locate import locate_defects

    edges = best_edges(pristine_run)
    e_pristine = pristine_run.doc["output"]["energy"]
    out = []
    for run in defect_runs:
        charge = int(run.doc.get("charge") or 0)
        changes = element_changes(run.structure, pristine_run.structure)
        centers = locate_defects(run.structure, pristine_run.structure).centers
        frac = centers.mean(axis=0) if len(centers) else None
        correction = freysoldt_correction(run, pristine_run, charge, dielectric, frac)
        missing = sorted({el for mu in chemical_potentials.values() for el in changes if el not in mu})
        if missing:
            if skipped is not None:
                skipped.append(f"{run.label}: no chemical potential for {', '.join(missing)}")
            continue
        for limit, mu in chemical_potentials.items():
            base = run.doc["output"]["energy"] - e_pristine - sum(n * mu[el] for el, n in changes.items())
            base += charge * edges.vbm + (correction or 0.0)
            out.append(
                FormationEnergy(
                    label=run.label,
                    charge=charge,
                    limit=limit,
                    at_vbm=float(base),
                    at_cbm=float(base + charge * edges.gap),
                    correction=float(correction or 0.0),
                    corrected=correction is not None and bool(charge),
                    element_changes=changes,
                )
            )
    return out


def formation_energy_line(entry: FormationEnergy, gap: float, points: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """E_f versus E_F across the gap (a straight line of slope q)."""
    fermi = np.linspace(0.0, gap, points)
    return fermi, entry.at_vbm + entry.charge * fermi
