"""Outputs of stored runs are never deleted: an edited study reruns in fresh directories, and a directory
whose run had other inputs has that run set aside (under a name its stored task points to) before new
inputs are written; files of the launch (FW.json, a queue's FW_job.out/.error) stay where they are."""

import hashlib
import json
import shutil
from pathlib import Path

import yaml

from dftflow.calculations import Study
from dftflow.db import ResultsDB
from dftflow.embedded import open_store
from dftflow.jobs import prepare_calculation, set_aside_other_run
from dftflow.study import study_from_dict
from tests.conftest import HOST_CIF, TEST_STUDIES, dftflow, guarded_env, run_log

BASE = {
    "name": "aside",
    "host": {"structure": str(HOST_CIF)},
    "supercell": [1, 1, 1],
    "kpoints": {"bulk": [2, 2, 2], "supercell": [2, 2, 2]},
    "systems": [{"defects": []}],
}
LAUNCH_FILES = {"FW.json": "{}", "FW_job.out": "slurm stdout\n", "FW_job.error": "slurm stderr\n", "notes.txt": "mine"}


def _study(**changes) -> Study:
    return Study(study_from_dict({**BASE, **changes}), potcars="spec")


def _fake_run(directory, input_hash):
    for name in ("OUTCAR", "vasprun.xml.gz", "CONTCAR", "INCAR.orig", "error.1.tar.gz", "vasp.out"):
        (directory / name).write_text(f"{name} of {input_hash}")
    (directory / "dftflow_run.json").write_text(json.dumps({"completed": True, "input_hash": input_hash}))


def test_a_run_of_other_inputs_is_set_aside_and_its_stored_task_follows(tmp_path):
    db = ResultsDB.embedded(open_store(tmp_path / "store"), tmp_path)
    directory = tmp_path / "calcs" / "bulk_relax"
    directory.mkdir(parents=True)
    first = prepare_calculation(_study(), "bulk relax", directory, db=db)
    _fake_run(directory, first["input_hash"])
    for name, text in LAUNCH_FILES.items():
        (directory / name).write_text(text)
    task = {"study": "aside", "task_label": "bulk relax", "input": {"hash": first["input_hash"]}, "state": "successful"}
    db.tasks.insert_one({**task, "dir_name": str(directory.resolve())})

    second = prepare_calculation(_study(encut=600), "bulk relax", directory, db=db)

    assert second["input_hash"] != first["input_hash"]
    aside = directory.with_name(f"bulk_relax.{first['input_hash'][:8]}")
    assert json.loads((aside / "dftflow_inputs.json").read_text())["input_hash"] == first["input_hash"]
    assert (aside / "OUTCAR").read_text() == f"OUTCAR of {first['input_hash']}"
    assert {p.name for p in aside.iterdir()} >= {"INCAR", "POSCAR", "vasprun.xml.gz", "error.1.tar.gz", "vasp.out"}
    assert db.tasks.find_one({"input.hash": first["input_hash"]})["dir_name"] == str(aside.resolve())
    assert all((directory / name).read_text() == text for name, text in LAUNCH_FILES.items())
    assert not (directory / "OUTCAR").exists() and not (directory / "dftflow_run.json").exists()
    assert json.loads((directory / "dftflow_inputs.json").read_text())["input_hash"] == second["input_hash"]
    db.store.close()


def test_a_set_aside_interrupted_by_a_kill_is_finished_by_the_next_attempt(tmp_path):
    directory = tmp_path / "relax"
    directory.mkdir()
    first = prepare_calculation(_study(), "bulk relax", directory)
    _fake_run(directory, first["input_hash"])
    aside = directory.with_name(f"relax.{first['input_hash'][:8]}")
    aside.mkdir()
    shutil.move(directory / "OUTCAR", aside / "OUTCAR")  # killed after moving one file
    assert set_aside_other_run(directory) == aside
    assert not any(p.name != "FW.json" for p in directory.iterdir())
    assert (aside / "OUTCAR").is_file() and (aside / "CONTCAR").is_file() and (aside / "dftflow_inputs.json").is_file()
    _fake_run(directory, "other")  # a later run with yet other inputs goes next to it, not into it
    (directory / "dftflow_inputs.json").write_text(json.dumps({"input_hash": first["input_hash"]}))
    assert set_aside_other_run(directory) == aside.with_name(aside.name + "-2")


def _digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_rerun_of_an_edited_study_keeps_the_stored_runs_files(tmp_path):
    log = tmp_path / "runs.jsonl"
    env = guarded_env(tmp_path, MOCK_VASP_RUN_LOG=log)
    spec = yaml.safe_load((TEST_STUDIES / "pristine_only.yaml").read_text())
    spec["host"]["structure"] = str(HOST_CIF)
    study = tmp_path / "study.yaml"
    study.write_text(yaml.safe_dump(spec))
    workdir = tmp_path / "wd"
    assert dftflow("run", study, "--workdir", workdir, env=env).returncode == 0
    before = _tasks(workdir)
    files_before = {label: _digest(Path(t["dir_name"])) for label, t in before.items()}

    spec["kpoints"]["supercell"] = [1, 1, 1]  # the edit: relax WO3 and hse-static WO3 get other inputs
    study.write_text(yaml.safe_dump(spec))
    second = dftflow("run", study, "--workdir", workdir, env=env)
    assert second.returncode == 0, second.stdout + second.stderr

    after = _tasks(workdir, every=True)
    for label, task in before.items():  # every run stored before: still stored, its files untouched
        kept = [t for t in after if t["task_label"] == label and t["input"]["hash"] == task["input"]["hash"]]
        assert len(kept) == 1 and kept[0]["dir_name"] == task["dir_name"]
        assert _digest(Path(task["dir_name"])) == files_before[label]
    new = [t for t in after if t["input"]["hash"] not in {b["input"]["hash"] for b in before.values()}]
    assert sorted(t["task_label"] for t in new) == ["hse-static WO3", "relax WO3"]
    assert all(".pristine_only." not in t["dir_name"] for t in before.values())
    assert all("/calcs/pristine_only." in t["dir_name"] for t in new)  # the edited study's own directories
    for task in new:
        record = json.loads((Path(task["dir_name"]) / "dftflow_inputs.json").read_text())
        assert record["input_hash"] == task["input"]["hash"]
    runs = [r["system"] for r in run_log(log) if r.get("exit_status") == 0]
    assert runs.count("bulk relax") == 1  # unchanged inputs: found stored, not run again


def _tasks(workdir, every=False):
    from dftflow.db import connect_results, forget_connections

    db = connect_results(workdir / "db.json")
    docs = db.query({"study": "pristine_only"})
    db.store.close()
    forget_connections()
    return docs if every else {d["task_label"]: d for d in docs}
