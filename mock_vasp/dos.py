"""Densities of states by Gaussian broadening of the eigenvalues (SIGMA) on NEDOS points.

The eigenvalues (weighted by k-point weight and, for the partial DOS, by their projections) are first
spread onto the energy grid by linear interpolation and then convolved with the normalised Gaussian
exp(-(E/SIGMA)^2) / (SIGMA sqrt(pi)) - the same broadening VASP uses for ISMEAR = 0 - so the DOS is
exactly zero in a gap wider than a few SIGMA.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve1d
from scipy.sparse import csr_matrix


def energy_grid(eigs: np.ndarray, nedos: int, sigma: float, emin=None, emax=None) -> np.ndarray:
    lo = float(eigs.min()) - 10 * sigma - 0.5 if emin is None else emin
    hi = float(eigs.max()) + 10 * sigma + 0.5 if emax is None else emax
    return np.linspace(lo, hi, max(nedos, 2))


def _spread_matrix(energies: np.ndarray, grid: np.ndarray, weights: np.ndarray) -> csr_matrix:
    """Sparse (n_grid, n_levels) matrix putting each weighted level on its two grid neighbours."""
    de = grid[1] - grid[0]
    pos = (energies - grid[0]) / de
    i0 = np.clip(np.floor(pos).astype(int), 0, len(grid) - 2)
    t = np.clip(pos - i0, 0.0, 1.0)
    n = len(energies)
    rows = np.concatenate([i0, i0 + 1])
    cols = np.concatenate([np.arange(n), np.arange(n)])
    vals = np.concatenate([(1 - t) * weights, t * weights]) / de
    return csr_matrix((vals, (rows, cols)), shape=(len(grid), n))


def _kernel(grid: np.ndarray, sigma: float) -> np.ndarray:
    de = grid[1] - grid[0]
    half = int(np.ceil(6 * sigma / de)) + 1
    x = np.arange(-half, half + 1) * de
    k = np.exp(-((x / sigma) ** 2))
    return k / k.sum()


def total_dos(eigs: np.ndarray, kweights: np.ndarray, grid: np.ndarray, sigma: float, degeneracy: float):
    """DOS (states/eV) and its integral for one spin channel; eigs (nk, nb)."""
    w = np.repeat(kweights[:, None], eigs.shape[1], axis=1).ravel() * degeneracy
    spread = _spread_matrix(eigs.ravel(), grid, w)
    dos = np.asarray(spread.sum(axis=1)).ravel()
    dos = convolve1d(dos, _kernel(grid, sigma), mode="constant")
    integrated = np.cumsum(dos) * (grid[1] - grid[0])
    return dos, integrated


def partial_dos(
    eigs: np.ndarray,
    kweights: np.ndarray,
    proj_at,
    grid: np.ndarray,
    sigma: float,
    degeneracy: float,
) -> np.ndarray:
    """Projected DOS (n_grid, natoms, 9) for one spin; proj_at(k) gives (nb, natoms, 9) at k-point k."""
    nk, nb = eigs.shape
    pd = None
    for k in range(nk):
        if kweights[k] <= 0:
            continue
        spread = _spread_matrix(eigs[k], grid, np.full(nb, kweights[k] * degeneracy))
        proj = proj_at(k)
        part = spread @ proj.reshape(nb, -1).astype(np.float64)
        pd = part if pd is None else pd + part
        na, nc = proj.shape[1], proj.shape[2]
    if pd is None:
        raise ValueError("no k-point with a nonzero weight")
    pd = convolve1d(np.asarray(pd), _kernel(grid, sigma), axis=0, mode="constant")
    return pd.reshape(len(grid), na, nc)
