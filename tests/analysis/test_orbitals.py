"""Orbital character and localisation measures, against doped's own function and constructed cases."""

import numpy as np
import pytest

from dftflow.analysis.orbitals import half_weight_radius, ipr, orbital_difference, participation, uniform_half_radius


def test_orbital_difference_is_dopeds_normalised_pydefect_difference():
    """doped (utils/eigenvalues.py, a function local to get_eigenvalue_analysis, which it also patches into
    pydefect) divides pydefect's orbital_diff, rounded to 3 decimals, by the reference's total weight;
    elements or l missing on one side count as zero."""
    state = {"W": [0.0, 0.012, 0.81, 0.0], "O": [0.004, 0.19, 0.0]}
    host = {"W": [0.0, 0.01, 0.85, 0.0], "O": [0.0, 0.15, 0.0, 0.0], "H": [0.02]}
    # W: 0.002 + 0.04; O: 0.004 + 0.04; H: 0.02 -> 0.106, over the host's total 0.86 + 0.15 + 0.02
    assert orbital_difference(state, host) == pytest.approx(0.106 / 1.03)
    assert orbital_difference(host, host) == 0.0


def test_localisation_measures_on_constructed_states():
    distances = np.array([1.9, 1.9, 3.8, 3.8, 3.8, 3.8, 5.0, 5.0])
    on_two = np.array([0.5, 0.5, 0, 0, 0, 0, 0, 0])
    uniform = np.ones(8)
    assert ipr(on_two) == pytest.approx(4.0) and ipr(uniform) == pytest.approx(1.0)
    assert participation(on_two, [0, 1]) == pytest.approx(1.0) and participation(uniform, [0, 1]) == 0.25
    assert half_weight_radius(on_two, distances) == pytest.approx(0.95)  # half of the first shell's weight
    # uniform: 2/8 inside 1.9 A, the 3.8 A shell holds 4/8: half is reached a quarter into it
    assert uniform_half_radius(distances) == pytest.approx(1.9 + 1.9 * 0.25 / 0.5)
