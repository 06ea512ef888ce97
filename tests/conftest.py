"""Shared fixtures: repository paths, the WO3 host and its supercells, and a study-file writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
HOST_CIF = ROOT / "structures" / "WO3_P21n.cif"
STUDY_FILES = sorted(WORKFLOWS.glob("*.yaml"))
TEST_STUDIES = ROOT / "tests" / "data" / "studies"
REAL_VASP = ROOT / "tests" / "data" / "real_vasp"
VASP_NAMES = ("vasp", "vasp_std", "vasp_gam", "vasp_ncl")

warnings.filterwarnings("ignore", module="pymatgen")


def guard_bin(base: Path) -> Path:
    """A directory of executables named like VASP that refuse to run: put first on PATH in tests, so any
    attempt to start a real VASP binary fails loudly (exit 97) instead of running."""
    bindir = base / "no-real-vasp"
    bindir.mkdir(parents=True, exist_ok=True)
    for name in VASP_NAMES:
        exe = bindir / name
        exe.write_text("#!/bin/sh\necho 'dftflow tests: a real VASP binary must not run in tests' >&2\nexit 97\n")
        exe.chmod(0o755)
    return bindir


def guarded_env(base: Path, **extra) -> dict:
    """Environment for dftflow subprocesses in tests: real VASP guarded, no user configuration."""
    # CUSTODIAN_WALLTIME_START: custodian's WalltimeHandler writes it into os.environ of the process that
    # made one (an in-process custodian test does) and measures every later job from it
    dropped = ("DFTFLOW_VASP_CMD", "PMG_VASP_PSP_DIR", "DFTFLOW_HOME", "CUSTODIAN_WALLTIME_START")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = f"{guard_bin(base)}:{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["DFTFLOW_CONFIG"] = str(base / "no-dftflow-config.yaml")
    env["MOCK_VASP_THREADS"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def dftflow(*args, env: dict, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dftflow", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def production_files(base: Path, password: str | None = None) -> dict[str, Path]:
    """The standard files of a production setup: my_launchpad.yaml, a results db file and my_fworker.yaml
    whose env points vasp_cmd at this installation's mock-vasp (what a cluster's worker file does)."""
    auth = {"username": "me", "password": password} if password else {}
    lp = base / "my_launchpad.yaml"
    lp.write_text(yaml.safe_dump({"host": "localhost", "port": 27017, "name": "fireworks_test", **auth}))
    db = base / "db.json"
    db.write_text(json.dumps({"host": "localhost", "port": 27017, "database": "dftflow_results", **auth}))
    fworker = base / "my_fworker.yaml"
    env = {
        "vasp_cmd": str(Path(sys.executable).parent / "mock-vasp"),
        "db_file": str(db),
        "scratch_dir": None,
        "custodian_settings": {"polling_time_step": 0.2, "monitor_freq": 25},
    }
    fworker.write_text(yaml.safe_dump({"name": "test-worker", "category": "", "query": "{}", "env": env}))
    return {"lp": lp, "db": db, "fworker": fworker}


def run_log(path: Path) -> list[dict]:
    """mock-vasp's MOCK_VASP_RUN_LOG: one JSON line per invocation."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def no_real_vasp(monkeypatch, tmp_path_factory):
    """Every test runs with VASP-named executables that refuse to start and without user configuration."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("PATH", f"{guard_bin(base)}:{os.environ.get('PATH', '')}")
    for name in ("DFTFLOW_VASP_CMD", "PMG_VASP_PSP_DIR", "DFTFLOW_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DFTFLOW_CONFIG", str(base / "no-dftflow-config.yaml"))


@pytest.fixture(scope="session")
def host():
    from dftflow.structures import load_host

    return load_host(HOST_CIF)


@pytest.fixture(scope="session")
def supercell_112(host):
    from dftflow.structures import make_supercell

    return make_supercell(host, (1, 1, 2))


@pytest.fixture(scope="session")
def supercell_222(host):
    from dftflow.structures import make_supercell

    return make_supercell(host, (2, 2, 2))


@pytest.fixture
def write_study(tmp_path):
    """Write a study file (dict, merged over a small valid study) and return its path."""

    def _write(overrides: dict | None = None, text: str | None = None, name: str = "study.yaml") -> Path:
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
            return path
        data = {
            "name": "test_study",
            "host": {"structure": str(HOST_CIF)},
            "supercell": [1, 1, 2],
            "systems": [{"defects": [{"type": "vacancy", "site": "s_z"}]}],
        }
        data.update(overrides or {})
        path.write_text(yaml.safe_dump(data))
        return path

    return _write
