"""Site energetics: relative energies of cells of the same composition, charge and size.

Relative energies: E(system) - min E over systems with the same composition, charge and supercell
(study K: V_O2+ at s_x, s_y, s_z, on each crystallographic orbit; two vacancy arrangements). Both the
PBEsol relax energies and the hybrid single points are given; the hybrid ones carry the approximation
"hybrid energy at the PBEsol geometry". Formation energies and transition levels: thermodynamics.py.
"""

from __future__ import annotations

from collections import Counter


def relative_energies(runs: list) -> list[dict]:
    """Rows {label, composition, charge, energy, relative} grouped by (formula, charge, nsites)."""
    groups: dict[tuple, list] = {}
    for run in runs:
        key = (run.task.formula_pretty, run.task.charge, run.task.nsites)
        groups.setdefault(key, []).append(run)
    rows = []
    for members in groups.values():
        lowest = min(r.task.output.energy for r in members)
        for r in members:
            rows.append(
                {
                    "task_label": r.label,
                    "composition_label": r.task.composition_label,
                    "defect": r.task.defect.descriptor if r.task.defect else None,
                    "charge": r.task.charge,
                    "energy": r.task.output.energy,
                    "relative": r.task.output.energy - lowest,
                    "executor": r.executor,
                    "functional": r.task.functional.label,
                }
            )
    return rows


def element_changes(defect_structure, pristine_structure) -> dict[str, int]:
    """Atoms added (+) or removed (-) per element, defect cell relative to the pristine cell."""
    diff = Counter(s.specie.symbol for s in defect_structure)
    diff.subtract(Counter(s.specie.symbol for s in pristine_structure))
    return {el: n for el, n in diff.items() if n}
