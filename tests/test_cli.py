"""The CLI as a user meets it: exit codes, messages, and nothing written on bad input."""

import json
import subprocess
import sys

import pytest

from dftflow.cli import main
from tests.conftest import HOST_CIF, ROOT, WORKFLOWS


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "dftflow", *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT
    )


def test_sites_json_counts(capsys):
    assert main(["sites", str(HOST_CIF), "--supercell", "1x1x2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 48
    assert {"index", "label", "orbit"} <= set(rows[0])
    assert sum(r["label"] == "s_z" for r in rows) == 16


def test_sites_table(capsys):
    assert main(["sites", str(HOST_CIF)]) == 0
    out = capsys.readouterr().out
    assert "s_x 8, s_y 8, s_z 8" in out


def test_closed_pipe_ends_quietly():
    """`dftflow sites X | head -1`: the reader leaves early; no traceback, the shell's SIGPIPE status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dftflow", "sites", str(HOST_CIF), "--supercell", "4x4x8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    proc.stdout.readline()
    proc.stdout.close()  # 150 kB of rows cannot all fit in the pipe: the writer is still writing
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_inputs_writes_one_folder_per_calculation(tmp_path, capsys):
    out = tmp_path / "inputs"
    assert (
        main(["inputs", str(WORKFLOWS / "wo3_vacancy_concentration.yaml"), "--out", str(out), "--potcars", "spec"]) == 0
    )
    index = json.loads((out / "calculations.json").read_text())
    assert len(index) == 13  # bulk relax + 4 systems x (relax, static, bands)
    for row in index:
        folder = out / row["directory"]
        assert {"INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"} <= {p.name for p in folder.iterdir()}
        assert (folder / "NOTE.txt").exists() == (row["parent"] is not None)
    note = (out / "hse-static_WO3" / "NOTE.txt").read_text()
    assert "UNRELAXED" in note and "WAVECAR" in note


def test_plan_lists_every_calculation(capsys):
    assert main(["plan", str(WORKFLOWS / "wo3_vacancy_concentration.yaml"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in rows][0] == "bulk relax"
    by_label = {r["label"]: r for r in rows}
    vo = by_label["hse-static WO2.938 V_O(s_z) q=+2"]
    assert (vo["atoms"], vo["nelect"], vo["nbands"], vo["kpoints"]) == (63, 504, 302, 16)
    bands = by_label["hse-bands WO3"]
    assert bands["kpoints_weighted"] == 16 and bands["kpoints"] > 16
    assert bands["relative_cost"] > by_label["hse-static WO3"]["relative_cost"] > by_label["relax WO3"]["relative_cost"]


BAD = [
    ({"systems": [{"defects": [{"type": "vacancy", "site": "s_q"}]}]}, "site"),
    ({"systems": [{"defects": [{"type": "vacancy", "site": "s_z", "count": 3}]}]}, "do not fit"),
    ({"supercell": [2, 2, 2], "systems": [{"defects": [{"type": "hydrogen", "x": "1/3"}]}]}, "k/64"),
    ({"systems": [{"defects": [{"type": "vacancy", "site": "s_z"}], "charge": 0.5}]}, "charge"),
    ({"host": {"structure": "missing.cif"}}, "not found"),
    ({"walltime": 3}, "unknown key 'walltime'"),
]


@pytest.mark.parametrize("overrides, message", BAD)
def test_bad_input_exits_2_and_writes_nothing(write_study, tmp_path, overrides, message):
    study = write_study(overrides)
    out = tmp_path / "out"
    result = run("inputs", study, "--out", out, "--potcars", "spec")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["study.yaml"]


def test_real_potcars_without_psp_dir_is_a_clear_error(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "PMG_VASP_PSP_DIR"}
    env["HOME"] = str(tmp_path)  # no ~/.config/.pmgrc.yaml either
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dftflow",
            "inputs",
            str(WORKFLOWS / "wo3_vacancy_sites.yaml"),
            "--out",
            str(tmp_path / "o"),
            "--potcars",
            "real",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 2 and "PMG_VASP_PSP_DIR" in result.stderr
    assert not (tmp_path / "o").exists()


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run("inputs", WORKFLOWS / "wo3_vacancy_sites.yaml", "--out", out, "--potcars", "spec")
    assert result.returncode == 2 and "--force" in result.stderr
    assert (out / "keep.txt").read_text() == "mine"
