"""Defect levels: states that split off from the host bands, placed against the PRISTINE band edges.

1. Locate the defect by matching the defect cell to the pristine supercell (locate.py).
2. Potential alignment: dV = mean over atoms far from the defect (the farther half) of
   V_core(defect cell) - V_core(pristine), from OUTCAR's "average (electrostatic) potential at core".
   The pristine VBM and CBM shifted by dV are the reference edges in the defect cell's energy scale.
3. A state (band, spin) is a defect state when its k-averaged energy lies inside the pristine gap
   (more than GAP_BUFFER from both reference edges: the host has no states there), or when it lies
   within MARGIN of the reference edges (states just below the CBM or above the VBM) and is localised
   on the defect: its weight on the defect shell (atoms within 3 A of a defect centre) is at least
   SHELL_ENHANCEMENT times the shell's share of the atoms. (Checked on GaN:Mg_Ga, where host states
   near the VBM carry at most 2.3 times the shell share and the acceptor states 2.9-3.4 times. The
   inverse participation ratio alone is not used to select: host band-edge states sampled on a few
   k-points can be as concentrated as a defect state, only elsewhere.)
4. For each: energy below the reference CBM and above the reference VBM, occupation, spin, IPR,
   shell weight, the atoms carrying it. A defect cell whose highest occupied state lies above the
   reference CBM is metallic (Fermi level in the conduction band).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dftflow.analysis.band_edges import best_edges
from dftflow.analysis.locate import defect_shell, distances_to_defects, locate_defects

MARGIN = 0.3  # eV beyond the reference edges still searched for split-off states
GAP_BUFFER = 0.1  # eV: a state this far inside both reference edges is in the gap
SHELL_ENHANCEMENT = 2.5
TOP_ATOMS = 5


@dataclass
class DefectState:
    band: int
    spin: int
    energy: float  # k-weighted mean, eV (defect cell's scale)
    dispersion: float  # max - min over k
    below_cbm: float  # reference CBM - energy
    above_vbm: float  # energy - reference VBM
    occupation: float  # k-weighted mean occupation of this spin channel (0..1)
    ipr: float
    shell_weight: float
    atoms: list[dict] = field(default_factory=list)  # [{"index", "species", "weight", "distance"}]


@dataclass
class DefectLevels:
    label: str
    defect: str  # e.g. "V_O", "2 x V_O", "H_i"
    alignment: float  # dV, eV
    alignment_spread: float  # std of the far-atom differences, eV
    reference_vbm: float
    reference_cbm: float
    gap: float  # Kohn-Sham gap of the defect cell
    highest_occupied: float
    metallic: bool
    states: list[DefectState] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def potential_alignment(defect_run, pristine_run, sites) -> tuple[float, float, list[str]]:
    v_def = defect_run.doc.get("output", {}).get("core_potentials") or []
    v_pri = pristine_run.doc.get("output", {}).get("core_potentials") or []
    if not v_def or not v_pri or not sites.pairs:
        return 0.0, 0.0, ["no core potentials: band edges not aligned (dV = 0)"]
    dist = distances_to_defects(defect_run.structure, sites.centers)
    pairs = [(i, j) for i, j in sites.pairs if i < len(v_def) and j < len(v_pri)]
    far = sorted(pairs, key=lambda p: -dist[p[0]])[: max(1, len(pairs) // 2)]
    diffs = np.array([v_def[i] - v_pri[j] for i, j in far])
    return float(diffs.mean()), float(diffs.std()), []


def defect_levels(defect_run, pristine_run) -> DefectLevels:
    sites = locate_defects(defect_run.structure, pristine_run.structure)
    dv, spread, notes = potential_alignment(defect_run, pristine_run, sites)
    ref = best_edges(pristine_run)
    vbm_ref, cbm_ref = ref.vbm + dv, ref.cbm + dv
    own = best_edges(defect_run)
    eig, occ, weights = defect_run.eigenvalues, defect_run.occupations, defect_run.weights
    use = weights > 0 if (weights > 0).any() else np.ones_like(weights, dtype=bool)
    w = weights[use] / weights[use].sum()
    mean_e = np.einsum("skb,k->sb", eig[:, use], w)
    mean_occ = np.einsum("skb,k->sb", occ[:, use], w)
    highest_occupied = float(eig[occ > 0.5].max()) if (occ > 0.5).any() else float("nan")
    levels = DefectLevels(
        label=defect_run.label,
        defect=sites.summary(),
        alignment=dv,
        alignment_spread=spread,
        reference_vbm=vbm_ref,
        reference_cbm=cbm_ref,
        gap=own.gap,
        highest_occupied=highest_occupied,
        metallic=bool(highest_occupied > cbm_ref + 0.05),
        notes=notes,
    )
    projections = defect_run.projections()
    if projections is None:
        levels.notes.append("no projections stored: localisation unknown, no defect states reported")
        return levels
    proj, first_band = projections
    shell = defect_shell(defect_run.structure, sites.centers)
    share = max(len(shell), 1) / len(defect_run.structure)
    dist = distances_to_defects(defect_run.structure, sites.centers)
    n_atoms = proj.shape[-1]
    for spin in range(eig.shape[0]):
        for b_local in range(proj.shape[2]):
            band = first_band + b_local
            energy = float(mean_e[spin, band])
            if not vbm_ref - MARGIN <= energy <= cbm_ref + MARGIN:
                continue
            atom_w = np.einsum("ka,k->a", proj[spin, use, b_local, :].astype(float), w)
            total = atom_w.sum()
            if total <= 0:
                continue
            atom_w = atom_w / total
            ipr = float(n_atoms * np.sum(atom_w**2))
            shell_weight = float(atom_w[shell].sum()) if shell else 0.0
            in_gap = vbm_ref + GAP_BUFFER < energy < cbm_ref - GAP_BUFFER
            if not in_gap and shell_weight < SHELL_ENHANCEMENT * share:
                continue
            top = np.argsort(-atom_w)[:TOP_ATOMS]
            levels.states.append(
                DefectState(
                    band=int(band),
                    spin=spin,
                    energy=energy,
                    dispersion=float(np.ptp(eig[spin, use, band])),
                    below_cbm=float(cbm_ref - energy),
                    above_vbm=float(energy - vbm_ref),
                    occupation=float(mean_occ[spin, band]),
                    ipr=ipr,
                    shell_weight=shell_weight,
                    atoms=[
                        {
                            "index": int(i),
                            "species": defect_run.structure[int(i)].specie.symbol,
                            "weight": float(atom_w[i]),
                            "distance": float(dist[i]),
                        }
                        for i in top
                    ],
                )
            )
    levels.states.sort(key=lambda s: s.energy)
    return levels
