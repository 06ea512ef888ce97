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

    Positions are wrapped into [0, 1) first so that the image range estimate holds.
    """
    frac = np.asarray(frac, float)
    wrapped = frac - np.floor(frac)
    shift = np.rint(frac - wrapped).astype(int)  # frac = wrapped + shift
    cart = wrapped @ lattice
    nmax = image_range(lattice, cutoff) + 1
    rng = [np.arange(-n, n + 1) for n in nmax]
    images = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    tvec = images @ lattice
    n = len(frac)
    ii, jj, tt, dd = [], [], [], []
    diff = cart[None, :, :] - cart[:, None, :]  # (i, j, 3)
    for t_idx in range(len(images)):
        dvec = diff + tvec[t_idx]
        r2 = np.einsum("ijk,ijk->ij", dvec, dvec)
        mask = r2 < cutoff * cutoff
        if np.all(images[t_idx] == 0):
            mask[np.arange(n), np.arange(n)] = False
        i_idx, j_idx = np.nonzero(mask)
        if len(i_idx) == 0:
            continue
        ii.append(i_idx)
        jj.append(j_idx)
        tt.append(np.repeat(images[t_idx][None, :], len(i_idx), axis=0))
        dd.append(dvec[i_idx, j_idx])
    if not ii:
        empty = np.zeros(0, int)
        return PairList(empty, empty, np.zeros((0, 3), int), np.zeros((0, 3)))
    i = np.concatenate(ii)
    j = np.concatenate(jj)
    image = np.concatenate(tt)
    # translate the image back to the unwrapped positions: r_j' + T' - r_i' with r = wrapped + shift
    image = image + shift[i] - shift[j]
    d = np.concatenate(dd)
    order = np.lexsort((image[:, 2], image[:, 1], image[:, 0], j, i))
    return PairList(i[order], j[order], image[order], d[order])


def unique_bonds(pairs: PairList) -> PairList:
    """Keep one direction of every bond (i < j, or i == j with the first nonzero T component > 0)."""
    t = pairs.image
    first_nz = np.where(t[:, 0] != 0, t[:, 0], np.where(t[:, 1] != 0, t[:, 1], t[:, 2]))
    keep = (pairs.i < pairs.j) | ((pairs.i == pairs.j) & (first_nz > 0))
    return pairs.select(keep)
