"""Periodic neighbour lists: every pair of atoms (and lattice image) closer than a cutoff."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PairList:
    """Ordered pairs i -> j + T with bond vectors d = r_j + T.L - r_i (Cartesian, Angstrom)."""

    i: np.ndarray
    j: np.ndarray
    image: np.ndarray  # integer lattice translation T of atom j, shape (n, 3)
    d: np.ndarray  # bond vectors, shape (n, 3)

    @property
    def r(self) -> np.ndarray:
        return np.linalg.norm(self.d, axis=1)

    def select(self, mask: np.ndarray) -> PairList:
        return PairList(self.i[mask], self.j[mask], self.image[mask], self.d[mask])


def image_range(lattice: np.ndarray, cutoff: float) -> np.ndarray:
    """How many lattice images per direction can hold a neighbour within `cutoff`."""
    recip = np.linalg.inv(lattice).T  # rows b_i with a_i.b_j = delta_ij
    return np.ceil(cutoff * np.linalg.norm(recip, axis=1)).astype(int)


def all_pairs(lattice: np.ndarray, frac: np.ndarray, cutoff: float) -> PairList:
    """All ordered pairs (i, j, T), i != j or T != 0, with |d| < cutoff.

    Positions are wrapped into [0, 1) first so that the image range estimate holds.  The candidate
    pairs come from a k-d tree over the periodic images (scipy's cKDTree), so the cost grows with the
    number of pairs rather than with N^2 x images; the order (i, j, T) and the bond vectors
    d = (r_j - r_i) + T.L are the same as a brute-force loop over images would give.
    """
    from scipy.spatial import cKDTree

    lattice = np.asarray(lattice, float)
    frac = np.asarray(frac, float)
    wrapped = frac - np.floor(frac)
    shift = np.rint(frac - wrapped).astype(int)  # frac = wrapped + shift
    cart = wrapped @ lattice
    nmax = image_range(lattice, cutoff) + 1
    rng = [np.arange(-n, n + 1) for n in nmax]
    images = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    tvec = images @ lattice
    n = len(frac)
    image_points = (cart[None, :, :] + tvec[:, None, :]).reshape(-1, 3)  # (t, j) flattened
    found = cKDTree(cart).sparse_distance_matrix(
        cKDTree(image_points), cutoff * (1 + 1e-9) + 1e-9, output_type="ndarray"
    )
    i = found["i"].astype(int)
    t_idx, j = np.divmod(found["j"].astype(int), n)
    d = (cart[j] - cart[i]) + tvec[t_idx]
    keep = (np.einsum("ij,ij->i", d, d) < cutoff * cutoff) & ~((i == j) & np.all(images[t_idx] == 0, axis=1))
    i, j, t_idx, d = i[keep], j[keep], t_idx[keep], d[keep]
    if len(i) == 0:
        empty = np.zeros(0, int)
        return PairList(empty, empty, np.zeros((0, 3), int), np.zeros((0, 3)))
    # translate the image back to the unwrapped positions: r_j' + T' - r_i' with r = wrapped + shift
    image = images[t_idx] + shift[i] - shift[j]
    order = np.lexsort((image[:, 2], image[:, 1], image[:, 0], j, i))
    return PairList(i[order], j[order], image[order], d[order])


_CACHE: dict = {}


def pairs_within(lattice: np.ndarray, frac: np.ndarray, cutoff: float) -> PairList:
    """`all_pairs` through a one-geometry cache: the model asks for several cutoffs per geometry."""
    key = (np.asarray(lattice, float).tobytes(), np.asarray(frac, float).tobytes())
    hit = _CACHE.get("entry")
    if hit is None or hit[0] != key or hit[1] < cutoff:
        hit = (key, cutoff, all_pairs(lattice, frac, cutoff))
        _CACHE["entry"] = hit
    pairs = hit[2]
    return pairs if hit[1] == cutoff else pairs.select(pairs.r < cutoff)


def unique_bonds(pairs: PairList) -> PairList:
    """Keep one direction of every bond (i < j, or i == j with the first nonzero T component > 0)."""
    t = pairs.image
    first_nz = np.where(t[:, 0] != 0, t[:, 0], np.where(t[:, 1] != 0, t[:, 1], t[:, 2]))
    keep = (pairs.i < pairs.j) | ((pairs.i == pairs.j) & (first_nz > 0))
    return pairs.select(keep)
