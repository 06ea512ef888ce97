"""Partial charge densities (PARCHG files, VASP's LPARD output) reduced to what a report draws.

For each PARCHG (one per band with LSEPB): its integrated charge, the share of it in each atom's
periodic Voronoi cell (every grid point assigned to its nearest atom: the weight per atom, W included),
and the density on the lattice plane through the defect that holds most of it (the slice figure). The
files themselves stay in the run directory for VESTA.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

PARCHG_NAME = re.compile(r"^PARCHG(\.(?P<band>\d+)\.(?P<k>ALLK|\d+))?(\.gz)?$")


def parchg_files(directory: Path) -> list[tuple[int | None, Path]]:
    """(band number or None for a summed PARCHG, path) of every PARCHG file in a run directory."""
    out = []
    for path in sorted(directory.iterdir()):
        match = PARCHG_NAME.match(path.name)
        if match and (match.group("k") in (None, "ALLK")):
            band = match.group("band")
            out.append((int(band) if band else None, path))
    return out


def voronoi_weights(density: np.ndarray, structure) -> np.ndarray:
    """Share of the grid's charge in each atom's periodic Voronoi cell (nearest atom by Cartesian distance)."""
    from scipy.spatial import cKDTree

    shape = density.shape
    grid = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    frac = (structure.frac_coords % 1.0)[None, :, :] + shifts[:, None, :]
    images = structure.lattice.get_cartesian_coords(frac.reshape(-1, 3))
    owner = cKDTree(images).query(structure.lattice.get_cartesian_coords(grid))[1] % len(structure)
    charge = np.bincount(owner, weights=density.reshape(-1), minlength=len(structure))
    total = charge.sum()
    return charge / total if total > 0 else charge


def _planes_through(density: np.ndarray, centre_frac) -> list[np.ndarray]:
    """The three lattice planes of the grid through `centre_frac` (normal a, b, c), each rolled so that the
    centre sits in the middle of the plane."""
    shape = np.array(density.shape)
    index = np.round(np.asarray(centre_frac) * shape).astype(int) % shape
    planes = []
    for normal in range(3):
        plane = np.take(density, index[normal], axis=normal)
        in_plane = [i for i in range(3) if i != normal]
        shifts = [shape[i] // 2 - index[i] for i in in_plane]
        planes.append(np.roll(plane, shifts, axis=(0, 1)))
    return planes


def parchg_arrays(directory: Path, centre_frac=None) -> dict | None:
    """Blob contents of a run's PARCHG files: bands, integrated charges, Voronoi weights per atom (band,
    atom), and one lattice plane through the defect per band (band, n1, n2), centred on the defect: of the
    three planes through it (normal a, b or c) the one holding most of the states' density, which for a
    vacancy is the plane of its W-V-W chain. None when the run wrote no PARCHG."""
    from pymatgen.io.vasp import Chgcar

    files = parchg_files(directory)
    if not files:
        return None
    centre = np.zeros(3) if centre_frac is None else np.asarray(centre_frac, dtype=float) % 1.0
    bands, charges, weights, planes, names = [], [], [], [], []
    structure = None
    for band, path in files:
        chg = Chgcar.from_file(str(path))
        structure = chg.structure
        density = np.asarray(chg.data["total"], dtype=float)  # rho * V, VASP's CHGCAR convention
        charges.append(float(density.sum() / density.size))
        weights.append(voronoi_weights(density, structure))
        planes.append([p / structure.volume for p in _planes_through(density, centre)])
        bands.append(-1 if band is None else band)
        names.append(path.name)
    # per plane: its mean density summed over the bands (planes of different grids compared fairly)
    normal = int(np.argmax([sum(float(p[n].mean()) for p in planes) for n in range(3)]))
    return {
        "arrays": {
            "bands": np.array(bands),
            "charge": np.array(charges),
            "weights": np.array(weights),
            "slices": np.array([p[normal] for p in planes]),
        },
        "meta": {
            "files": names,
            "slice_normal": "abc"[normal],
            "slice_centre": centre.tolist(),
            "defect_located": centre_frac is not None,
            "lattice": structure.lattice.matrix,
            "species": [s.specie.symbol for s in structure],
            "frac_coords": structure.frac_coords,
        },
    }
