"""Band occupations: Fermi level, smearing functions and smearing entropy as VASP uses them.

ISMEAR 0 (Gaussian), -1 (Fermi-Dirac), N >= 1 (Methfessel-Paxton of order N); ISMEAR -5 (tetrahedra)
is approximated by Gaussian smearing with SIGMA (documented in README).  When the electrons fill the
levels up to a clean gap, the Fermi level is put 6*SIGMA above the highest occupied level (or at
mid-gap for narrow gaps) so that the DOS vanishes at E-fermi, as tools that read the DOS expect.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfc

SQPI = math.sqrt(math.pi)


def occupation(x: np.ndarray, ismear: int) -> np.ndarray:
    """Occupation (0..1) of a level at x = (e - mu) / sigma."""
    if ismear == -1:
        return 0.5 * (1.0 - np.tanh(0.5 * np.clip(x, -200, 200)))
    f = 0.5 * erfc(x)
    if ismear >= 1:
        # Methfessel-Paxton: f = f0 + sum_n A_n H_{2n-1}(x) exp(-x^2), A_n = (-1)^n / (n! 4^n sqrt(pi))
        hermite = [np.ones_like(x), 2 * x]
        for m in range(1, 2 * ismear):
            hermite.append(2 * x * hermite[m] - 2 * m * hermite[m - 1])
        for n in range(1, ismear + 1):
            a_n = (-1) ** n / (math.factorial(n) * 4**n * SQPI)
            f = f + a_n * hermite[2 * n - 1] * np.exp(-x * x)
    return f


def entropy_term(x: np.ndarray, ismear: int) -> np.ndarray:
    """-S per level in units of sigma (so that -T*S = sigma * sum w * entropy_term)."""
    if ismear == -1:
        f = occupation(x, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = -(np.where(f > 0, f * np.log(f), 0) + np.where(f < 1, (1 - f) * np.log(1 - f), 0))
        return -s
    return -0.5 / SQPI * np.exp(-x * x)


def fermi_level(
    eigs: np.ndarray, weights: np.ndarray, nelect: float, sigma: float, ismear: int, capacity: float
) -> float:
    """Chemical potential giving `nelect` electrons; eigs (nk, nb), weights sum to 1."""
    flat = np.sort(eigs.ravel())
    w_sorted = np.repeat(weights[:, None], eigs.shape[1], axis=1).ravel()[np.argsort(eigs.ravel())]
    cum = np.cumsum(w_sorted) * capacity
    # clean gap test: is there an energy interval where the integer filling is exactly nelect?
    idx = int(np.searchsorted(cum, nelect - 1e-9))
    if idx + 1 < len(flat) and abs(cum[idx] - nelect) < 1e-8:
        homo, lumo = flat[idx], flat[idx + 1]
        gap = lumo - homo
        if gap > 1e-6:
            return float(homo + min(0.5 * gap, 6.0 * sigma))
    lo, hi = flat[0] - 10 * sigma - 1, flat[-1] + 10 * sigma + 1
    wk = weights[:, None]
    for _ in range(200):
        mu = 0.5 * (lo + hi)
        n = capacity * np.sum(wk * occupation((eigs - mu) / sigma, ismear))
        if n > nelect:
            hi = mu
        else:
            lo = mu
        if hi - lo < 1e-12:
            break
    return float(0.5 * (lo + hi))
