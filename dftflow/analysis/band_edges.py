"""Band edges and gaps: VBM, CBM, gap, direct or not, where in k-space, per spin; metals as metals.

The occupied/empty split follows pymatgen's Vasprun.eigenvalue_band_properties exactly (a state is
occupied when its occupation exceeds 1e-8; ties go to the first state in spin, k, band order), so the
numbers equal pymatgen's on the same run. On top of that: the k-point coordinates and labels of the
edges, the spin channel, the smallest direct gap, separate answers for the weighted (SCF) points and
the zero-weight path of a hybrid band-structure run (an extremum off the path is reported, not
hidden), and metal detection (a band that is occupied at some k-points and empty at others, or
overlapping edges).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

OCCU_TOL = 1e-8  # pymatgen's Vasprun.occu_tol


@dataclass
class BandEdges:
    vbm: float
    cbm: float
    gap: float
    is_direct: bool
    is_metal: bool
    vbm_kpoint: list[float]
    cbm_kpoint: list[float]
    vbm_label: str | None
    cbm_label: str | None
    vbm_spin: int  # 0 up, 1 down
    cbm_spin: int
    direct_gap: float  # smallest CBM(k) - VBM(k) over k (and spin)
    points: str  # which k-points: "all", "weighted", "path"

    def as_dict(self) -> dict:
        return asdict(self)


def band_edges(eig, occ, kpoints, labels=None, select=None, points="all", occupied=None, partial=None) -> BandEdges:
    """Edges of (spin, k, band) eigenvalues/occupations, optionally on a subset of k-points.

    `occupied` (spin, k, band) overrides the occupation rule (used for zero-weight k-points, whose
    occupations VASP derives from the mesh's Fermi level with smearing); `partial` then says whether a
    band is partly filled (a metal)."""
    eig, occ, kpoints = np.asarray(eig), np.asarray(occ), np.asarray(kpoints)
    labels = list(labels) if labels is not None else [None] * len(kpoints)
    if occupied is None:
        occupied = occ > OCCU_TOL
    if select is not None:
        idx = np.nonzero(select)[0]
        eig, occ, kpoints, labels = eig[:, idx], occ[:, idx], kpoints[idx], [labels[i] for i in idx]
        occupied = np.asarray(occupied)[:, idx]
    if not occupied.any() or occupied.all():
        raise ValueError("cannot place band edges: no empty or no occupied state")
    vbm = float(eig[occupied].max())
    cbm = float(eig[~occupied].min())
    s_v, k_v, _ = _first(np.argwhere(occupied & (eig == vbm)))
    s_c, k_c, _ = _first(np.argwhere(~occupied & (eig == cbm)))
    vbm_k = np.where(occupied, eig, -np.inf).max(axis=2)  # (spin, k)
    cbm_k = np.where(~occupied, eig, np.inf).min(axis=2)
    direct_gap = float(np.min(cbm_k - vbm_k))
    crossing = partial if partial is not None else np.any(_partially_filled(occ))
    return BandEdges(
        vbm=vbm,
        cbm=cbm,
        gap=max(cbm - vbm, 0.0),
        is_direct=bool(k_v == k_c),
        is_metal=bool(cbm <= vbm or crossing),
        vbm_kpoint=[float(x) for x in kpoints[k_v]],
        cbm_kpoint=[float(x) for x in kpoints[k_c]],
        vbm_label=labels[k_v],
        cbm_label=labels[k_c],
        vbm_spin=int(s_v),
        cbm_spin=int(s_c),
        direct_gap=direct_gap,
        points=points,
    )


def _first(indices: np.ndarray) -> tuple[int, int, int]:
    """First (spin, k, band) in C order (argwhere's order): pymatgen's strict-comparison loop keeps the
    first extremum it meets."""
    return tuple(int(x) for x in indices[0])


def _partially_filled(occ: np.ndarray) -> np.ndarray:
    """(spin, band) mask of bands whose occupation changes across k by more than half a state."""
    return (occ.max(axis=1) > 0.5) & (occ.min(axis=1) < 0.5)


def run_band_edges(run) -> dict[str, BandEdges]:
    """Edges of a RunData. A uniform run: "all" k-points, by pymatgen's occupation rule (same numbers as
    Vasprun.eigenvalue_band_properties). A hybrid zero-weight band-structure run: bands are classed
    occupied or empty by their occupation on the weighted (SCF) points, then "all", "weighted" and
    "path" edges follow, so an extremum that lies off the path is visible. (On the zero-weight points
    VASP derives occupations from the mesh's Fermi level with its smearing, so a conduction state can
    carry a small occupation there: the real Cs2SnI6 run shows 0.017, which the occupation rule would
    count as occupied, giving a 0.04 eV "gap" instead of pymatgen's band-structure gap of 0.71 eV.)"""
    eig, occ, kpts, weights = run.eigenvalues, run.occupations, run.kpoints, run.weights
    labels = run.kpoint_labels
    zero = weights == 0
    if not (zero.any() and (~zero).any()):
        return {"all": band_edges(eig, occ, kpts, labels, points="all")}
    mean_occ = occ[:, ~zero].mean(axis=1)  # (spin, band) on the mesh
    occupied = np.broadcast_to((mean_occ > 0.5)[:, None, :], eig.shape)
    partial = bool(np.any(_partially_filled(occ[:, ~zero])))
    kw = {"occupied": occupied, "partial": partial}
    return {
        "all": band_edges(eig, occ, kpts, labels, points="all", **kw),
        "weighted": band_edges(eig, occ, kpts, labels, select=~zero, points="weighted", **kw),
        "path": band_edges(eig, occ, kpts, labels, select=zero, points="path", **kw),
    }


def best_edges(run) -> BandEdges:
    """The band edges a table should quote: over every k-point the run has (path and mesh together)."""
    return run_band_edges(run)["all"]
