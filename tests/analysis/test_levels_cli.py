"""`dftflow levels` on plain VASP run directories gives what the workflow's analysis gives on the same runs
stored in the results database."""

import json

import pytest

from dftflow.analysis.defect_levels import defect_levels
from dftflow.analysis.rundata import RunData
from dftflow.db import ResultsDB
from dftflow.embedded import open_store
from dftflow.vasp.task_document import task_document
from tests.conftest import REAL_VASP, dftflow, guarded_env

MG = REAL_VASP / "GaN_Mg_Ga_defect"


def _stored(db, directory, label):
    doc, arrays = task_document(directory)
    doc.update({"study": "gan", "task_label": label})
    db.store_task(doc, arrays)
    return RunData.from_db(db, db.task("gan", label))


@pytest.mark.parametrize("charge", [0, -2])
def test_levels_command_equals_the_workflow_analysis(tmp_path, charge):
    store = open_store(tmp_path / "store")
    try:
        db = ResultsDB.embedded(store, tmp_path)
        pristine = _stored(db, MG / "bulk_sc", "hse-static GaN")
        defect = _stored(db, MG / f"q={charge}", f"hse-static Mg_Ga q={charge}")
        workflow = json.loads(json.dumps(defect_levels(defect, pristine).as_dict(), default=str))
    finally:
        store.close()
    out = dftflow("levels", MG / f"q={charge}", "--pristine", MG / "bulk_sc", "--json", env=guarded_env(tmp_path))
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    assert cli.pop("model_output") is False
    cli.pop("label"), workflow.pop("label")  # the stored label is the workflow's job label
    assert cli == workflow


def test_levels_command_text_and_bad_input(tmp_path):
    env = guarded_env(tmp_path)
    out = dftflow("levels", MG / "q=0", "--pristine", MG / "bulk_sc", env=env)
    assert out.returncode == 0, out.stderr
    assert "Defect levels (localised in-gap states): 0" in out.stdout
    assert "shallow acceptor (holes in a host-like VB state): True" in out.stdout
    assert "Perturbed host states (not levels):" in out.stdout
    missing = dftflow("levels", tmp_path / "nope", "--pristine", MG / "bulk_sc", env=env)
    assert missing.returncode == 2 and "not found" in missing.stderr and len(missing.stderr.splitlines()) == 1
    not_a_run = dftflow("levels", tmp_path, "--pristine", MG / "bulk_sc", env=env)
    assert not_a_run.returncode == 2 and "vasprun.xml" in not_a_run.stderr
