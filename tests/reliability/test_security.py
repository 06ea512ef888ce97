"""Credentials never leave their files; study values never reach a shell; YAML is loaded safely."""

from pathlib import Path

import yaml

from tests.conftest import HOST_CIF, TEST_STUDIES, dftflow, guarded_env, production_env, production_files

SECRET = "s3cr3t-Pa55word"


def test_credentials_stay_out_of_logs_documents_and_reports(tmp_path, mongo_login):
    server = mongo_login(SECRET)
    files = production_files(tmp_path, server, password=SECRET)
    lp, db, fworker = files["lp"], files["db"], files["fworker"]
    env = production_env(tmp_path, files)
    study = TEST_STUDIES / "pristine_only.yaml"
    outputs = [dftflow("submit", study, "--launchpad", lp, "--potcars", "spec", env=env)]
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    outputs.append(dftflow("worker", "--launchpad", lp, "--fworker", fworker, env=env, cwd=cluster))
    outputs.append(dftflow("results", "--db-file", db, "--json", env=env))
    outputs.append(dftflow("status", "--launchpad", lp, env=env))
    outputs.append(dftflow("report", study, "--db-file", db, "--out", tmp_path / "report", env=env))
    assert all(o.returncode == 0 for o in outputs), [o.stderr[-500:] for o in outputs]
    for o in outputs:
        assert SECRET not in o.stdout + o.stderr
    leaks = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p not in (lp, db, fworker) and SECRET.encode() in p.read_bytes()
    ]
    assert leaks == []  # launch dirs, FW.json, logs, the report
    assert server.proxy.logins["succeeded"] > 0 and server.proxy.logins["failed"] == 0  # they really logged in


def test_a_server_with_access_control_and_no_login_is_one_line(tmp_path, mongo_login):
    """my_launchpad.yaml without username/password for a server that requires a login: refused before
    anything is read or written, as one line."""
    server = mongo_login(SECRET)
    files = production_files(tmp_path, server)  # no password given: the files have no login
    out = dftflow("status", "--launchpad", files["lp"], env=production_env(tmp_path, files))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"LaunchPad at {server.address} refused access to database 'fw_" in out.stderr
    assert "without a login (no username given): command find requires authentication" in out.stderr


def test_unreachable_database_error_hides_the_password(tmp_path):
    lp = tmp_path / "my_launchpad.yaml"
    lp.write_text(
        yaml.safe_dump({"host": f"mongodb://me:{SECRET}@127.0.0.1:9/fireworks", "uri_mode": True, "name": "fireworks"})
    )
    out = dftflow("status", "--launchpad", lp, env=guarded_env(tmp_path))
    assert out.returncode == 2 and "127.0.0.1:9" in out.stderr
    assert SECRET not in out.stderr + out.stdout


def test_study_values_never_reach_a_shell(tmp_path):
    """A system name goes into INCAR SYSTEM, directory names and labels: shell and INCAR metacharacters
    (VASP reads ; as a statement separator and # ! as comments) are refused before anything runs."""
    marker = tmp_path / "PWNED"
    for name in (f"x$(touch {marker})", f"x; touch {marker}", f"x `touch {marker}`", "x # comment"):
        study = tmp_path / "study.yaml"
        study.write_text(
            yaml.safe_dump(
                {
                    "name": "shell_test",
                    "host": {"structure": str(HOST_CIF)},
                    "supercell": [1, 1, 1],
                    "systems": [{"name": name, "defects": []}],
                }
            )
        )
        out = dftflow("run", study, "--workdir", tmp_path / "wd", env=guarded_env(tmp_path))
        assert out.returncode == 2 and "systems.0.name" in out.stderr, out.stderr
        assert not (tmp_path / "wd").exists() and not list(tmp_path.glob("PWNED*"))


def test_no_shell_anywhere_in_dftflow():
    """vasp_cmd comes only from the worker and is started without a shell; nothing else starts processes."""
    root = Path(__file__).resolve().parents[2] / "dftflow"
    for path in root.rglob("*.py"):
        text = path.read_text()
        for forbidden in ("shell=True", "os.system(", "os.popen(", "subprocess.getoutput", "eval(", "exec("):
            assert forbidden not in text, f"{path}: {forbidden}"
