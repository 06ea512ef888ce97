"""The bad-input catalogue: every mistake a user can make ends in one clear line on stderr, exit code 2,
and nothing written (no work directory, no output folder, no database entry)."""

import gzip
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import HOST_CIF, REAL_VASP, dftflow, guarded_env

VALID = {
    "name": "bad_input",
    "host": {"structure": str(HOST_CIF)},
    "supercell": [1, 1, 2],
    "systems": [{"defects": [{"type": "vacancy", "site": "s_z"}]}],
}


def _study(tmp: Path, text: str | None = None, **changes) -> Path:
    path = tmp / "study.yaml"
    path.write_text(text if text is not None else yaml.safe_dump({**VALID, **changes}))
    return path


def _mgo(tmp: Path) -> Path:
    from pymatgen.core import Lattice, Structure

    path = tmp / "MgO.cif"
    Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(path))
    return path


STUDY_CASES = {
    "malformed YAML": (lambda t: _study(t, "name: [unclosed\nhost: {\n"), "not valid YAML"),
    "unknown key": (lambda t: _study(t, walltime=3), "unknown key 'walltime'"),
    "wrong type": (lambda t: _study(t, supercell="big"), "supercell"),
    "unknown site label": (lambda t: _study(t, systems=[{"defects": [{"type": "vacancy", "site": "s_w"}]}]), "site"),
    "more vacancies than sites": (
        lambda t: _study(t, systems=[{"defects": [{"type": "vacancy", "site": "s_z", "count": 9}]}]),
        "do not fit",
    ),
    "impossible H concentration": (
        lambda t: _study(t, systems=[{"defects": [{"type": "hydrogen", "x": "1/3"}]}]),
        "cannot be represented",
    ),
    "non-integer charge": (lambda t: _study(t, systems=[{"charge": 1.5, "defects": []}]), "charge"),
    "missing structure": (lambda t: _study(t, host={"structure": str(t / "nope.cif")}), "not found"),
    "structure without W": (lambda t: _study(t, host={"structure": str(_mgo(t))}), "no W"),
    "unknown preset": (lambda t: _study(t, functional={"hybrid": "b3lyp"}), "unknown preset"),
}


@pytest.mark.parametrize("case", list(STUDY_CASES))
@pytest.mark.parametrize("command", ["run", "inputs"])
def test_bad_study_files(tmp_path, case, command):
    make, message = STUDY_CASES[case]
    study = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    target = tmp_path / "out"
    args = ["run", study, "--workdir", target] if command == "run" else ["inputs", study, "--out", target]
    result = dftflow(*args, env=guarded_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "no-real-vasp") == before
    assert not target.exists()


def test_real_run_without_potcars(tmp_path):
    study = _study(tmp_path)
    env = guarded_env(tmp_path, DFTFLOW_VASP_CMD="vasp_std", HOME=tmp_path)
    result = dftflow("run", study, "--workdir", tmp_path / "wd", "--executor", "vasp", env=env)
    assert result.returncode == 2 and "PMG_VASP_PSP_DIR" in result.stderr
    assert not (tmp_path / "wd").exists()


def test_vasp_executor_without_a_command(tmp_path):
    result = dftflow(
        "run", _study(tmp_path), "--workdir", tmp_path / "wd", "--executor", "vasp", env=guarded_env(tmp_path)
    )
    assert result.returncode == 2 and "DFTFLOW_VASP_CMD" in result.stderr
    assert not (tmp_path / "wd").exists()


def test_unwritable_work_directory(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = dftflow("run", _study(tmp_path), "--workdir", blocker / "wd", env=guarded_env(tmp_path))
    assert result.returncode == 2 and "not writable" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_settings_file(tmp_path):
    config = tmp_path / "dftflow.yaml"
    config.write_text("vasp_comand: vasp_std\n")
    env = guarded_env(tmp_path, DFTFLOW_CONFIG=config)
    result = dftflow("run", _study(tmp_path), "--workdir", tmp_path / "wd", env=env)
    assert result.returncode == 2 and "unknown setting(s) vasp_comand" in result.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing", "empty"])
def test_corrupted_outputs_fed_to_parse(tmp_path, damage):
    run = tmp_path / "run"
    run.mkdir()
    text = gzip.decompress((REAL_VASP / "CeO2_hse06/vasprun.xml.gz").read_bytes())
    if damage == "truncated":
        (run / "vasprun.xml").write_bytes(text[: len(text) // 2])
    elif damage == "garbage":
        (run / "vasprun.xml").write_bytes(b"<?xml version='1.0'?>\n<modeling>\n" + bytes(range(256)) * 100)
    elif damage == "empty":
        (run / "vasprun.xml").write_bytes(b"")
    result = dftflow("parse", run, "--json", env=guarded_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "vasprun.xml" in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_parse_of_a_missing_directory(tmp_path):
    result = dftflow("parse", tmp_path / "nowhere", env=guarded_env(tmp_path))
    assert result.returncode == 2 and "not a directory" in result.stderr


def test_report_without_a_work_directory(tmp_path):
    result = dftflow("report", _study(tmp_path), "--workdir", tmp_path / "none", env=guarded_env(tmp_path))
    assert result.returncode == 2 and "no dftflow work directory" in result.stderr


def test_copy_of_real_data_is_untouched(tmp_path):
    """parse never writes into the run directory it reads."""
    run = tmp_path / "CeO2"
    shutil.copytree(REAL_VASP / "CeO2_hse06", run)
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    assert dftflow("parse", run, env=guarded_env(tmp_path)).returncode == 0
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before
