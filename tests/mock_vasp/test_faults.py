"""Every injected fault is recognised by the matching custodian handler, and the corrected rerun succeeds."""

from __future__ import annotations

import json

import pytest
from conftest import BULK_RELAX, bulk_structure, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

STATIC = dict(BULK_RELAX, SYSTEM="static", NSW=0, IBRION=-1, ISIF=2, LWAVE=False, LCHARG=False)
RELAX = dict(BULK_RELAX, SYSTEM="relax", ISIF=2, NSW=30, LWAVE=False, LCHARG=False)


def _custodian(d, handlers, monkeypatch, faults, validators=None, polling=0.2):
    from custodian import Custodian
    from custodian.vasp.jobs import VaspJob

    monkeypatch.setenv("MOCK_VASP_FAULTS", faults)
    monkeypatch.setenv("MOCK_VASP_RUN_LOG", str(d / "runs.jsonl"))
    monkeypatch.setenv("MOCK_VASP_FROZEN_SECONDS", "60")
    job = VaspJob(["mock-vasp"], auto_npar=False, auto_gamma=False)
    c = Custodian(
        handlers,
        [job],
        validators or [],
        max_errors=5,
        polling_time_step=polling,
        monitor_freq=1,
        directory=str(d),
    )
    return c


def _launches(d):
    return [json.loads(x) for x in (d / "runs.jsonl").read_text().splitlines()]


CASES = [
    ("zbrent:ionic=2", RELAX, "VaspErrorHandler", "zbrent"),
    ("edddav", STATIC, "VaspErrorHandler", "edddav"),
    ("eddrmm", STATIC, "VaspErrorHandler", "eddrmm"),
    ("brmix", STATIC, "VaspErrorHandler", "brmix"),
    ("too_few_bands", STATIC, "VaspErrorHandler", "too_few_bands"),
    ("edwav", dict(STATIC, ALGO="All"), "VaspErrorHandler", "grad_not_orth"),
    ("kmesh", STATIC, "VaspErrorHandler", "ksymm"),
    ("nelm", STATIC, "UnconvergedErrorHandler", "Unconverged"),
    ("memory", dict(STATIC, KPAR=2), "StdErrHandler", "out_of_memory"),
]


@pytest.mark.parametrize(("fault", "incar", "handler", "error"), CASES, ids=[c[0] for c in CASES])
def test_fault_is_handled_and_rerun_succeeds(tmp_path, monkeypatch, fault, incar, handler, error):
    from custodian.vasp import handlers as hmod

    kwargs = {}
    if error == "brmix":  # custodian ignores BRMIX when NELECT is set (charged cells)
        kwargs = {"charge": 0}
    write_inputs(tmp_path, bulk_structure(), incar, ("monkhorst", (2, 2, 2)), **kwargs)
    if error == "brmix":
        text = (tmp_path / "INCAR").read_text().splitlines()
        (tmp_path / "INCAR").write_text("\n".join(t for t in text if not t.startswith("NELECT")) + "\n")
    h = getattr(hmod, handler)()
    log = _custodian(tmp_path, [h], monkeypatch, fault).run()
    corrections = log[0]["corrections"]
    assert any(error in str(c["errors"]) for c in corrections), corrections
    runs = _launches(tmp_path)
    assert len(runs) == 2 and runs[-1]["exit_status"] == 0


def test_frozen_job_is_killed_and_restarted(tmp_path, monkeypatch):
    from custodian.vasp.handlers import FrozenJobErrorHandler

    write_inputs(tmp_path, bulk_structure(), RELAX, ("monkhorst", (2, 2, 2)))
    log = _custodian(tmp_path, [FrozenJobErrorHandler(timeout=2)], monkeypatch, "frozen:ionic=2").run()
    assert any("Frozen" in str(c["errors"]) for c in log[0]["corrections"])
    assert _launches(tmp_path)[-1]["exit_status"] == 0


def test_walltime_writes_stopcar_and_mock_stops_cleanly(tmp_path, monkeypatch):
    from custodian.custodian import CustodianError
    from custodian.vasp.handlers import WalltimeHandler

    write_inputs(tmp_path, bulk_structure(), dict(RELAX, NSW=40), ("monkhorst", (2, 2, 2)))
    monkeypatch.delenv("CUSTODIAN_WALLTIME_START", raising=False)
    c = _custodian(tmp_path, [WalltimeHandler(wall_time=4, buffer_time=3)], monkeypatch, "walltime:delay=1.0")
    try:
        c.run()
    except CustodianError:
        pass
    assert (tmp_path / "STOPCAR").is_file()
    assert "soft stop encountered!  aborting job" in (tmp_path / "OUTCAR").read_text()
    from pymatgen.io.vasp.outputs import Vasprun

    assert len(Vasprun(tmp_path / "vasprun.xml").ionic_steps) < 40
    assert _launches(tmp_path)[0]["exit_status"] == 0


def test_killed_run_leaves_truncated_vasprun(tmp_path, monkeypatch):
    from custodian.custodian import ValidationError
    from custodian.vasp.handlers import VaspErrorHandler
    from custodian.vasp.validators import VasprunXMLValidator

    write_inputs(tmp_path, bulk_structure(), STATIC, ("monkhorst", (2, 2, 2)))
    c = _custodian(tmp_path, [VaspErrorHandler()], monkeypatch, "killed", validators=[VasprunXMLValidator()])
    c.terminate_on_nonzero_returncode = False
    with pytest.raises(ValidationError):
        c.run()
    assert "</modeling>" not in (tmp_path / "vasprun.xml").read_text()
    assert _launches(tmp_path)[0]["exit_status"] == -9
