"""The embedded default end to end: FireWorks -> custodian -> mock-vasp -> parse -> results -> report.

One run of the tiny study (with an injected VASP error that custodian must correct) is shared by the
tests of this module; the kill test runs its own.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from pymatgen.core import Structure

from tests.conftest import ROOT, TEST_STUDIES, dftflow, guarded_env, run_log

TINY = TEST_STUDIES / "tiny.yaml"
FAULT = "edddav:system=hse-static WO3"  # custodian's VaspErrorHandler must correct it inside the workflow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    env = guarded_env(base, MOCK_VASP_RUN_LOG=base / "runs.jsonl", MOCK_VASP_FAULTS=FAULT)
    first = dftflow("run", TINY, "--workdir", base / "wd", env=env)
    return {"base": base, "env": env, "first": first, "workdir": base / "wd"}


def _results(tiny) -> list[dict]:
    out = dftflow("results", "--study", "tiny", "--json", "--workdir", tiny["workdir"], env=tiny["env"])
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_study_runs_to_stored_results(tiny):
    first = tiny["first"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert "mock-vasp" in first.stdout and "MODEL OUTPUT" in first.stdout
    assert "report:" in first.stdout
    rows = _results(tiny)
    assert sorted(r["task_label"] for r in rows) == sorted(
        [
            "bulk relax",
            "relax WO3",
            "hse-static WO3",
            "hse-bands WO3",
            "relax WO2.875 V_O(s_z) q=+2",
            "hse-static WO2.875 V_O(s_z) q=+2",
            "hse-bands WO2.875 V_O(s_z) q=+2",
        ]
    )
    for row in rows:
        assert row["executor"] == "mock" and row["state"] == "successful"
        assert {"composition_label", "defect", "charge", "functional", "energy", "bandgap"} <= set(row)
    static = next(r for r in rows if r["task_label"] == "hse-static WO2.875 V_O(s_z) q=+2")
    assert (static["charge"], static["aexx"], static["base_gga"]) == (2, 0.28, "PE")


def test_defect_cells_sit_in_the_relaxed_bulk_lattice(tiny):
    from dftflow.db import connect_results

    db = connect_results(tiny["workdir"] / "db.json")
    bulk = Structure.from_dict(db.task("tiny", "bulk relax")["structure"])
    defect = Structure.from_dict(db.task("tiny", "relax WO2.875 V_O(s_z) q=+2")["structure"])
    start = Structure.from_file(tiny["workdir"] / "calcs/tiny/relax_WO2.875_V_O-s_z_q+2/POSCAR.orig")
    assert np.allclose(start.lattice.matrix, bulk.lattice.matrix, atol=1e-6)  # built from the relaxed bulk
    assert np.allclose(defect.lattice.matrix, bulk.lattice.matrix, atol=1e-6)  # ISIF 2 kept it
    host = Structure.from_file(ROOT / "structures/WO3_P21n.cif")
    assert not np.allclose(bulk.lattice.abc, host.lattice.abc, atol=1e-3)  # the bulk relax did move it
    db.store.close()


def test_hybrid_static_starts_from_the_relax(tiny):
    calc = tiny["workdir"] / "calcs/tiny/hse-static_WO3"
    relax = Structure.from_file(tiny["workdir"] / "calcs/tiny/relax_WO3/CONTCAR")
    start = Structure.from_file(calc / "POSCAR.orig")
    assert np.allclose(start.frac_coords, relax.frac_coords, atol=1e-6)
    assert (calc / "WAVECAR").exists()
    assert "reading WAVECAR" in (calc / "vasp.out").read_text()


def test_injected_fault_is_corrected_and_recorded(tiny):
    from dftflow.db import connect_results

    db = connect_results(tiny["workdir"] / "db.json")
    doc = db.task("tiny", "hse-static WO3")
    assert doc["state"] == "successful"
    assert doc["custodian"], "the correction custodian made must be stored with the result"
    assert [c["errors"] for c in doc["custodian"]] == [["edddav"]]
    assert doc["custodian"][0]["handler"] == "VaspErrorHandler"
    assert doc["custodian"][0]["actions"][-1]["action"]["_set"]["ALGO"] in ("All", "Damped", "Normal")  # never Fast
    assert db.task("tiny", "relax WO3")["custodian"] == []
    db.store.close()


def test_running_a_finished_study_runs_nothing(tiny):
    before = len(run_log(tiny["base"] / "runs.jsonl"))
    again = dftflow("run", TINY, "--workdir", tiny["workdir"], env=tiny["env"])
    assert again.returncode == 0, again.stderr
    assert "0 launched" in again.stdout
    assert len(run_log(tiny["base"] / "runs.jsonl")) == before


def test_report_files(tiny):
    report = tiny["workdir"] / "reports/tiny"
    text = (report / "report.md").read_text()
    assert "MODEL OUTPUT - NOT DFT" in text
    for name in ("gaps.csv", "defect_levels.csv", "report.html", "figures/dos.png", "figures/bands.svg"):
        assert (report / name).exists(), name
    assert "data:image/png;base64," in (report / "report.html").read_text()


def test_status_lists_every_calculation(tiny):
    out = dftflow("status", TINY, "--workdir", tiny["workdir"], env=tiny["env"])
    assert out.returncode == 0, out.stderr
    assert "completed 8" in out.stdout and "hse-bands WO3" in out.stdout


def test_outputs_are_compressed_after_storing(tiny):
    calc = tiny["workdir"] / "calcs/tiny/hse-static_WO3"
    assert (calc / "vasprun.xml.gz").exists() and not (calc / "vasprun.xml").exists()
    assert (calc / "CONTCAR").exists()


def test_parse_real_vasp_matches_pymatgen():
    from pymatgen.io.vasp import Vasprun

    path = ROOT / "tests/data/real_vasp/CeO2_hse06"
    out = subprocess.run(
        [sys.executable, "-m", "dftflow", "parse", str(path), "--json"],
        capture_output=True,
        text=True,
        env=guarded_env(ROOT / ".pytest_cache"),
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    gap, cbm, vbm, direct = Vasprun(str(path / "vasprun.xml.gz"), parse_potcar_file=False).eigenvalue_band_properties
    assert (info["bandgap"], info["cbm"], info["vbm"], info["is_gap_direct"]) == (gap, cbm, vbm, direct)
    assert (info["aexx"], info["hfscreen"], info["base_gga"], info["ispin"], info["nelect"]) == (0.25, 0.2, "PS", 2, 96)
    assert info["label"] == "HSEsol" and info["pymatgen_run_type"] == "HSE06"  # the label pymatgen gets wrong


# --- kill safety ---------------------------------------------------------------------------------------
def _run_and_kill(env, workdir, when) -> str:
    """Start `dftflow run`, SIGKILL it when `when(output so far, seconds)` says so; returns the output."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-m", "dftflow", "run", str(TINY), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        bufsize=0,
    )
    chunks: list[bytes] = []

    def reader():
        while byte := proc.stdout.read(1):
            chunks.append(byte)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    started = time.time()
    while proc.poll() is None:
        if when(b"".join(chunks).decode(errors="replace"), time.time() - started):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    thread.join(timeout=5)
    return b"".join(chunks).decode(errors="replace")


def _stored(env, workdir) -> dict:
    out = dftflow("results", "--json", "--workdir", workdir, env=env)
    assert out.returncode == 0, out.stderr
    return {r["task_label"]: r["energy"] for r in json.loads(out.stdout)}


def test_sigkill_at_any_point_loses_nothing_and_repeats_nothing(tmp_path):
    log = tmp_path / "runs.jsonl"
    env = guarded_env(tmp_path, MOCK_VASP_RUN_LOG=log)
    workdir = tmp_path / "wd"
    kill_points = [
        ("during the first VASP run", lambda text, t: "bulk relax ..." in text and t > 1.0),
        ("right after a calculation completed", lambda text, t: text.count(" completed (") >= 2),
        ("in the middle of a later VASP run", lambda text, t: text.count(" completed (") >= 3 and text.endswith("...")),
        # the narrowest window: VASP has exited, custodian/dftflow have not yet recorded the run
        (
            "between VASP's exit and the run record",
            lambda text, t: len([r for r in run_log(log) if r.get("exit_status") == 0]) > text.count(" completed ("),
        ),
    ]
    stored_before: dict = {}
    for name, when in kill_points:
        _run_and_kill(env, workdir, when)
        stored = _stored(env, workdir)
        assert set(stored_before) <= set(stored), f"a stored result was lost by the kill {name}"
        assert all(stored[k] == v for k, v in stored_before.items())
        stored_before = stored
    final = dftflow("run", TINY, "--workdir", workdir, env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "recovered" in final.stdout or "0 launched" not in final.stdout
    stored = _stored(env, workdir)
    assert len(stored) == 7 and all(stored[k] == v for k, v in stored_before.items())
    completed = [r["system"] for r in run_log(log) if r.get("exit_status") == 0]
    repeated = {s for s in completed if completed.count(s) > 1}
    assert not repeated, f"completed VASP runs repeated after a kill: {repeated}"
    assert len(set(completed)) == 7


def test_second_run_on_a_busy_workdir_is_refused(tmp_path):
    env = guarded_env(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dftflow", "run", str(TINY), "--workdir", str(tmp_path / "wd")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.time() + 60
        while not (tmp_path / "wd/store/LOCK").exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        second = dftflow("run", TINY, "--workdir", tmp_path / "wd", env=env)
        assert second.returncode == 2
        assert "in use by another dftflow process" in second.stderr
    finally:
        proc.kill()
        proc.wait()
