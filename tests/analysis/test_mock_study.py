"""Analysis of whole mock-vasp studies through the results database: the report's tables and figures
show what the papers' tables and figures show (as model output), and agree with each other."""

import json
import warnings

import pytest

from tests.conftest import TEST_STUDIES, dftflow, guarded_env

VO_SZ = "WO2.875 V_O(s_z) q=+2"


def _run(tmp_path_factory, study: str):
    base = tmp_path_factory.mktemp(study)
    out = dftflow("run", TEST_STUDIES / f"{study}.yaml", "--workdir", base / "wd", env=guarded_env(base))
    assert out.returncode == 0, out.stdout + out.stderr
    return base / "wd"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return _run(tmp_path_factory, "analysis")


@pytest.fixture(scope="module")
def report(workdir):
    return workdir / "reports/analysis_demo"


@pytest.fixture(scope="module")
def hydrogen(tmp_path_factory):
    return _run(tmp_path_factory, "hydrogen_small")


def _table(report, name):
    return json.loads((report / f"{name}.json").read_text())


def _analysis(workdir, study_file):
    """The study's analysis and figure data, read from the work directory as `dftflow report` reads it."""
    from dftflow.analysis.figure_data import band_panels
    from dftflow.analysis.study_analysis import analyse_study
    from dftflow.calculations import Study
    from dftflow.runner import open_workdir
    from dftflow.study import load_study

    study = Study(load_study(study_file), potcars="spec")
    wd = open_workdir(workdir)
    try:
        results = analyse_study(study, wd.db)
        return results, band_panels(results, study)
    finally:
        wd.close()


def test_gap_table_narrows_with_vacancies_and_names_its_gaps(report):
    gaps = {row["system"]: row for row in _table(report, "gaps")}
    assert len(gaps) == 5 and all(row["executor"] == "mock" for row in gaps.values())
    # on the SCF mesh, which every cell shares (only some have a band path)
    pristine, one, two = (gaps[s]["gap_mesh"] for s in ("WO3", VO_SZ, "WO2.75 2V_O(s_z,neighbour) q=+4"))
    assert pristine > one > two
    assert gaps["WO3"]["host_gap"] == gaps["WO3"]["ks_gap"]
    for system in (VO_SZ, "WO2.75 2V_O(s_z,neighbour) q=+4"):  # defect states excluded: the host gap is the larger
        assert gaps[system]["host_gap"] >= gaps[system]["ks_gap"]
    assert "host_gap: the defect cell's host-like valence band" in (report / "report.md").read_text()


def test_vacancy_levels_are_in_the_gap_and_the_figure_shows_exactly_them(workdir, report):
    """In the 32-atom model cell one V_O2+ pulls the d states of the W next to it below the CBM (three,
    which doped's pydefect classification also finds: test_mock_vacancy_classification_equals_pydefect);
    each listed level is empty, inside the gap at its k-mean, and more than half on that W's shell."""
    rows = [r for r in _table(report, "defect_levels") if r["system"] == VO_SZ]
    assert rows
    for row in rows:
        assert row["kind"] == "localised in-gap" and row["below_cbm"] > 0 and row["above_vbm"] > 0
        assert row["occupation"] < 0.05 and row["atoms"].startswith("W") and row["p_ratio"] > 0.5
    summary = {r["system"]: r for r in _table(report, "level_summary")}[VO_SZ]
    others = [r for r in _table(report, "other_states") if r["system"] == VO_SZ]
    assert summary["levels"] == len(rows) and summary["perturbed_host"] == sum(
        r["kind"] == "perturbed host" for r in others
    )
    assert summary["perturbed_host"] >= 1 and "band-structure run" in summary["reference_source"]
    results, panels = _analysis(workdir, TEST_STUDIES / "analysis.yaml")
    panel = next(p for p in panels if p["title"] == VO_SZ)
    spins = {"up": (0,), "down": (1,), "up+down": (0, 1)}
    table = {(s, r["band"] - 1) for r in rows for s in spins[r["spin"]]}
    assert panel["defect_bands"] == table == set(results.levels[VO_SZ].highlighted)


def test_mock_vacancy_classification_equals_pydefect_through_doped(workdir):
    """The same one-vacancy model cell through doped's get_eigenvalue_analysis (pydefect's criteria)."""
    pytest.importorskip("doped")
    from doped.utils.eigenvalues import get_eigenvalue_analysis
    from pymatgen.io.vasp import Vasprun

    calcs = workdir / "calcs/analysis_demo"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bulk = Vasprun(calcs / "hse-static_WO3/vasprun.xml.gz", parse_projected_eigen=True)
        defect = Vasprun(calcs / "hse-static_WO2.875_V_O-s_z_q+2/vasprun.xml.gz", parse_projected_eigen=True)
        bes = get_eigenvalue_analysis(bulk_vr=bulk, defect_vr=defect, plot=False)
    results, _ = _analysis(workdir, TEST_STUDIES / "analysis.yaml")
    ours = results.levels[VO_SZ]
    in_gap = {(s, lv.band - 1) for lv in ours.levels + ours.resonant for s in (0, 1)}  # ISPIN 2, degenerate
    theirs = {(s, o.band_idx) for s, state in enumerate(bes.states) for o in state.localized_orbitals}
    assert in_gap == theirs


def test_site_energies_of_the_three_chain_sites(report):
    sites = {row["site"]: row for row in _table(report, "site_energies")}
    assert {"s_x", "s_y", "s_z"} <= set(sites)
    relative = [sites[s]["relative_hybrid"] for s in ("s_x", "s_y", "s_z")]
    assert min(relative) == 0.0 and len({round(r, 4) for r in relative}) == 3  # three different energies


def test_hydrogen_series_level_versus_x_from_the_classified_levels(hydrogen):
    report = hydrogen / "reports/hydrogen_small"
    trend = _table(report, "levels_vs_h")
    assert [round(p["x"], 4) for p in trend] == [0.125, 0.25, 0.5]
    levels = _table(report, "defect_levels")
    for point in trend:
        own = [r for r in levels if r["system"] == point["label"] and r["occupation"] > 0.5]
        if point["below_cbm"] is None:  # says what the cell is instead of inventing a level
            assert point["state"] in ("metallic", "shallow: electron in a perturbed host state") or not own
        else:
            assert point["state"] == "localised level" and point["levels"] == len(
                [r for r in own if r["below_cbm"] < r["above_vbm"]]
            )
            upper = [r["below_cbm"] for r in own if r["below_cbm"] < r["above_vbm"]]
            assert point["below_cbm"] == pytest.approx(min(upper))
    assert all(p["executor"] == "mock" for p in trend)
    for name in ("levels_vs_h", "bands"):
        assert (report / f"figures/{name}.png").stat().st_size > 10_000
    text = (report / "report.md").read_text()
    assert "Defect level versus H concentration" in text and "MODEL OUTPUT" in text


def test_formation_energies_for_each_limit(report):
    rows = _table(report, "formation_energies")
    limits = {r["limit"] for r in rows}
    assert limits == {"O-rich", "O-poor"}
    by = {(r["system"], r["limit"]): r for r in rows}
    vo = by[(VO_SZ, "O-rich")]
    vo_poor = by[(VO_SZ, "O-poor")]
    assert vo_poor["at_vbm"] - vo["at_vbm"] == pytest.approx(-3.0)  # one O removed: E_f shifts by -dmu_O
    assert vo["at_cbm"] - vo["at_vbm"] == pytest.approx(2 * _reference_gap(report), abs=1e-6)  # slope q = +2
    assert vo["corrected"] and vo["correction"] != 0
    corrections = {r["system"]: r for r in _table(report, "charge_corrections")}
    assert corrections[VO_SZ]["correction_method"] == "freysoldt"


def test_freysoldt_correction_equals_pymatgen_analysis_defects_on_the_locpots(workdir, report):
    """The correction dftflow computes from the planar averages it stored equals pymatgen-analysis-defects'
    on the LOCPOT files themselves."""
    from pymatgen.analysis.defects.corrections.freysoldt import get_freysoldt_correction
    from pymatgen.io.vasp import Locpot

    from dftflow.analysis.locate import locate_defects

    calcs = workdir / "calcs/analysis_demo"
    defect = Locpot.from_file(calcs / "hse-static_WO2.875_V_O-s_z_q+2/LOCPOT.gz")
    bulk = Locpot.from_file(calcs / "hse-static_WO3/LOCPOT.gz")
    centre = locate_defects(defect.structure, bulk.structure).centers.mean(axis=0)
    expected = get_freysoldt_correction(2, 20.0, defect, bulk, defect_frac_coords=centre).correction_energy
    row = next(r for r in _table(report, "formation_energies") if r["system"] == VO_SZ and r["limit"] == "O-rich")
    assert row["correction"] == pytest.approx(expected, abs=1e-6)


def _reference_gap(report):
    """The pristine gap over its SCF mesh and band path: the E_F range of the formation energies."""
    return next(r for r in _table(report, "gaps") if r["system"] == "WO3")["ks_gap"]


def test_figures_and_html(report):
    for name in ("dos", "site_energies", "bands"):
        assert (report / f"figures/{name}.png").stat().st_size > 10_000
        assert (report / f"figures/{name}.svg").exists()
    html = (report / "report.html").read_text()
    assert "MODEL OUTPUT - NOT DFT" in html and html.count("data:image/png;base64,") >= 3
