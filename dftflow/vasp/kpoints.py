"""k-point meshes, irreducible k-point counts and zero-weight band-structure KPOINTS.

Irreducible points are reduced the way VASP will reduce them: with ISYM = 0 only time reversal
(k ~ -k) is used, otherwise spglib's space group of the cell at VASP's default SYMPREC (1e-5).

Band paths run through the time-reversal-invariant points of the SUPERCELL's reciprocal lattice
(labels of the primitive-orthorhombic path: X = b1/2, Y = b2/2, Z = b3/2, S, T, U, R their sums).
pymatgen's HighSymmKpath is not used here: it builds the path of the standard PRIMITIVE cell, which
for a 1x1x2 or 2x2x2 WO3 supercell is the unit cell's Brillouin zone, not the supercell's (it warns
"The input structure does not match the expected standard primitive"). For P2_1/n WO3 (beta ~ 90 deg)
these eight points are the high-symmetry points of the monoclinic zone.

The zero-weight list never repeats a point: VASP's hybrid code stops with "IBZKPT_HF: two k-points are
equivalent" when a point appears twice, so the default path visits every label once and any path or
mesh that would duplicate a point is refused with an explanation.
"""

from __future__ import annotations

import numpy as np
import spglib
from pymatgen.core import Structure
from pymatgen.io.vasp import Kpoints

from dftflow.errors import InputError

VASP_SYMPREC = 1e-5
STYLES = ("Monkhorst-Pack", "Gamma")
TRIM_POINTS = {
    "\\Gamma": (0.0, 0.0, 0.0),
    "X": (0.5, 0.0, 0.0),
    "Y": (0.0, 0.5, 0.0),
    "Z": (0.0, 0.0, 0.5),
    "S": (0.5, 0.5, 0.0),
    "T": (0.0, 0.5, 0.5),
    "U": (0.5, 0.0, 0.5),
    "R": (0.5, 0.5, 0.5),
}
# spellings of the zone centre in KPOINTS labels (ours, pymatgen's, other tools' and hand-written files)
GAMMA_LABELS = frozenset({"\\Gamma", "GAMMA", "G", "Γ"})
DEFAULT_PATH = (("Z", "\\Gamma", "X", "S", "Y", "T", "R", "U"),)
DEFAULT_LINE_DENSITY = 20.0  # points per inverse Angstrom along the path


def check_mesh(mesh, style: str) -> tuple[int, int, int]:
    if style not in STYLES:
        raise InputError(f"unknown k-point style {style!r}: use {' or '.join(STYLES)}")
    try:
        values = tuple(int(n) for n in mesh)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or any(n < 1 for n in values) or list(values) != [n for n in mesh]:
        raise InputError(f"k-point mesh must be three positive integers, got {mesh!r}")
    return values


def automatic_kpoints(mesh, style: str) -> Kpoints:
    mesh = check_mesh(mesh, style)
    if style == "Gamma":
        return Kpoints.gamma_automatic(mesh)
    return Kpoints.monkhorst_automatic(mesh)


def _shift(mesh, style: str) -> list[int]:
    """spglib half-step shift reproducing VASP's grids: MP shifts even divisions off Gamma."""
    return [1 if style == "Monkhorst-Pack" and n % 2 == 0 else 0 for n in mesh]


def irreducible_kpoints(structure: Structure, mesh, style: str, isym: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional coordinates and integer weights of the irreducible points VASP would use."""
    mesh = check_mesh(mesh, style)
    shift = _shift(mesh, style)
    if isym == 0:
        mapping, grid = spglib.get_stabilized_reciprocal_mesh(
            mesh, [np.eye(3, dtype="intc")], is_shift=shift, is_time_reversal=True
        )
    else:
        cell = (structure.lattice.matrix, structure.frac_coords, [s.specie.Z for s in structure])
        mapping, grid = spglib.get_ir_reciprocal_mesh(mesh, cell, is_shift=shift, symprec=VASP_SYMPREC)
    reps, weights = np.unique(mapping, return_counts=True)
    frac = (grid[reps] + np.asarray(shift) / 2.0) / np.asarray(mesh)
    frac -= np.round(frac)  # into [-0.5, 0.5)
    return frac, weights


def space_group(structure: Structure) -> str:
    """International symbol and number at VASP's SYMPREC, e.g. 'P2_1/c (14)'."""
    cell = (structure.lattice.matrix, structure.frac_coords, [s.specie.Z for s in structure])
    return spglib.get_spacegroup(cell, symprec=VASP_SYMPREC) or "P1 (1)"


def band_path_points(structure: Structure, path=DEFAULT_PATH, line_density: float = DEFAULT_LINE_DENSITY):
    """Points along the path (branches of labels), each junction once; returns (frac array, labels)."""
    reciprocal = structure.lattice.reciprocal_lattice.matrix
    points, labels = [], []
    for branch in path:
        unknown = [lab for lab in branch if lab not in TRIM_POINTS]
        if unknown:
            raise InputError(f"unknown band-path label(s) {unknown}: use {', '.join(TRIM_POINTS)}")
        for k, (start, end) in enumerate(zip(branch[:-1], branch[1:], strict=True)):
            a, b = np.array(TRIM_POINTS[start]), np.array(TRIM_POINTS[end])
            n = max(2, int(np.ceil(np.linalg.norm((b - a) @ reciprocal) * line_density)) + 1)
            for i in range(0 if k == 0 else 1, n):
                points.append(a + (b - a) * i / (n - 1))
                labels.append(start if i == 0 else end if i == n - 1 else None)
    return np.array(points), labels


def zero_weight_kpoints(
    structure: Structure,
    mesh,
    style: str,
    isym: int,
    path=DEFAULT_PATH,
    line_density: float = DEFAULT_LINE_DENSITY,
) -> Kpoints:
    """Explicit KPOINTS: weighted irreducible SCF points first, then the zero-weight labelled path."""
    weighted, weights = irreducible_kpoints(structure, mesh, style, isym)
    path_pts, path_labels = band_path_points(structure, path, line_density)
    all_pts = np.vstack([weighted, path_pts])
    duplicates = equivalent_pairs(all_pts)
    if duplicates:
        i, j = duplicates[0]
        which = "a point of the SCF mesh" if i < len(weighted) else "another path point"
        raise InputError(
            f"band path point {np.round(all_pts[j], 4).tolist()} ({path_labels[j - len(weighted)] or 'on a line'}) "
            f"repeats {which}; VASP's hybrid code stops on equivalent k-points (IBZKPT_HF). Use a "
            "Monkhorst-Pack SCF mesh with even divisions and a path that visits each label once"
        )
    return Kpoints(
        comment="Hybrid band structure: weighted SCF points, then zero-weight path (dftflow)",
        style=Kpoints.supported_modes.Reciprocal,
        num_kpts=len(all_pts),
        kpts=[tuple(float(x) for x in np.round(p, 12)) for p in all_pts],
        kpts_weights=[int(w) for w in weights] + [0] * len(path_pts),
        labels=[""] * len(weighted) + [label or "" for label in path_labels],  # pymatgen writes None as "None"
    )


def equivalent_pairs(points: np.ndarray, tol: float = 1e-6) -> list[tuple[int, int]]:
    """Pairs (i < j) of points equal modulo a reciprocal lattice vector, or related by k -> -k."""
    pairs = []
    for sign in (1, -1):
        diff = points[:, None, :] - sign * points[None, :, :]
        diff -= np.round(diff)
        close = np.all(np.abs(diff) < tol, axis=2)
        for i, j in zip(*np.nonzero(np.triu(close, 1)), strict=True):
            pairs.append((int(i), int(j)))
    return sorted(set(pairs), key=lambda p: (p[1], p[0]))
