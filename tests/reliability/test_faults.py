"""Fault campaign: every failure mock-vasp can inject, run inside a real workflow step (FireWorks ->
custodian -> mock-vasp -> store), with its outcome checked: corrected and completed with the
correction recorded, or FIZZLED with a clear reason and nothing stored - then a rerun finishes.

docs/fault_outcomes.md is the table of these cases: each case checks that what it observed is its row,
and test_fault_table checks on every run that the document holds exactly these rows, so the document
cannot drift from the behaviour. Regenerate it with DFTFLOW_WRITE_FAULT_TABLE=1.
"""

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_STUDIES, dftflow, guarded_env

STUDY = TEST_STUDIES / "pristine_only.yaml"
TABLE = ROOT / "docs" / "fault_outcomes.md"
BULK, STATIC = "bulk relax", "hse-static WO3"

# fault spec, step it hits, expected outcome, custodian's error names, what a user then does
CASES = {
    "zbrent": ("zbrent:ionic=2", BULK, "corrected", ["zbrent"], ""),
    "edddav": ("edddav:ionic=2", BULK, "corrected", ["edddav"], ""),
    "eddrmm": ("eddrmm:ionic=2", BULK, "corrected", ["eddrmm"], ""),
    "edwav": ("edwav:ionic=2", BULK, "corrected", ["grad_not_orth"], ""),
    "too_few_bands": ("too_few_bands", BULK, "corrected", ["too_few_bands"], ""),
    "kmesh": ("kmesh", BULK, "corrected", ["ksymm"], ""),
    "nelm": ("nelm", STATIC, "corrected", ["Unconverged"], ""),
    "frozen": ("frozen:ionic=2", BULK, "corrected", ["Frozen job"], ""),
    "brmix": (
        "brmix:ionic=2",
        BULK,
        "completed, not corrected",
        [],
        "custodian ignores BRMIX when NELECT is set (every dftflow INCAR sets it)",
    ),
    "memory": ("memory", BULK, "FIZZLED", [], "dftflow run --rerun-failed"),
    "killed": ("killed:ionic=2", BULK, "FIZZLED", [], "dftflow run --rerun-failed"),
    "walltime": ("walltime:delay=2", BULK, "FIZZLED", [], "dftflow run --rerun-failed (continues from CONTCAR)"),
}
# what the one-line reason of a FIZZLED step must contain, and how the table says it
REASONS = {
    "memory": ("StdErrHandler", "custodian's StdErrHandler: out of memory, unrecoverable with KPAR = 1"),
    "killed": ("VasprunXMLValidator", "custodian's VasprunXMLValidator: truncated vasprun.xml"),
    "walltime": ("stopped by STOPCAR", "VASP stopped by STOPCAR before the relaxation finished: not stored"),
}
TABLE_HEADER = (
    "| fault | injected (MOCK_VASP_FAULTS) | step | outcome | custodian errors | then |\n|---|---|---|---|---|---|"
)


def _label_spec(spec: str, label: str) -> str:
    return f"{spec}:system={label}"


def _stored(workdir: Path) -> dict:
    from dftflow.db import connect_results

    db = connect_results(workdir / "db.json")
    docs = {d["task_label"]: d for d in db.query({"study": "pristine_only"})}
    db.store.close()
    return docs


def _row(name, spec, label, outcome, errors, after) -> str:
    return f"| {name} | `{spec}` | {label} | {outcome} | {', '.join(errors) or '-'} | {after or '-'} |"


def expected_row(name: str) -> str:
    spec, label, outcome, errors, after = CASES[name]
    said = f"FIZZLED: {REASONS[name][1]}" if outcome == "FIZZLED" else outcome
    return _row(name, spec, label, said, errors, after)


@pytest.mark.parametrize("name", list(CASES))
def test_fault_outcome(name, tmp_path):
    spec, label, outcome, errors, after = CASES[name]
    env = guarded_env(
        tmp_path,
        MOCK_VASP_FAULTS=_label_spec(spec, label),
        MOCK_VASP_FROZEN_SECONDS=60,
        DFTFLOW_FROZEN_TIMEOUT=4,
        # the short wall time only where it is the fault: elsewhere a loaded machine would reach it
        **({"DFTFLOW_WALL_TIME": 8} if name == "walltime" else {}),
    )
    workdir = tmp_path / "wd"
    first = dftflow("run", STUDY, "--workdir", workdir, env=env)
    stored = _stored(workdir)
    if outcome == "FIZZLED":
        assert first.returncode == 1, first.stdout
        assert f"{label} failed:" in first.stdout  # the reason, on one line
        reason = next(line for line in first.stdout.splitlines() if f"{label} failed:" in line)
        assert label not in stored, "a failed step must leave the database unchanged"
        again = dftflow("run", STUDY, "--workdir", workdir, "--rerun-failed", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        stored = _stored(workdir)
        assert stored[label]["state"] == "successful"
        must_contain, said = REASONS[name]
        assert must_contain in reason, reason
        observed = f"FIZZLED: {said}"
    else:
        assert first.returncode == 0, first.stdout + first.stderr
        doc = stored[label]
        assert doc["state"] == "successful"
        recorded = [e for c in doc["custodian"] for e in c["errors"]]
        assert recorded == errors, f"custodian corrections stored with the result: {doc['custodian']}"
        for correction in doc["custodian"]:
            for action in correction["actions"] or []:
                assert (action.get("action", {}).get("_set") or {}).get("ALGO") not in ("Fast", "VeryFast")
        observed = outcome
    assert sorted(stored) == ["bulk relax", "hse-static WO3", "relax WO3"]
    assert _row(name, spec, label, observed, errors, after) == expected_row(name)


def test_fault_table():
    """docs/fault_outcomes.md holds exactly the rows of CASES, in order, under its header (each case above
    checks its row against what it observed). DFTFLOW_WRITE_FAULT_TABLE=1 rewrites the table first."""
    intro, table = TABLE.read_text().split("| fault |", 1)
    expected = TABLE_HEADER + "\n" + "\n".join(expected_row(name) for name in CASES) + "\n"
    if os.environ.get("DFTFLOW_WRITE_FAULT_TABLE"):
        TABLE.write_text(intro + expected)
        intro, table = TABLE.read_text().split("| fault |", 1)
    assert intro.startswith("# What happens when VASP fails") and "mock-vasp" in intro
    assert "| fault |" + table == expected, "docs/fault_outcomes.md is out of date: DFTFLOW_WRITE_FAULT_TABLE=1"
