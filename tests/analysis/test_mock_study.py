"""Analysis of a whole mock-vasp study through the results database: the report's tables and figures
show what the papers' tables and figures show (as model output)."""

import json

import pytest

from tests.conftest import TEST_STUDIES, dftflow, guarded_env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    base = tmp_path_factory.mktemp("analysis")
    env = guarded_env(base)
    out = dftflow("run", TEST_STUDIES / "analysis.yaml", "--workdir", base / "wd", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return base / "wd"


@pytest.fixture(scope="module")
def report(workdir):
    return workdir / "reports/analysis_demo"


def _table(report, name):
    return json.loads((report / f"{name}.json").read_text())


def test_gap_table_narrows_with_vacancies(report):
    gaps = {row["system"]: row for row in _table(report, "gaps")}
    assert len(gaps) == 8 and all(row["executor"] == "mock" for row in gaps.values())
    pristine = gaps["WO3"]["gap"]
    one = gaps["WO2.875 V_O(s_z) q=+2"]["gap"]
    two = gaps["WO2.75 2V_O(s_z) q=+4"]["gap"]
    assert pristine > one > two


def test_vacancy_states_sit_below_the_cbm_on_the_w_next_to_the_vacancy(report):
    rows = [r for r in _table(report, "defect_levels") if r["system"] == "WO2.875 V_O(s_z) q=+2"]
    assert rows, "a V_O2+ must leave split-off states"
    deepest = max(rows, key=lambda r: r["below_cbm"])
    assert deepest["below_cbm"] > 0 and deepest["occupation"] < 0.05  # empty, below the pristine CBM
    assert deepest["atoms"].startswith("W")


def test_site_energies_of_the_three_chain_sites(report):
    sites = {row["site"]: row for row in _table(report, "site_energies")}
    assert {"s_x", "s_y", "s_z"} <= set(sites)
    relative = [sites[s]["relative_hybrid"] for s in ("s_x", "s_y", "s_z")]
    assert min(relative) == 0.0 and len({round(r, 4) for r in relative}) == 3  # three different energies


def test_hydrogen_series_levels_and_trend_figure(report):
    rows = [r for r in _table(report, "defect_levels") if r["system"].startswith("H")]
    systems = {r["system"] for r in rows}
    assert {"H0.125WO3 H_i q=0", "H0.25WO3 2H_i q=0"} <= systems
    occupied = [r for r in rows if r["system"] == "H0.125WO3 H_i q=0" and r.get("occupation", 0) > 0.5]
    assert occupied and occupied[0]["below_cbm"] > 0  # the H electron binds below the CBM
    assert (report / "figures/levels_vs_h.png").exists()


def test_formation_energies_for_each_limit(report):
    rows = _table(report, "formation_energies")
    limits = {r["limit"] for r in rows}
    assert limits == {"O-rich", "O-poor"}
    by = {(r["label"], r["limit"]): r for r in rows}
    vo = by[("hse-static WO2.875 V_O(s_z) q=+2", "O-rich")]
    vo_poor = by[("hse-static WO2.875 V_O(s_z) q=+2", "O-poor")]
    assert vo_poor["at_vbm"] - vo["at_vbm"] == pytest.approx(-3.0)  # one O removed: E_f shifts by -dmu_O
    assert vo["at_cbm"] - vo["at_vbm"] == pytest.approx(2 * _gap(report), abs=1e-6)  # slope q = +2
    assert vo["corrected"] and vo["correction"] != 0


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
    row = next(
        r
        for r in _table(report, "formation_energies")
        if r["label"] == "hse-static WO2.875 V_O(s_z) q=+2" and r["limit"] == "O-rich"
    )
    assert row["correction"] == pytest.approx(expected, abs=1e-6)


def _gap(report):
    return next(r for r in _table(report, "gaps") if r["system"] == "WO3")["gap_mesh"]


def test_figures_and_html(report):
    for name in ("dos", "site_energies", "levels_vs_h"):
        assert (report / f"figures/{name}.png").stat().st_size > 10_000
        assert (report / f"figures/{name}.svg").exists()
    html = (report / "report.html").read_text()
    assert "MODEL OUTPUT - NOT DFT" in html and html.count("data:image/png;base64,") >= 3
