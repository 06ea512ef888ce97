from fractions import Fraction

import numpy as np
import pytest

from dftflow.defects import Hydrogen, Vacancy, build_defect_cell, composition_label
from dftflow.errors import InputError
from dftflow.sites import oxygen_sites


@pytest.mark.parametrize("site", ["s_x", "s_y", "s_z"])
def test_single_vacancy_removes_one_o_of_that_label(supercell_112, site):
    cell = build_defect_cell(supercell_112, [Vacancy(site)])
    assert cell.structure.composition.get_el_amt_dict() == {"W": 16, "O": 47}
    assert cell.charge == 2 and cell.defect_electrons == 0
    assert cell.composition == "WO2.938"
    assert cell.name == f"WO2.938 V_O({site}) q=+2"
    removed = cell.defect_sites[0]
    labels = {s.index: s.label for s in oxygen_sites(supercell_112)}
    assert labels[removed["host_index"]] == site
    assert len(cell.seed_w) == 2  # the two W of the broken chain


def test_orbit_choice(supercell_112):
    sites = {s.index: s for s in oxygen_sites(supercell_112)}
    cell = build_defect_cell(supercell_112, [Vacancy("s_z", orbit=2)])
    assert sites[cell.defect_sites[0]["host_index"]].orbit == 2
    with pytest.raises(InputError, match="no orbit 3"):
        build_defect_cell(supercell_112, [Vacancy("s_z", orbit=3)])


def _vacancy_distance(host, cell):
    a, b = (np.array(d["frac_coords"]) for d in cell.defect_sites)
    return host.lattice.get_all_distances([a], [b])[0, 0]


def test_two_vacancies_aligned_along_z(supercell_112):
    cell = build_defect_cell(supercell_112, [Vacancy("s_z", count=2, spacing="cell")])
    assert cell.composition == "WO2.875" and cell.charge == 4
    assert cell.name == "WO2.875 2V_O(s_z) q=+4"
    d = _vacancy_distance(supercell_112, cell)
    assert d == pytest.approx(supercell_112.lattice.c / 2, abs=0.1)  # one unit cell apart along the chain
    delta = np.subtract(*[np.array(x["frac_coords"]) for x in cell.defect_sites])
    delta -= np.round(delta)
    assert abs(delta[0]) < 0.02 and abs(delta[1]) < 0.02  # same chain: displaced along c only
    assert len(cell.seed_w) == 4


def test_neighbouring_vacancies_share_a_w(supercell_112):
    cell = build_defect_cell(supercell_112, [Vacancy("s_z", count=2, spacing="neighbour")])
    assert _vacancy_distance(supercell_112, cell) == pytest.approx(3.85, abs=0.15)
    assert len(cell.seed_w) == 3


def test_more_vacancies_than_chain_sites_is_refused(supercell_112):
    with pytest.raises(InputError, match="at most 2"):
        build_defect_cell(supercell_112, [Vacancy("s_z", count=3, spacing="cell")])
    with pytest.raises(InputError, match="at most 4"):
        build_defect_cell(supercell_112, [Vacancy("s_z", count=5, spacing="neighbour")])


def test_unknown_site_label(supercell_112):
    with pytest.raises(InputError, match="unknown site label 's_w'"):
        build_defect_cell(supercell_112, [Vacancy("s_w")])


def _h_geometry(structure):
    h_idx = [i for i, s in enumerate(structure) if s.specie.symbol == "H"]
    dm = structure.distance_matrix
    rows = []
    for h in h_idx:
        d = dm[h].copy()
        d[h] = np.inf
        order = np.argsort(d)
        rows.append((structure[order[0]].specie.symbol, d[order[0]], d[order[1]]))
    hh = dm[np.ix_(h_idx, h_idx)] + np.eye(len(h_idx)) * 1e9
    return rows, (hh.min() if len(h_idx) > 1 else None)


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_inserted_h_geometry(supercell_222, n):
    cell = build_defect_cell(supercell_222, [Hydrogen(x=Fraction(n, 64))])
    assert cell.structure.composition["H"] == n
    assert cell.charge == 0 and cell.defect_electrons == n
    rows, min_hh = _h_geometry(cell.structure)
    for nearest, d_oh, d_next in rows:
        assert nearest == "O"
        assert d_oh == pytest.approx(0.98, abs=0.02)
        assert d_next > 1.5
    if n == 8:
        # evenly spread: one H per unit cell, every H the same distance (a = 7.36 A) from its nearest H
        print(f"minimum H-H distance for 8 H in 2x2x2: {min_hh:.3f} A")
        assert min_hh == pytest.approx(supercell_222.lattice.a / 2, abs=0.05)
    if n == 4:
        assert min_hh > 10.0  # an fcc-like arrangement, not four H in one plane


def test_h_labels_follow_the_paper(supercell_222):
    names = [build_defect_cell(supercell_222, [Hydrogen(x=Fraction(n, 64))]).composition for n in (1, 2, 4, 8)]
    assert names == ["H0.0156WO3", "H0.0313WO3", "H0.0625WO3", "H0.125WO3"]


def test_h_placement_is_deterministic(supercell_222):
    a = build_defect_cell(supercell_222, [Hydrogen(count=4)]).structure
    b = build_defect_cell(supercell_222, [Hydrogen(count=4)]).structure
    assert np.allclose(a.cart_coords, b.cart_coords)


def test_h_on_a_chosen_oxygen_type_and_at_cavity_centres(supercell_222):
    labels = {s.index: s.label for s in oxygen_sites(supercell_222)}
    cell = build_defect_cell(supercell_222, [Hydrogen(count=2, oxygen_site="s_x")])
    assert all(labels[d["bonded_o"]] == "s_x" for d in cell.defect_sites)
    centred = build_defect_cell(supercell_222, [Hydrogen(count=1, placement="cavity")])
    rows, _ = _h_geometry(centred.structure)
    assert rows[0][1] == pytest.approx(2.40, abs=0.05)  # the large cavity's radius


def test_unrepresentable_h_concentration_lists_the_possible_values(supercell_222):
    with pytest.raises(InputError) as err:
        build_defect_cell(supercell_222, [Hydrogen(x=Fraction(1, 3))])
    assert "k/64" in str(err.value) and "1/64" in str(err.value)
    with pytest.raises(InputError, match="cannot be represented"):
        build_defect_cell(supercell_222, [Hydrogen(x=Fraction(40, 64))])


def test_vacancy_plus_hydrogen_and_charge_override(supercell_112):
    cell = build_defect_cell(supercell_112, [Vacancy("s_z"), Hydrogen(count=1)], charge=1)
    assert cell.charge == 1
    assert cell.defect_electrons == 2 + 1 - 1
    assert cell.composition == "H0.0625WO2.938"


def test_composition_label_rounds_half_up(supercell_112):
    """Ratios exactly half-way between two printed values round up, as the papers write them: W16O45
    (45/16 = 2.8125) is WO2.813 and H2 in 64 W (2/64 = 0.03125) is H0.0313WO3, where rounding half to even
    would give WO2.812 and H0.0312WO3."""
    from pymatgen.core import Lattice, Structure

    def cell(n_w, n_o, n_h=0):
        species = ["W"] * n_w + ["O"] * n_o + ["H"] * n_h
        coords = [[i / len(species), 0, 0] for i in range(len(species))]
        return Structure(Lattice.cubic(3.0 * len(species)), species, coords)

    assert composition_label(supercell_112) == "WO3"
    assert composition_label(cell(16, 45)) == "WO2.813"
    assert composition_label(cell(64, 192, 2)) == "H0.0313WO3"
    assert composition_label(cell(16, 47)) == "WO2.938"  # study K's one-vacancy cell
