"""k-point sets: automatic meshes reduced by symmetry (spglib) or time reversal, explicit lists.

Two sets are kept for every run: `report` (what VASP would list in IBZKPT / vasprun.xml, reduced with
the crystal symmetry when ISYM != 0) and `physics` (reduced by time reversal only, k ~ -k), on which
the Hamiltonian is solved.  Energies, forces and stresses computed on the time-reversal set are exact
for any crystal, so no force symmetrisation is needed; every reported point is mapped to a point of the
physics set with the same eigenvalues (k itself or -k).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_vasp.errors import VaspError
from mock_vasp.inputs import KpointsFile


@dataclass
class KpointSet:
    """Fractional k-points with weights summing to one (zero-weight points allowed)."""

    kpts: np.ndarray
    weights: np.ndarray
    labels: list[str | None] = field(default_factory=list)
    int_weights: np.ndarray | None = None  # multiplicities for IBZKPT

    def __len__(self) -> int:
        return len(self.kpts)


@dataclass
class KpointPlan:
    """What the run reports and what it solves, with the map between the two."""

    report: KpointSet
    physics: KpointSet
    report_to_physics: np.ndarray  # index into physics.kpts for each reported point
    mode: str
    mesh: tuple[int, int, int] | None = None
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    generation: str = "Reciprocal"
    full_mesh_size: int = 0
    ir_counts: dict = field(default_factory=dict)
    force: KpointSet | None = None  # cheaper set for the ionic steps of a relaxation (None: use physics)


def _wrap(k: np.ndarray) -> np.ndarray:
    """Map fractional coordinates into (-0.5, 0.5]."""
    w = k - np.round(k)
    w[np.isclose(w, -0.5, atol=1e-10)] = 0.5
    return w


def mesh_offsets(mode: str, mesh, shift) -> np.ndarray:
    """Grid offsets in units of one subdivision: MP shifts even meshes by half a step."""
    base = np.array([0.5 if (mode == "monkhorst" and n % 2 == 0) else 0.0 for n in mesh])
    return base + np.asarray(shift, float)


def full_mesh(mode: str, mesh, shift) -> tuple[np.ndarray, np.ndarray]:
    """All mesh points (x fastest, like VASP) and their offsets."""
    mesh = np.asarray(mesh, int)
    off = mesh_offsets(mode, mesh, shift)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in mesh], indexing="ij"), axis=-1)
    grid = grid.transpose(2, 1, 0, 3).reshape(-1, 3)  # x fastest
    return _wrap((grid + off) / mesh), off


def time_reversal_reduce(kpts: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of k ~ -k (first occurrence kept) and the representative index of every point."""
    reps: list[int] = []
    owner = np.empty(len(kpts), int)
    keys: dict = {}
    for idx, k in enumerate(kpts):
        key = tuple(np.round(_wrap(k.copy()) / tol).astype(np.int64))
        mkey = tuple(np.round(_wrap(-k.copy()) / tol).astype(np.int64))
        if key in keys:
            owner[idx] = keys[key]
        elif mkey in keys:
            owner[idx] = keys[mkey]
        else:
            keys[key] = len(reps)
            owner[idx] = len(reps)
            reps.append(idx)
    return np.array(reps, int), owner


def _symmetry_reduce(kfull, mesh, off, lattice, frac, types, symprec):
    """IBZ of the mesh with spglib; None when the mesh offset is not a half-integer grid shift."""
    import spglib

    twice = 2 * np.asarray(off)
    if not np.allclose(twice, np.round(twice)) or np.any(np.round(twice) % 2 > 1):
        return None
    is_shift = [int(round(x)) % 2 for x in twice]
    mapping, grid = spglib.get_ir_reciprocal_mesh(
        np.asarray(mesh, int),
        (lattice, frac, types),
        is_shift=is_shift,
        is_time_reversal=True,
        symprec=symprec,
    )
    # spglib's grid is also x fastest; map its representatives onto our ordering
    kspg = _wrap((grid + np.array(is_shift) / 2.0) / np.asarray(mesh))
    if not np.allclose(kspg, kfull, atol=1e-8):
        return None
    reps, first_pos = np.unique(mapping, return_index=True)
    order = np.argsort(first_pos)
    reps = reps[order]
    counts = np.array([np.sum(mapping == r) for r in reps])
    return reps, counts


def plan_kpoints(kfile: KpointsFile, lattice, frac, types, isym: int, symprec: float, lhfcalc: bool) -> KpointPlan:
    """Turn a KPOINTS file into the reported and solved k-point sets."""
    if kfile.mode in ("gamma", "monkhorst"):
        if any(n < 1 for n in kfile.mesh):
            raise VaspError("ERROR: KPOINTS subdivisions must be positive")
        kfull, off = full_mesh(kfile.mode, kfile.mesh, kfile.shift)
        tr_reps, tr_owner = time_reversal_reduce(kfull)
        tr_counts = np.bincount(tr_owner, minlength=len(tr_reps))
        physics = KpointSet(kfull[tr_reps], tr_counts / tr_counts.sum(), int_weights=tr_counts)
        sym = None
        if isym != 0:
            sym = _symmetry_reduce(kfull, kfile.mesh, off, lattice, frac, types, symprec)
        if sym is None:
            report = physics
            mapping = np.arange(len(tr_reps))
        else:
            reps, counts = sym
            report = KpointSet(kfull[reps], counts / counts.sum(), int_weights=counts)
            mapping = tr_owner[reps]
        return KpointPlan(
            report,
            physics,
            mapping,
            kfile.mode,
            tuple(kfile.mesh),
            tuple(kfile.shift),
            "Gamma" if kfile.mode == "gamma" else "Monkhorst-Pack",
            len(kfull),
        )
    if kfile.mode == "line":
        pts = kfile.kpts
        if kfile.cartesian:
            pts = pts @ np.asarray(lattice).T
        segs, labels = [], []
        for a in range(0, len(pts) - 1, 2):
            n = max(kfile.line_density, 2)
            t = np.linspace(0.0, 1.0, n)[:, None]
            segs.append(pts[a] + t * (pts[a + 1] - pts[a]))
            lab = [None] * n
            lab[0], lab[-1] = kfile.labels[a], kfile.labels[a + 1]
            labels.extend(lab)
        k = np.concatenate(segs)
        w = np.full(len(k), 1.0 / len(k))
        ks = KpointSet(k, w, labels, int_weights=np.ones(len(k), int))
        return KpointPlan(ks, ks, np.arange(len(k)), "line")
    pts = np.array(kfile.kpts, float)
    if kfile.cartesian:
        pts = pts @ np.asarray(lattice).T
    w = np.array(kfile.weights, float)
    if np.any(w < 0) or w.sum() <= 0:
        raise VaspError("ERROR: the k-point weights in KPOINTS must be >= 0 and not all zero")
    if lhfcalc:
        check_hf_duplicates(pts)
    ks = KpointSet(pts, w / w.sum(), list(kfile.labels), int_weights=w)
    return KpointPlan(ks, ks, np.arange(len(pts)), "explicit")


def force_mesh(plan: KpointPlan, lattice, min_length: float) -> KpointSet | None:
    """The cheaper k-set the ionic steps of a relaxation use (README, "Relaxation"), or None.

    A Gamma-centred mesh with half the subdivisions of the KPOINTS mesh (rounded up) but never fewer
    than min_length / |a_i| (a density floor, params.yaml relaxation.force_kpoint_length), reduced by
    time reversal; used only when it has fewer points than the set the KPOINTS mesh gives.  Subdivisions
    of 1 or 2 contain only time-reversal-invariant points, where the Hamiltonian is real.
    """
    if plan.mode not in ("gamma", "monkhorst"):
        return None
    lengths = np.linalg.norm(np.asarray(lattice, float), axis=1)
    mesh = tuple(
        max(1, -(-n // 2), int(np.ceil(min_length / a - 1e-9))) for n, a in zip(plan.mesh, lengths, strict=True)
    )
    kfull, _ = full_mesh("gamma", mesh, (0.0, 0.0, 0.0))
    reps, owner = time_reversal_reduce(kfull)
    if len(reps) >= len(plan.physics):
        return None
    counts = np.bincount(owner, minlength=len(reps))
    return KpointSet(kfull[reps], counts / counts.sum(), int_weights=counts)


def check_hf_duplicates(pts: np.ndarray, tol: float = 1e-6) -> None:
    """Hybrid runs refuse explicit lists with two points equal modulo a reciprocal lattice vector."""
    for a in range(len(pts)):
        diff = pts[a + 1 :] - pts[a]
        same = np.all(np.abs(diff - np.round(diff)) < tol, axis=1)
        if np.any(same):
            b = a + 1 + int(np.argmax(same))
            raise VaspError(
                f"IBZKPT_HF: two k-points are equivalent: k-point {a + 1} "
                f"({pts[a][0]:.6f} {pts[a][1]:.6f} {pts[a][2]:.6f}) and k-point {b + 1} "
                f"({pts[b][0]:.6f} {pts[b][1]:.6f} {pts[b][2]:.6f}) differ by a reciprocal lattice vector; "
                "hybrid functionals need a list without duplicates"
            )
