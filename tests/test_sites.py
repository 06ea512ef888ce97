from collections import Counter

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from dftflow.errors import InputError
from dftflow.sites import Framework, oxygen_sites


def test_unit_cell_has_eight_o_per_axis_in_two_orbits(host):
    sites = oxygen_sites(host)
    assert Counter(s.label for s in sites) == {"s_x": 8, "s_y": 8, "s_z": 8}
    assert Counter((s.label, s.orbit) for s in sites) == {(lab, o): 4 for lab in ("s_x", "s_y", "s_z") for o in (1, 2)}


def test_supercell_has_sixteen_o_per_axis(supercell_112):
    sites = oxygen_sites(supercell_112)
    assert Counter(s.label for s in sites) == {"s_x": 16, "s_y": 16, "s_z": 16}
    assert {s.orbit for s in sites} == {1, 2}  # a supercell of the same crystal keeps the two orbits per axis


def test_s_z_has_the_short_long_pattern_of_the_c_chains(host):
    for s in oxygen_sites(host):
        short, long_ = s.bond_lengths
        if s.label == "s_z":
            assert short == pytest.approx(1.77, abs=0.01)
            assert long_ == pytest.approx(2.07, abs=0.01)
            assert 164 < s.angle < 168
        else:  # a and b chains are more symmetric: 1.81-1.82 / 1.97-1.98
            assert 1.80 < short < 1.83 and 1.96 < long_ < 1.99


def _permuted(structure, order):
    """Same crystal with lattice vectors (and fractional coordinates) re-ordered: a' = old[order[0]] ..."""
    matrix = structure.lattice.matrix[list(order)]
    if np.linalg.det(matrix) < 0:  # keep a right-handed cell
        matrix = -matrix
    return Structure(Lattice(matrix), structure.species, structure.cart_coords, coords_are_cartesian=True)


@pytest.mark.parametrize("order", [(2, 0, 1), (1, 0, 2), (2, 1, 0)])
def test_labels_follow_permuted_axes(host, order):
    original = {s.index: s.label for s in oxygen_sites(host)}
    permuted = {s.index: s.label for s in oxygen_sites(_permuted(host, order))}
    axis_of = {"s_x": 0, "s_y": 1, "s_z": 2}
    for index, label in original.items():
        new_axis = order.index(axis_of[label])  # old axis k is now axis order.index(k)
        assert permuted[index] == ("s_x", "s_y", "s_z")[new_axis]


def test_other_cell_setting_keeps_chain_directions(host):
    """A sheared setting of the same lattice (c' = c + a) still finds each chain by direction."""
    m = host.lattice.matrix
    sheared = Structure(Lattice([m[0], m[1], m[2] + m[0]]), host.species, host.cart_coords, coords_are_cartesian=True)
    original = {s.index: s.label for s in oxygen_sites(host)}
    # c-chains make ~46 deg with c' = c + a and ~90 deg with a and b: still most nearly parallel to c'
    assert {s.index: s.label for s in oxygen_sites(sheared)} == original


def test_chain_walks_through_the_supercell(supercell_112):
    fw = Framework(supercell_112)
    s_z = next(s for s in fw.oxygen_sites() if s.label == "s_z")
    chain = fw.chain(s_z.index)
    assert len(chain) == 4  # two O per unit cell along c, two cells
    labels = {s.index: s.label for s in fw.oxygen_sites()}
    assert {labels[i] for i in chain} == {"s_z"}


def test_one_cavity_per_w_in_two_classes(host):
    cavities = Framework(host).cavities()
    assert len(cavities) == 8
    sizes = {c.size_class: round(c.nearest_o, 2) for c in cavities}
    assert sizes["large"] > sizes["small"]
    assert sizes["large"] == pytest.approx(2.40, abs=0.02)  # near (0, 1/4, 1/2), structures/README.md


def test_broken_framework_is_an_input_error():
    lone = Structure(Lattice.cubic(6.0), ["W", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(InputError, match="corner-sharing"):
        oxygen_sites(lone)
