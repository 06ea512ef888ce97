"""A charge-state study end to end on mock-vasp (tests/data/studies/charge_states_small.yaml): the
dielectric step's tensor is stored and used, the eFNV corrections equal pymatgen-analysis-defects' on the
OUTCARs themselves, formation energies follow the textbook expression from the stored energies, transition
levels are the crossings of the lowest lines, the measured level stands beside them labelled as experiment,
and the partial-charge step computes exactly the cells' in-gap states. All values are model output."""

import json

import numpy as np
import pytest

from tests.conftest import TEST_STUDIES, dftflow, guarded_env

STUDY = "charge_states_demo"
CELLS = {q: f"WO2.875 V_O(s_z) q={q:+d}" if q else "WO2.875 V_O(s_z) q=0" for q in (0, 1, 2)}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    base = tmp_path_factory.mktemp("charge_states")
    out = dftflow("run", TEST_STUDIES / "charge_states_small.yaml", "--workdir", base / "wd", env=guarded_env(base))
    assert out.returncode == 0, out.stdout + out.stderr
    return base / "wd"


@pytest.fixture(scope="module")
def stored(workdir):
    """(task documents by label, the stored defect thermodynamics) of the study."""
    from dftflow.db import connect_results

    db = connect_results(workdir / "db.json")
    try:
        return {d["task_label"]: d for d in db.query({"study": STUDY})}, db.thermodynamics(STUDY)
    finally:
        db.close()


def _dir(workdir, label):
    return workdir / "calcs" / STUDY / label.replace(" ", "_").replace("(", "-").replace(")", "").replace("=", "")


def _table(workdir, name):
    return json.loads((workdir / "reports" / STUDY / f"{name}.json").read_text())


def test_only_the_dielectric_step_carries_a_dielectric_tensor(stored):
    docs, _ = stored
    assert {label for label, doc in docs.items() if doc["output"]["dielectric"]} == {"dielectric bulk"}


def test_a_run_without_lepsilon_or_lcalceps_never_scans_the_outcar_for_one():
    from types import SimpleNamespace

    from dftflow.vasp.task_document import dielectric_of

    class Unreadable:
        def read_lepsilon(self):
            raise AssertionError("read_lepsilon on a run that is not a dielectric run")

    static = SimpleNamespace(incar={"LORBIT": 11}, epsilon_static=None, epsilon_ionic=None)
    assert dielectric_of(static, Unreadable()) is None


def test_the_dielectric_step_is_stored_and_screens_the_corrections(workdir, stored):
    from pymatgen.io.vasp import Outcar

    docs, thermo = stored
    dielectric = docs["dielectric bulk"]["output"]["dielectric"]
    outcar = Outcar(str(_dir(workdir, "dielectric bulk") / "OUTCAR.gz"))
    outcar.read_lepsilon()
    outcar.read_lepsilon_ionic()
    assert np.allclose(dielectric["electronic"], outcar.dielectric_tensor, atol=1e-6)
    assert np.allclose(dielectric["ionic"], outcar.dielectric_ionic_tensor, atol=1e-6)
    total = np.add(outcar.dielectric_tensor, outcar.dielectric_ionic_tensor)  # OUTCAR: 6 decimals
    assert np.allclose(thermo["dielectric"], total, atol=1e-5)
    assert thermo["dielectric_source"].startswith("computed") and thermo["model_output"] is True


def test_efnv_corrections_equal_pymatgen_analysis_defects_on_the_outcars(workdir, stored):
    """Kumagai-Oba from the OUTCAR files as pymatgen reads them (not from dftflow's stored potentials)."""
    from pymatgen.analysis.defects.corrections.kumagai import get_efnv_correction
    from pymatgen.io.vasp import Outcar, Vasprun

    _, thermo = stored

    def with_potentials(label):
        d = _dir(workdir, label)
        structure = Vasprun(str(d / "vasprun.xml.gz"), parse_dos=False, parse_eigen=False).final_structure
        potentials = Outcar(str(d / "OUTCAR.gz")).electrostatic_potential
        return structure.copy(site_properties={"potential": [-p for p in potentials]})

    bulk = with_potentials("hse-static WO3")
    cells = {c["label"]: c for c in thermo["cells"]}
    assert cells[f"hse-static {CELLS[0]}"]["correction"] == 0.0
    for q in (1, 2):
        cell = cells[f"hse-static {CELLS[q]}"]
        expected = get_efnv_correction(q, with_potentials(f"hse-static {CELLS[q]}"), bulk, thermo["dielectric"])
        efnv = expected.metadata["efnv_corr"]
        assert cell["correction_method"] == "efnv"
        assert cell["correction"] == pytest.approx(expected.correction_energy, abs=1e-8)
        assert cell["correction_parts"]["point_charge"] == pytest.approx(efnv.point_charge_correction, abs=1e-8)
        assert cell["correction_parts"]["alignment"] == pytest.approx(efnv.alignment_correction, abs=1e-8)
    # the point-charge term grows as q^2 (same cell, same tensor)
    pc = [cells[f"hse-static {CELLS[q]}"]["correction_parts"]["point_charge"] for q in (1, 2)]
    assert pc[1] == pytest.approx(4 * pc[0], rel=1e-6)


def test_formation_energies_from_the_stored_energies_and_the_o2_reference(stored):
    """E_f(q, E_F = 0) = E_D - E_bulk + mu_O + q E_VBM + E_corr, mu_O = E(O2)/2 + dmu_O, with E_VBM the
    pristine supercell's VBM over its SCF mesh and band path."""
    docs, thermo = stored
    e_bulk = docs["hse-static WO3"]["output"]["energy"]
    mu_o = docs["hse-static O2"]["output"]["energy"] / 2
    vbm = max(docs[label]["output"]["vbm"] for label in ("hse-static WO3", "hse-bands WO3"))
    cbm = min(docs[label]["output"]["cbm"] for label in ("hse-static WO3", "hse-bands WO3"))
    assert thermo["vbm"] == pytest.approx(vbm, abs=1e-9) and thermo["gap"] == pytest.approx(cbm - vbm, abs=1e-9)
    corrections = {c["system"]: c["correction"] for c in thermo["cells"]}
    rows = thermo["formation"]
    assert {(r["charge"], r["limit"]) for r in rows} == {(q, lim) for q in (0, 1, 2) for lim in ("O-rich", "O-poor")}
    for row in rows:
        dmu = {"O-rich": 0.0, "O-poor": -2.91}[row["limit"]]
        e_defect = docs[f"hse-static {row['system']}"]["output"]["energy"]
        expected = e_defect - e_bulk + (mu_o + dmu) + row["charge"] * vbm + corrections[row["system"]]
        assert row["at_vbm"] == pytest.approx(expected, abs=1e-9)
        assert row["at_cbm"] == pytest.approx(expected + row["charge"] * (cbm - vbm), abs=1e-9)


def test_transition_levels_are_where_the_lowest_lines_cross(stored):
    _, thermo = stored
    lines = {r["charge"]: r["at_vbm"] for r in thermo["formation"] if r["limit"] == "O-rich"}
    gap = thermo["gap"]
    lowest = lambda e_f: min(lines, key=lambda q: lines[q] + q * e_f)  # noqa: E731
    grid = np.linspace(0, gap, 2001)
    crossings = [(lowest(a), lowest(b)) for a, b in zip(grid[:-1], grid[1:], strict=True) if lowest(a) != lowest(b)]
    assert [tuple(t["charges"]) for t in thermo["transitions"]] == crossings
    for t in thermo["transitions"]:
        q1, q2 = t["charges"]
        assert t["above_vbm"] == pytest.approx((lines[q2] - lines[q1]) / (q1 - q2), abs=1e-9)
        assert t["below_cbm"] == pytest.approx(gap - t["above_vbm"], abs=1e-12)
        assert 0 < t["above_vbm"] < gap
        assert t["measured_below_cbm"] == 0.0989 and "experiment" in t["measured_source"]


def test_report_labels_the_measured_level_as_experiment_and_the_rest_as_model(workdir):
    report = (workdir / "reports" / STUDY / "report.md").read_text()
    table = report.split("## Charge-transition levels")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| WO2.875")]
    assert rows and all("0.099 (experiment)" in row and row.count("(model)") == 2 for row in rows)
    assert "e(+1/0)" in table or "e(+2/0)" in table  # charges written as transition levels are
    assert "MODEL OUTPUT - NOT DFT" in report
    assert "figures/formation_energies.png" in report and "figures/partial_charge.png" in report


def test_partial_charges_of_exactly_the_in_gap_states_and_where_they_sit(workdir, stored):
    """IBAND of each partial-charge step is the set of in-gap states (levels and resonant states) of the
    cell's defect-level table; each PARCHG's largest Voronoi share is on a W next to the vacancy."""
    from pymatgen.io.vasp import Incar

    docs, _ = stored
    levels = _table(workdir, "defect_levels")
    for system in CELLS.values():
        label = f"hse-parchg {system}"
        in_gap = sorted({r["band"] for r in levels if r["system"] == system})
        assert in_gap, f"{system} has an in-gap state in the model"
        iband = Incar.from_file(_dir(workdir, label) / "INCAR")["IBAND"]
        assert sorted(np.atleast_1d(iband).tolist()) == in_gap
        assert docs[label]["output"]["parchg_files"] == [f"PARCHG.{b:04d}.ALLK" for b in in_gap]
        from dftflow.analysis.rundata import RunData
        from dftflow.db import connect_results

        db = connect_results(workdir / "db.json")
        try:
            arrays, meta = RunData.from_db(db, db.task(STUDY, label)).arrays["parchg"]
        finally:
            db.close()
        neighbours = set(docs[label]["defect"]["sites"][0]["w_neighbors"])
        for weights in arrays["weights"]:
            assert weights.sum() == pytest.approx(1.0)
            assert int(np.argmax(weights)) in neighbours
        assert meta["slice_normal"] in ("a", "b")  # the plane holding the W-V-W chain along c
