"""The production path without a scheduler: `dftflow submit` to the LaunchPad of my_launchpad.yaml, FireWorks'
own `rlaunch -c DIR` in a separate process as the worker (my_fworker.yaml: vasp_cmd, db_file), results read
back by `dftflow results --db-file`, all against a MongoDB-protocol server (tests/cluster/mongo_server.py)
through the files `dftflow cluster init` wrote. The SLURM path is tests/cluster/test_slurm.py."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import TEST_STUDIES, dftflow, guarded_env, production_env, production_files


def test_submit_then_rlaunch_in_another_process(tmp_path, mongo_server):
    files = production_files(tmp_path, mongo_server)
    env = production_env(tmp_path, files)
    study = TEST_STUDIES / "pristine_only.yaml"
    submitted = dftflow("submit", study, "--launchpad", files["lp"], "--potcars", "spec", env=env)
    assert submitted.returncode == 0, submitted.stderr
    assert "added study pristine_only: 4 Fireworks" in submitted.stdout
    again = dftflow("submit", study, "--launchpad", files["lp"], "--potcars", "spec", env=env)
    assert again.returncode == 0 and "nothing added" in again.stdout  # re-submitting adds nothing

    workdir = tmp_path / "cluster"
    workdir.mkdir()
    rlaunch = shutil.which("rlaunch", path=str(Path(sys.executable).parent))
    worker = subprocess.run(
        [rlaunch, "-c", str(files["config"]), "rapidfire", "--nlaunches", "0", "--sleep", "1"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stdout[-2000:] + worker.stderr[-2000:]

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


def _one_line_error(out) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("dftflow: error: "), out.stderr
    return out.stderr


def test_unreachable_mongodb_fails_fast_with_the_host_named(tmp_path):
    """Nothing listens on port 9: the LaunchPad and the results database each fail after the 5 s
    server-selection timeout (not pymongo's 30 s) with host, port and the cause in one short line."""
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": 9, "name": "fireworks"}))
    db = tmp_path / "db.json"
    db.write_text(json.dumps({"host": "127.0.0.1", "port": 9, "database": "dftflow_results"}))
    env = guarded_env(tmp_path)
    out = dftflow("submit", TEST_STUDIES / "pristine_only.yaml", "--launchpad", lp, "--potcars", "spec", env=env)
    assert _one_line_error(out) == (
        "dftflow: error: cannot reach the MongoDB server of the LaunchPad at 127.0.0.1:9: Connection refused "
        "(gave up after 5 s)\n"
    )
    out = dftflow("results", "--db-file", db, env=env, timeout=60)
    assert "results database at 127.0.0.1:9: Connection refused" in _one_line_error(out)
    assert len(out.stderr) < 150  # the cause, not pymongo's topology dump


def test_wrong_password_fails_fast_with_the_host_named(tmp_path, mongo_login):
    """The server (behind a SCRAM login, tests/cluster/login_proxy.py) refuses the password: submit, status
    and results each stop at once with the server and pymongo's reason, never the password."""
    server = mongo_login("the-right-password")
    files = production_files(tmp_path, server, password="a-wrong-password")
    env = production_env(tmp_path, files)
    study = TEST_STUDIES / "pristine_only.yaml"
    expected = f"the MongoDB server of the LaunchPad at {server.address} refused the login of user 'me': "
    submit = ("submit", study, "--launchpad", files["lp"], "--potcars", "spec")
    for args in (submit, ("status", "--launchpad", files["lp"])):
        out = dftflow(*args, env=env, timeout=60)
        assert _one_line_error(out) == f"dftflow: error: {expected}Authentication failed.\n"
    out = dftflow("results", "--db-file", files["db"], env=env, timeout=60)
    refused = f"results database at {server.address} refused the login of user 'me': Authentication failed."
    assert refused in _one_line_error(out)
    assert "a-wrong-password" not in out.stderr
    assert server.proxy.logins["succeeded"] == 0 and server.proxy.logins["failed"] >= 3


def test_unknown_host_is_named_with_the_cause(tmp_path):
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": "mongodb.invalid", "port": 27017, "name": "fireworks"}))
    out = dftflow("status", "--launchpad", lp, env=guarded_env(tmp_path), timeout=60)
    assert "LaunchPad at mongodb.invalid:27017: " in _one_line_error(out)
    assert "Topology" not in out.stderr and len(out.stderr) < 200, out.stderr


def test_a_launchpad_file_that_is_not_one_is_refused(tmp_path):
    lp = tmp_path / "my_launchpad.yaml"
    env = guarded_env(tmp_path)
    for text, message in (
        ("host: [1\n", "not a valid FireWorks LaunchPad file: expected ',' or ']', but got '<stream end>' at line 2"),
        ("- host\n", "expected a mapping"),
        ("host: localhost\nport: '27017x'\n", "'port' must be an integer, not '27017x'"),
    ):
        lp.write_text(text)
        assert message in _one_line_error(dftflow("status", "--launchpad", lp, env=env)), text


def test_a_bug_inside_launchpad_construction_is_a_traceback_not_a_bad_file(tmp_path, monkeypatch):
    """Only what is wrong with the file is the user's error; an exception inside FireWorks' LaunchPad
    construction (here: one made to happen) propagates unchanged instead of "not a valid LaunchPad file"."""
    from fireworks import LaunchPad

    from dftflow.errors import InputError
    from dftflow.mongo import load_launchpad

    def broken(cls, config):
        raise KeyError("a bug inside FireWorks")

    monkeypatch.setattr(LaunchPad, "from_dict", classmethod(broken))
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": "127.0.0.1", "port": 9, "name": "fireworks"}))
    with pytest.raises(KeyError, match="a bug inside FireWorks") as caught:
        load_launchpad(lp)
    assert not isinstance(caught.value, InputError)
