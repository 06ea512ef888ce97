"""`dftflow cluster init DIR`: the four standard files, read back by FireWorks' own loaders."""

import json
import stat

import pytest
import yaml
from fireworks import FWorker
from fireworks.utilities.fw_serializers import load_object_from_file

from tests.conftest import dftflow, guarded_env


@pytest.mark.parametrize("scheduler, directive", [("slurm", "#SBATCH --nodes=1"), ("pbs", "#PBS -l nodes=1:ppn=1")])
def test_the_files_are_what_fireworks_reads(tmp_path, scheduler, directive):
    config = tmp_path / "config"
    out = dftflow(
        *("cluster", "init", config, "--scheduler", scheduler, "--host", "db.example.org", "--port", "27018"),
        *("--username", "me", "--vasp-cmd", "srun -n 64 vasp_std", "--venv", "/opt/dftflow/.venv"),
        env=guarded_env(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    assert f"qlaunch -c {config} -r rapidfire" in out.stdout

    from dftflow.db import read_db_file

    lp_config = yaml.safe_load((config / "my_launchpad.yaml").read_text())
    assert lp_config["host"] == "db.example.org" and lp_config["port"] == 27018 and lp_config["username"] == "me"
    assert lp_config["password"] is None  # never on a command line: the user fills it in
    db = json.loads((config / "db.json").read_text())  # strict JSON, as atomate's tools read it
    assert read_db_file(config / "db.json")["database"] == db["database"] == "dftflow_results"
    for name in ("my_launchpad.yaml", "db.json"):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600

    fworker = FWorker.from_file(str(config / "my_fworker.yaml"))
    assert fworker.env["vasp_cmd"] == "srun -n 64 vasp_std"
    assert fworker.env["db_file"] == str(config / "db.json")
    adapter = load_object_from_file(str(config / "my_qadapter.yaml"))
    assert adapter.q_type == scheduler.upper()
    script = adapter.get_script_str(str(tmp_path / "launch"))
    assert directive in script
    assert "source /opt/dftflow/.venv/bin/activate" in script  # the job's shell does not have the venv on PATH
    assert f"rlaunch -c {config} singleshot" in script


def test_existing_files_are_not_overwritten_without_force(tmp_path):
    config = tmp_path / "config"
    env = guarded_env(tmp_path)
    assert dftflow("cluster", "init", config, env=env).returncode == 0
    (config / "my_fworker.yaml").write_text("edited by the user\n")
    out = dftflow("cluster", "init", config, "--host", "other", env=env)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--force" in out.stderr
    assert (config / "my_fworker.yaml").read_text() == "edited by the user\n"
    assert "mongodb.example.org" in (config / "my_launchpad.yaml").read_text()  # nothing was written
    assert dftflow("cluster", "init", config, "--host", "other", "--force", env=env).returncode == 0
    assert '"other"' in (config / "my_launchpad.yaml").read_text()
