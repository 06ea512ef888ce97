"""The production path: `dftflow submit` to a LaunchPad given by the standard FireWorks file, FireWorks'
own `rlaunch` in a separate process as the worker (FWorker env: vasp_cmd, db_file), results read back by
`dftflow results --db-file`. MongoDB is replaced by FireWorks' mongomock support
(MONGOMOCK_SERVERSTORE_FILE); every line of dftflow's code is the one a cluster runs."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import TEST_STUDIES, dftflow, guarded_env, production_files

pytest.importorskip("mongomock_persistence")


def _files(tmp: Path) -> dict:
    files = production_files(tmp)
    files["store"] = tmp / "mongomock.json"
    files["store"].write_text("{}")
    return files


def test_submit_then_rlaunch_in_another_process(tmp_path):
    files = _files(tmp_path)
    env = guarded_env(tmp_path, MONGOMOCK_SERVERSTORE_FILE=files["store"])
    study = TEST_STUDIES / "pristine_only.yaml"
    submitted = dftflow("submit", study, "--launchpad", files["lp"], "--potcars", "spec", env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert "added study pristine_only: 4 Fireworks" in submitted.stdout
    again = dftflow("submit", study, "--launchpad", files["lp"], "--potcars", "spec", env=env)
    assert again.returncode == 0 and "nothing added" in again.stdout  # re-submitting adds nothing

    workdir = tmp_path / "cluster"
    workdir.mkdir()
    rlaunch = shutil.which("rlaunch", path=str(Path(sys.executable).parent))
    t0 = time.time()
    worker = subprocess.run(
        [rlaunch, "-l", str(files["lp"]), "-w", str(files["fworker"]), "rapidfire", "--nlaunches", "0", "--sleep", "1"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stdout[-2000:] + worker.stderr[-2000:]
    print(f"rlaunch ran the 4 Fireworks in {time.time() - t0:.1f} s")

    status = dftflow("status", "pristine_only", "--launchpad", files["lp"], env=env)
    assert status.returncode == 0, status.stderr
    assert "completed 4" in status.stdout
    results = dftflow("results", "--db-file", files["db"], "--json", env=env)
    assert results.returncode == 0, results.stderr
    rows = json.loads(results.stdout)
    assert sorted(r["task_label"] for r in rows) == ["bulk relax", "hse-static WO3", "relax WO3"]
    assert {r["executor"] for r in rows} == {"mock"}
    launcher_dirs = list(workdir.glob("launcher_*"))
    assert len(launcher_dirs) == 4  # FireWorks chose the launch directories, as on a cluster
    assert any((d / "report.md").exists() for d in launcher_dirs)


def test_unreachable_mongodb_fails_fast_with_the_host_named(tmp_path):
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": 9, "name": "fireworks"}))
    env = guarded_env(tmp_path)
    t0 = time.time()
    out = dftflow("submit", TEST_STUDIES / "pristine_only.yaml", "--launchpad", lp, "--potcars", "spec", env=env)
    elapsed = time.time() - t0
    assert out.returncode == 2
    assert "127.0.0.1:9" in out.stderr and out.stderr.count("\n") == 1
    print(f"unreachable MongoDB reported after {elapsed:.1f} s")
