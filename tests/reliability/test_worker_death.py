"""Worker death on the production path: a worker process (FireWorks' Rocket, started by `dftflow worker`
like rlaunch) is SIGKILLed in the middle of a VASP run. The database is a MongoDB-protocol server in its
own process (tests/cluster/mongo_server.py), reached through the files `dftflow cluster init` wrote, so
the RUNNING launch is left behind exactly as on a cluster. FireWorks' lost-run detection (`dftflow
recover`, i.e. LaunchPad.detect_lostruns) puts it back to READY, a new worker finishes the study, and
nothing is stored twice or lost. (The embedded default's kill test is tests/test_workflow.py::test_sigkill_...;
the same through SLURM's scancel is tests/cluster/test_slurm.py.)"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_STUDIES, dftflow, production_env, production_files, run_log


def test_worker_killed_mid_vasp_is_recovered(tmp_path, mongo_server):
    files = production_files(tmp_path, mongo_server)
    lp, db, fworker = files["lp"], files["db"], files["fworker"]
    log = tmp_path / "runs.jsonl"
    # relax WO3 is made slow (3 s per ionic step, no STOPCAR) so the kill surely lands inside it
    env = production_env(
        tmp_path,
        files,
        MOCK_VASP_RUN_LOG=log,
        MOCK_VASP_FAULTS="walltime:delay=3:times=5:system=relax WO3",
    )
    study = TEST_STUDIES / "pristine_only.yaml"
    assert dftflow("submit", study, "--launchpad", lp, "--potcars", "spec", env=env).returncode == 0

    cluster = tmp_path / "cluster"
    cluster.mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "dftflow", "worker", "--launchpad", str(lp), "--fworker", str(fworker)],
        cwd=cluster,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the second VASP run (relax WO3) has started, not finished
        runs = run_log(log)
        if len(runs) >= 1 and any(r.get("exit_status") == 0 for r in runs) and _started(cluster, "relax WO3"):
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    status = dftflow("status", "pristine_only", "--launchpad", lp, env=env)
    assert "RUNNING" in status.stdout, status.stdout  # what a dead worker leaves on a real server
    stored_before = json.loads(dftflow("results", "--db-file", db, "--json", env=env).stdout)
    assert [r["task_label"] for r in stored_before] == ["bulk relax"]

    recover = dftflow("recover", "--launchpad", lp, "--expiration", "0", env=env)
    assert recover.returncode == 0 and "1 lost run(s)" in recover.stdout, recover.stdout + recover.stderr
    second = subprocess.run(
        [sys.executable, "-m", "dftflow", "worker", "--launchpad", str(lp), "--fworker", str(fworker)],
        cwd=cluster,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-2000:]

    status = dftflow("status", "pristine_only", "--launchpad", lp, env=env)
    assert "completed 4" in status.stdout, status.stdout
    rows = json.loads(dftflow("results", "--db-file", db, "--json", env=env).stdout)
    labels = [r["task_label"] for r in rows]
    assert sorted(labels) == ["bulk relax", "hse-static WO3", "relax WO3"]  # each stored exactly once
    before = {r["task_label"]: r["energy"] for r in stored_before}
    assert all(r["energy"] == before[r["task_label"]] for r in rows if r["task_label"] in before)
    completed = [r["system"] for r in run_log(log) if r.get("exit_status") == 0]
    assert completed.count("bulk relax") == 1  # the finished calculation was not run again


def _started(cluster: Path, label: str) -> bool:
    for path in cluster.glob("launcher_*/INCAR"):
        if f"SYSTEM = {label}" in path.read_text() and (path.parent / "OUTCAR").exists():
            return True
    return False
