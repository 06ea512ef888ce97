"""Shared fixtures: repository paths, the WO3 host and its supercells, and a study-file writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest
import yaml

from tests.cluster.mongo_server import mongo_login, mongo_server  # noqa: F401  (fixtures of the production tests)

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


def production_files(base: Path, server, password: str | None = None, **fw_settings) -> dict[str, Path]:
    """The files of a production setup, made as a user makes them: `dftflow cluster init` writes
    my_launchpad.yaml, db.json, my_fworker.yaml and my_qadapter.yaml for `server` (own databases per call),
    then they are edited as a user edits them: mock-vasp as vasp_cmd, custodian polling fast enough for
    tests, the password if one is given. FW_config.yaml holds what FireWorks needs with this server."""
    config = base / "config"
    unique = uuid.uuid4().hex[:12]
    init = dftflow(
        *("cluster", "init", config, "--host", server.host, "--port", server.port),
        *("--launchpad-db", f"fw_{unique}", "--results-db", f"results_{unique}"),
        *("--vasp-cmd", Path(sys.executable).parent / "mock-vasp"),
        *(("--username", "me") if password else ()),
        env=guarded_env(base),
    )
    assert init.returncode == 0, init.stderr
    files = {"lp": config / "my_launchpad.yaml", "db": config / "db.json", "fworker": config / "my_fworker.yaml"}
    files["qadapter"] = config / "my_qadapter.yaml"
    _edit(files["fworker"], "custodian_settings: {}", "custodian_settings: {polling_time_step: 0.2, monitor_freq: 25}")
    if password:
        _edit(files["lp"], "password: null", f"password: {json.dumps(password)}")
        _edit(files["db"], '"password": null', f'"password": {json.dumps(password)}')
    files["fw_config"] = server.write_fw_config(base / "FW_config.yaml", **fw_settings)
    files["config"] = config
    return files


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new, 1))


def production_env(base: Path, files: dict, **extra) -> dict:
    """guarded_env for processes of a production setup: FireWorks finds FW_config.yaml via FW_CONFIG_FILE."""
    return guarded_env(base, FW_CONFIG_FILE=files["fw_config"], **extra)


def run_log(path: Path) -> list[dict]:
    """mock-vasp's MOCK_VASP_RUN_LOG: one JSON line per invocation."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pytest_collection_modifyitems(items):
    """Tests that use the MongoDB-protocol server carry the `mongo` marker (`-m "not mongo"` leaves them out)."""
    for item in items:
        if {"mongo_server", "mongo_login"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mongo)


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
