"""Analysis on real VASP outputs (tests/data/real_vasp): dftflow must read what VASP really writes."""

import warnings

import numpy as np
import pytest
from pymatgen.io.vasp import Vasprun

from dftflow.analysis.band_edges import run_band_edges
from dftflow.analysis.figure_data import band_panel
from dftflow.analysis.rundata import RunData
from dftflow.analysis.study_analysis import gap_row, k_name
from tests.conftest import REAL_VASP

GAN = REAL_VASP / "GaN_Mg_Ga_defect"


@pytest.fixture(scope="module")
def gan():
    bulk = RunData.from_directory(GAN / "bulk_sc")
    runs = {}
    for q in (-2, -1, 0, 1):
        run = RunData.from_directory(GAN / f"q={q}")
        run.doc["charge"] = q  # these runs were not made by dftflow: the charge comes from their folder name
        runs[q] = run
    return bulk, runs


def _pymatgen(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(str(path / "vasprun.xml.gz"), parse_potcar_file=False)


@pytest.mark.parametrize("folder", ["CeO2_hse06", "GaN_Mg_Ga_defect/bulk_sc"])
def test_band_edges_equal_pymatgen(folder):
    edges = run_band_edges(RunData.from_directory(REAL_VASP / folder))["all"]
    gap, cbm, vbm, direct = _pymatgen(REAL_VASP / folder).eigenvalue_band_properties
    assert (edges.gap, edges.cbm, edges.vbm, edges.is_direct) == (pytest.approx(gap), cbm, vbm, direct)
    assert not edges.is_metal


def test_hse_zero_weight_band_structure_parses_with_labels_and_gap():
    path = REAL_VASP / "Cs2SnI6_hse_bands"
    run = RunData.from_directory(path)
    assert (run.weights == 0).sum() == 60 and (run.weights > 0).sum() == 36
    edges = run_band_edges(run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bs = Vasprun(str(path / "vasprun.xml.gz"), parse_potcar_file=False).get_band_structure(
            str(path / "KPOINTS.gz"), line_mode=True
        )
    assert edges["path"].gap == pytest.approx(bs.get_band_gap()["energy"], abs=1e-6)
    panel = band_panel(run, None, "Cs2SnI6")
    labels = [lab for _, lab in panel["ticks"]]
    assert set(labels) & {"\\Gamma", "X", "L", "W"}
    assert np.all(np.diff(panel["distance"]) >= 0)
    row = gap_row("Cs2SnI6", run, run)  # the run's weighted points stand in for the static's mesh
    assert (row["vbm_k"], row["cbm_k"], row["direct"]) == ("Γ", "Γ", True)


def test_band_edge_off_the_labelled_points_is_named_by_its_coordinates():
    assert k_name("\\Gamma", [0, 0, 0]) == "Γ" == k_name("G", [0, 0, 0]) and k_name("X", [0.5, 0, 0]) == "X"
    assert k_name(None, [1e-6, 0.25, -1 / 3]) == "(0, 0.25, -0.333)"


def test_a_metallic_cells_band_figure_is_zeroed_at_the_gap_tables_highest_occupied_state():
    """No band of a metallic cell is filled at every k-point: zeroing at the filled bands would put the zero
    at the valence band and draw a gap the gap table does not have."""
    from types import SimpleNamespace

    run = RunData.from_directory(REAL_VASP / "Cs2SnI6_hse_bands")
    insulating = band_panel(run, None, "Cs2SnI6")
    above = insulating["zero"] + 1.0  # a Fermi level in the conduction band, as in a degenerate donor cell
    metallic = SimpleNamespace(highlighted=[], metallic=True, highest_occupied=above)
    assert band_panel(run, metallic, "Cs2SnI6")["zero"] == above
    gapped = SimpleNamespace(highlighted=[], metallic=False, highest_occupied=above)
    assert band_panel(run, gapped, "Cs2SnI6")["zero"] == insulating["zero"]
