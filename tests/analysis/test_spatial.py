"""The spatial analysis of a state on constructed cases with a known answer, and on real VASP states."""

import numpy as np
import pytest

from dftflow.analysis.spatial import extent
from dftflow.structures import make_supercell


@pytest.fixture(scope="module")
def cell(host):
    return make_supercell(host, (2, 2, 2))  # the 256-atom cell of study Y, about 14.7 x 15 x 15.2 A


def _w_where(cell, keep):
    w_idx = [i for i, s in enumerate(cell) if s.specie.symbol == "W"]
    weights = np.zeros(len(cell))
    chosen = [i for i in w_idx if keep(cell[i].frac_coords)]
    weights[chosen] = 1.0
    return weights, chosen


def _distances(cell, centre):
    return cell.lattice.get_all_distances(cell.frac_coords, [centre])[:, 0]


def _expected_rg(cell, chosen):
    r = cell.lattice.get_cartesian_coords(cell.frac_coords[chosen] - cell.frac_coords[chosen[0]])
    frac = cell.frac_coords[chosen] - cell.frac_coords[chosen[0]]
    r = cell.lattice.get_cartesian_coords(frac - np.round(frac))
    return float(np.sqrt(np.mean(np.sum((r - r.mean(axis=0)) ** 2, axis=1))))


def test_state_spread_evenly_over_the_w_of_one_plane(cell):
    z0 = min(cell[i].frac_coords[2] % 1 for i, s in enumerate(cell) if s.specie.symbol == "W")
    weights, chosen = _w_where(cell, lambda f: abs((f[2] - z0 + 0.5) % 1 - 0.5) < 0.05)
    assert len(chosen) == 16  # one (001) layer of W in the 2x2x2 cell holds 16 of its 64 W
    far = _distances(cell, [0.5, 0.5, z0 + 0.5])  # the defect half a cell away from the plane
    e = extent(weights, cell, far, unit_lattice=cell.lattice.matrix / 2)
    assert e.dimensionality == "plane" and e.miller == [0, 0, 1]
    assert e.radius_of_gyration == pytest.approx(_expected_rg(cell, chosen), rel=1e-6)
    assert e.n_half == 8 and e.spreads[2] < 0.1 * e.spreads[1]  # half of the plane's 16 W; only its buckling
    assert sum(w["weight"] for w in e.weights) == pytest.approx(1.0)


def test_state_on_a_single_w_and_along_one_chain(cell):
    single = np.zeros(len(cell))
    single[0] = 1.0
    e = extent(single, cell, _distances(cell, cell[0].frac_coords))
    assert e.dimensionality == "point-like" and e.radius_of_gyration == pytest.approx(0.0, abs=1e-9)
    assert e.n_half == 1
    x0, y0 = cell[0].frac_coords[:2]
    weights, chosen = _w_where(
        cell, lambda f: abs((f[0] - x0 + 0.5) % 1 - 0.5) < 0.05 and abs((f[1] - y0 + 0.5) % 1 - 0.5) < 0.05
    )
    chain = extent(weights, cell, _distances(cell, [x0 + 0.5, y0 + 0.5, 0]), unit_lattice=cell.lattice.matrix / 2)
    assert len(chosen) == 2 or chain.dimensionality in ("chain", "point-like")
    everywhere, _ = _w_where(cell, lambda f: True)
    assert extent(everywhere, cell, _distances(cell, [0, 0, 0])).dimensionality == "delocalised"


def test_real_states_compact_deep_level_and_a_cell_too_small_to_show_a_shape():
    """GaN V_N q=+1 (development set): a mid-gap Ga dangling-bond level with more than half its weight on
    the vacancy's Ga neighbours is point-like; the others, with less, cannot show a shape in a cell 5.2 A
    long along c (unresolved). GaN Mg_Ga q=0 (test set): its hole, a perturbed host state in PBEsol,
    spreads over the 32-atom cell (0.45 on Mg and its N): unresolved, not point-like."""
    from dftflow.analysis import band_edge_states as bes
    from dftflow.analysis.defect_levels import defect_levels
    from dftflow.analysis.locate import distances_to_defects, locate_defects
    from dftflow.analysis.rundata import RunData
    from tests.conftest import REAL_VASP

    vn = REAL_VASP / "GaN_V_N_defect"
    levels = defect_levels(RunData.from_directory(vn / "q=1"), RunData.from_directory(vn / "bulk"))
    deep = [lv for lv in levels.levels if lv.below_cbm > 1.0 and lv.above_vbm > 2.0]
    assert {lv.extent["dimensionality"] for lv in deep if lv.p_ratio >= 0.5} == {"point-like"}
    assert {lv.extent["dimensionality"] for lv in deep if lv.p_ratio < 0.5} <= {"unresolved"}
    mg = REAL_VASP / "GaN_Mg_Ga_defect"
    bulk, defect = RunData.from_directory(mg / "bulk_sc"), RunData.from_directory(mg / "q=0")
    hole = bes.state_weights(defect, 1, 138)
    dist = distances_to_defects(defect.structure, locate_defects(defect.structure, bulk.structure).centers)
    e = extent(hole, defect.structure, dist)
    assert e.dimensionality == "unresolved" and e.n_half > 2
    assert e.species_half == "atoms" and e.weights[0]["distance"] < 2.5  # heaviest on an N next to Mg
