"""H in WO3 on mock-vasp (MODEL OUTPUT): relaxations stay bonded in every cell size, and the donor
physics is qualitatively that of HxWO3 (study Y): one H binds its electron in a state below the CBM
spread over many W, more H moves it toward the CB, x = 1/8 is metallic or nearly so.  H is placed by
dftflow's own recipe (bonded to an O, pointing into a cavity)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import BULK_RELAX, HYBRID_STATIC, bulk_structure, hydrogen_cell, run_mock, write_h_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

RELAX = dict(BULK_RELAX, ISIF=2, ISPIN=2, ISYM=0, LWAVE=False, LCHARG=False)


def _vasprun(d, projections=False):
    from pymatgen.io.vasp.outputs import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(d / "vasprun.xml", parse_projected_eigen=projections)


def _bonds(structure):
    """(O-H, nearest W-H, nearest H-H or inf) distances for every H."""
    out = []
    for i, site in enumerate(structure):
        if site.specie.symbol != "H":
            continue
        d = structure.distance_matrix[i]
        kinds = np.array([s.specie.symbol for s in structure])
        others = [j for j in range(len(structure)) if kinds[j] == "H" and j != i]
        out.append(
            (d[kinds == "O"].min(), d[kinds == "W"].min(), d[others].min() if others else np.inf),
        )
    return np.array(out)


@pytest.mark.parametrize(
    ("scaling", "count", "mesh", "nsw"),
    [
        ((1, 1, 1), 1, (2, 2, 2), 200),
        ((1, 1, 1), 4, (2, 2, 2), 200),
        ((1, 1, 2), 2, (2, 2, 1), 200),
        ((2, 2, 2), 8, (1, 1, 1), 6),
    ],
)
def test_h_relaxation_stays_bonded(tmp_path, scaling, count, mesh, nsw):
    """Full relaxations of 1 and 4 H in the 32-atom cell and 2 H in the 1x1x2 cell converge; the 264-atom
    cell with 8 H takes its first 6 steps (no runaway there either).  Every O-H bond stays 0.95-1.02 A,
    no H comes within 2 A of a W or 1.5 A of another H, and the energy goes down."""
    write_h_inputs(tmp_path, hydrogen_cell(scaling, count), dict(RELAX, NSW=nsw), ("gamma", mesh))
    assert run_mock(tmp_path, timeout=600).returncode == 0, (tmp_path / "vasp.out").read_text()[-1500:]
    v = _vasprun(tmp_path)
    bonds = _bonds(v.final_structure)
    assert len(bonds) == count
    assert np.all((bonds[:, 0] > 0.95) & (bonds[:, 0] < 1.02)), bonds
    assert np.all(bonds[:, 1] > 2.0) and np.all(bonds[:, 2] > 1.5), bonds
    assert v.final_energy < v.ionic_steps[0]["e_fr_energy"]
    if nsw == 200:
        assert v.converged_ionic and "reached required accuracy" in (tmp_path / "OUTCAR").read_text()


STATIC = dict(
    HYBRID_STATIC, ISTART=0, AEXX=0.25, GGA="PS", NEDOS=301, LORBIT=11, LVHAR=False, LCHARG=False, LWAVE=False
)
# Study Y's published cell (workflows/hxwo3_hydrogen.yaml, host.lattice): the TEST cell. The H well of
# params.yaml was tuned on 1 H in the input-CIF cell (another lattice); 4 H and 8 H were not looked at.
PUBLISHED = {"a": 7.35, "b": 7.505, "c": 7.705, "beta": 90.17}


@pytest.fixture(scope="module")
def h_series(tmp_path_factory):
    """HSEsol statics of the published 2x2x2 cell with 0, 1, 4, 8 H at the dftflow placement (unrelaxed),
    on study Y's own 4x4x4 Monkhorst-Pack mesh, classified by dftflow's defect-level analysis (the one
    `dftflow levels` runs) against the pristine cell."""
    from dftflow.analysis.defect_levels import defect_levels
    from dftflow.analysis.rundata import RunData
    from dftflow.structures import on_lattice

    host = on_lattice(bulk_structure(), **PUBLISHED)
    base = tmp_path_factory.mktemp("hseries")
    runs = {}
    for n in (0, 1, 4, 8):
        d = base / f"h{n}"
        structure = host * (2, 2, 2) if n == 0 else hydrogen_cell((2, 2, 2), n, host=host)
        write_h_inputs(d, structure, STATIC, ("monkhorst", (4, 4, 4)))
        assert run_mock(d, timeout=900).returncode == 0, (d / "vasp.out").read_text()[-1500:]
        runs[n] = RunData.from_directory(d)
    return {n: defect_levels(runs[n], runs[0]) for n in (1, 4, 8)}


def _shallowest_occupied(result):
    """The shallowest occupied localised level (what study Y's level-versus-x plots), or None."""
    occupied = [lv for lv in result.levels if lv.occupation > 0.1]
    return min(occupied, key=lambda lv: lv.below_cbm) if occupied else None


def test_one_h_binds_its_electron_in_a_w_5d_level_below_the_cbm(h_series):
    result = h_series[1]
    level = _shallowest_occupied(result)
    assert level is not None, result.perturbed_host  # a localised level, not an electron in the host CB
    assert level.below_cbm_min > 0.05 and level.below_cbm > 0.1  # below the aligned CBM at every k
    on = {}
    for atom in level.atoms:  # the atoms carrying most of it
        on[atom["species"]] = on.get(atom["species"], 0.0) + atom["weight"]
    assert on.get("W", 0.0) > max(on.get("H", 0.0), on.get("O", 0.0)), on  # mostly W 5d


def test_more_h_moves_the_level_to_the_cb_and_x_one_eighth_is_metallic(h_series):
    depth = {}
    for n, result in h_series.items():
        level = _shallowest_occupied(result)
        depth[n] = level.below_cbm if level is not None else 0.0
    assert depth[1] > depth[4] > depth[8], depth
    assert depth[8] < 0.05 and h_series[8].metallic, depth  # at the CBM: metallic
