"""Orbital character and localisation of Kohn-Sham states, from their PAW projections.

The measures are the ones pydefect (and doped, which uses pydefect's code) computes, so dftflow's
band-edge classification can be checked against them on the same files:

* orbital character (pydefect ``calc_orbital_character``): for each element, a state's projections summed
  over that element's atoms and over the m of each l, as [s, p, d, f], each rounded to 3 decimals;
* orbital difference (doped's normalised form of pydefect's ``orbital_diff``): the sum of |a - b| over
  elements and l, divided by the total weight of the reference b;
* P-ratio (pydefect ``calc_participation_ratio``): the share of a state's atom-projected weight that sits
  on the defect's neighbour atoms;
* half-weight radius: the distance from the defect centre within which half of a state's atom-projected
  weight lies, and the same for weight spread evenly over the atoms (the uniform reference). pydefect
  computes this from PARCHG files (half-charge radius); dftflow computes it from the atom projections
  that every run stores, which puts each atom's weight at its nucleus (see ``half_weight_radius``);
* IPR: N sum_i w_i^2 over normalised atom weights: 1 for a state spread evenly over the N atoms, N for one
  on a single atom.
"""

from __future__ import annotations

import numpy as np

L_NAMES = ("s", "p", "d", "f")


def orbital_character(orbitals: np.ndarray, elements: list[str]) -> dict[str, list[float]]:
    """{element: [s, p, d, f]} from one state's (element, 4) projection sums, rounded as pydefect does."""
    return {el: [round(float(x), 3) for x in orbitals[i]] for i, el in enumerate(elements)}


def orbital_difference(state: dict[str, list[float]], reference: dict[str, list[float]]) -> float:
    """doped's normalised pydefect orbital difference between a state and a reference (host edge) state."""
    total = sum(sum(v) for v in reference.values())
    diff = 0.0
    for el in set(state) | set(reference):
        a, b = state.get(el, []), reference.get(el, [])
        n = max(len(a), len(b))
        a, b = list(a) + [0.0] * (n - len(a)), list(b) + [0.0] * (n - len(b))
        diff += sum(abs(x - y) for x, y in zip(a, b, strict=True))
    return round(diff, 3) / total if total > 0 else float("inf")


def normalised(weights: np.ndarray) -> np.ndarray:
    total = float(np.sum(weights))
    return weights / total if total > 0 else np.zeros_like(weights, dtype=float)


def participation(weights: np.ndarray, atoms: list[int]) -> float:
    """pydefect's P-ratio: share of the atom weights on `atoms`."""
    return float(normalised(weights)[atoms].sum()) if atoms else 0.0


def ipr(weights: np.ndarray) -> float:
    w = normalised(weights)
    return float(len(w) * np.sum(w**2))


def half_weight_radius(weights: np.ndarray, distances: np.ndarray) -> float:
    """Distance from the defect centre within which half of the weight lies, interpolated linearly inside the
    shell that crosses one half (pydefect's rule for its radial bins, here with one shell per atom
    distance). Atom projections place each atom's weight at its nucleus, so a state on the first shell
    has the first shell's distance as its radius."""
    order = np.argsort(distances, kind="stable")
    d, w = np.asarray(distances, dtype=float)[order], normalised(np.asarray(weights, dtype=float))[order]
    shells, inverse = np.unique(np.round(d, 3), return_inverse=True)
    shell_w = np.bincount(inverse, weights=w)
    cumulative = np.cumsum(shell_w)
    i = int(np.searchsorted(cumulative, 0.5))
    i = min(i, len(shells) - 1)
    inner = shells[i - 1] if i > 0 else 0.0
    below = cumulative[i - 1] if i > 0 else 0.0
    return float(inner + (shells[i] - inner) * (0.5 - below) / shell_w[i]) if shell_w[i] > 0 else float(shells[i])


def uniform_half_radius(distances: np.ndarray) -> float:
    """The half-weight radius of weight spread evenly over the atoms."""
    return half_weight_radius(np.ones(len(distances)), distances)
