"""Diagonalisation of the tight-binding Hamiltonian on a set of k-points, and what is kept of it.

Every k-point is independent, so they are solved by a small pool of threads (numpy's LAPACK calls
release the GIL; each thread runs single-threaded BLAS): `MOCK_VASP_THREADS` threads, by default as
many as the process may use, at most 2.  Results are collected in k order, so the numbers do not
depend on the number of threads.

What is kept per k-point depends on what the run needs:
* "vectors": the eigenvectors (complex64, or float32 at time-reversal-invariant k where H is real):
  weighted k-points of a run that needs forces, populations or spin splitting;
* "squares": only |c|^2 (float32): zero-weight k-points whose projections (LORBIT) or partial charge
  densities (LPARD) are written;
* "values": eigenvalues only (LAPACK's eigenvalue-only driver, about four times cheaper).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from mock_vasp.tight_binding import TightBinding


def worker_threads() -> int:
    """Threads that diagonalise k-points in parallel (MOCK_VASP_THREADS, default min(2, usable CPUs))."""
    value = os.environ.get("MOCK_VASP_THREADS")
    if value:
        return max(1, int(value))
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return max(1, min(2, usable))


def parallel_map(func, items, threads: int | None = None) -> list:
    """[func(x) for x in items] on a thread pool, results in input order."""
    items = list(items)
    threads = worker_threads() if threads is None else threads
    if threads <= 1 or len(items) <= 1:
        return [func(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(func, items))


@dataclass
class KBands:
    """Tight-binding eigenvalues on a k-point set and the eigenvector data kept for each point."""

    kpts: np.ndarray  # (nk, 3) fractional
    weights: np.ndarray  # (nk,)
    eigenvalues: np.ndarray  # (nk, n_tb), ascending
    vectors: list  # per k: (n_tb, n_tb) eigenvectors in columns, or None
    squares: list  # per k: (n_tb, n_tb) float32 |c|^2, or None

    def __len__(self) -> int:
        return len(self.kpts)

    def squares_at(self, ik: int) -> np.ndarray:
        """|c_{orbital, band}|^2 at k-point ik (float32)."""
        if self.squares[ik] is not None:
            return self.squares[ik]
        v = self.vectors[ik]
        if v is None:
            raise ValueError(f"no eigenvectors were kept at k-point {ik + 1}")
        return (v.real**2 + v.imag**2).astype(np.float32) if np.iscomplexobj(v) else (v * v).astype(np.float32)


def solve(tb: TightBinding, onsite: np.ndarray, kpts: np.ndarray, weights: np.ndarray, keep: list[str]) -> KBands:
    """Diagonalise H(k) at every k-point; `keep[ik]` is "vectors", "squares" or "values"."""
    kpts = np.asarray(kpts, float)

    def one(ik: int):
        h = tb.hamiltonian(kpts[ik], onsite)
        if keep[ik] == "values":
            return np.linalg.eigvalsh(h), None, None
        w, v = np.linalg.eigh(h)
        if keep[ik] == "squares":
            return w, None, (v.real**2 + v.imag**2).astype(np.float32)
        return w, v.astype(np.complex64 if np.iscomplexobj(v) else np.float32), None

    solved = parallel_map(one, range(len(kpts)))
    eig = np.array([s[0] for s in solved]).reshape(len(kpts), tb.basis.size)
    return KBands(kpts, np.asarray(weights, float), eig, [s[1] for s in solved], [s[2] for s in solved])


def density_matrix(vectors: np.ndarray, occupation: np.ndarray) -> np.ndarray:
    """rho = V f V^+ (orbital x orbital) in double precision from the kept eigenvectors."""
    keep = occupation > 1e-12
    v = vectors[:, keep]
    v = v.astype(np.complex128) if np.iscomplexobj(v) else v.astype(np.float64)
    return (v * occupation[keep][None, :]) @ v.conj().T
