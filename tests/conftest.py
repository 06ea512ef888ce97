"""Shared fixtures: repository paths, the WO3 host and its supercells, and a study-file writer."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
HOST_CIF = ROOT / "structures" / "WO3_P21n.cif"
STUDY_FILES = sorted(WORKFLOWS.glob("*.yaml"))

warnings.filterwarnings("ignore", module="pymatgen")


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
