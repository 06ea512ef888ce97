"""What a study will cost before it is submitted: atoms, electrons, bands, k-points, relative cost.

The cost model is a scaling estimate per electronic (SCF) step, normalised to the bulk relax:
  semilocal:  N_k * N_bands^2 * N_pw              (orthonormalisation / subspace rotation)
  hybrid:     N_k * N_q * N_bands * N_occ * N_pw  (exact exchange: every listed k-point against every
                                                   q of the full SCF mesh, every band with every
                                                   occupied band)
with N_pw = V k_cut^3 / (6 pi^2), k_cut = sqrt(ENCUT / 3.81 eV A^2). It ranks steps; it does not
predict hours (that depends on the machine and on how many SCF and ionic steps a run needs). A
relaxation repeats its SCF at every ionic step: `ionic_steps_max` (NSW) and `relative_cost_max` bound it,
which is what makes a hybrid relaxation (functional.hybrid_relax) the most expensive step of a study.
"""

from __future__ import annotations

import math

import numpy as np

from dftflow.calculations import Study
from dftflow.vasp.kpoints import irreducible_kpoints, space_group
from dftflow.vasp.potcars import default_nbands

HBAR2_2M = 3.80998  # eV A^2


def plane_waves(volume: float, encut: float) -> float:
    return volume * (encut / HBAR2_2M) ** 1.5 / (6 * math.pi**2)


def plan_rows(study: Study) -> list[dict]:
    rows = []
    for calc in study.calculations:
        inputs = study.inputs(calc)
        incar, structure = inputs.incar, inputs.structure
        isym = int(incar.get("ISYM", 2))
        n_el = int(incar["NELECT"])
        nbands = int(incar.get("NBANDS") or default_nbands(n_el, len(structure)))
        if inputs.kpoints.style.name == "Reciprocal":
            weights = np.array(inputs.kpoints.kpts_weights)
            n_k, n_weighted = len(weights), int(np.count_nonzero(weights))
            n_full = int(sum(weights[weights > 0]))
        else:
            mesh = inputs.kpoints.kpts[0]
            style = "Gamma" if inputs.kpoints.style.name == "Gamma" else "Monkhorst-Pack"
            frac, weights = irreducible_kpoints(structure, mesh, style, isym)
            n_k = n_weighted = len(frac)
            n_full = int(np.prod(mesh))
        n_pw = plane_waves(structure.volume, float(incar["ENCUT"]))
        spins = 2 if int(incar.get("ISPIN", 1)) == 2 else 1
        if incar.get("LHFCALC"):
            cost = spins * n_k * n_full * nbands * (n_el / 2) * n_pw
        else:
            cost = spins * n_k * nbands**2 * n_pw
        rows.append(
            {
                "label": calc.label,
                "step": calc.step.value,
                "atoms": len(structure),
                "formula": structure.composition.formula.replace(" ", ""),
                "nelect": n_el,
                "nbands": nbands,
                "ispin": spins,
                "kpoints": n_k,
                "kpoints_weighted": n_weighted,
                "symmetry": "P1 (ISYM=0: time reversal only)" if isym == 0 else space_group(structure),
                "functional": functional_text(incar),
                "ionic_steps_max": ionic_steps(incar),
                "cost": cost,
            }
        )
    base = rows[0]["cost"]
    for row in rows:
        row["relative_cost"] = row.pop("cost") / base
        row["relative_cost_max"] = row["relative_cost"] * row["ionic_steps_max"]
    return rows


def ionic_steps(incar) -> int:
    """At most how many SCF cycles the run does: NSW for a relaxation (IBRION 1-3), else one."""
    relaxing = int(incar.get("IBRION", -1)) in (1, 2, 3) and int(incar.get("NSW", 0)) > 0
    return int(incar["NSW"]) if relaxing else 1


def functional_text(incar) -> str:
    gga = str(incar.get("GGA", "PE")).upper()
    if incar.get("LHFCALC"):
        return f"hybrid GGA={gga} AEXX={incar.get('AEXX', 0.25)} HFSCREEN={incar.get('HFSCREEN', 0.0)}"
    return {"PS": "PBEsol", "PE": "PBE"}.get(str(gga).upper(), f"GGA={gga}")
