"""Running VASP (or mock-vasp) in a directory under custodian, with handler sets chosen per step.

* Relaxations get the full set of VASP error handlers; hybrid steps get the ones that apply to a
  static hybrid run (custodian's handlers never move a hybrid to ALGO = Fast: they escalate to All,
  then Damped). PotimErrorHandler and MeshSymmetryErrorHandler are left out of hybrid statics (no
  ionic steps, ISYM = 0).
* FrozenJobErrorHandler's timeout is per step: a 256-atom hybrid SCF step can take longer than
  custodian's default of one hour without printing anything.
* The command comes only from the worker configuration (`vasp_cmd`), split with shlex and started
  without a shell: nothing from a study file ever reaches a shell.
* A finished run leaves `dftflow_run.json` (inputs hash, corrections) so that a rerun in the same
  directory after a kill between "VASP finished" and "result stored" does not run VASP again.
* vasprun.xml is checked (custodian's validator and unconverged-run handler) by dftflow's streaming reader
  (lean_checks.py): pymatgen's parse of a multi-GB file took ~20 GB twice per run.
"""

from __future__ import annotations

import json
import logging
import shlex
from pathlib import Path

from custodian import Custodian
from custodian.vasp.handlers import (
    FrozenJobErrorHandler,
    LargeSigmaHandler,
    MeshSymmetryErrorHandler,
    NonConvergingErrorHandler,
    PositiveEnergyErrorHandler,
    PotimErrorHandler,
    StdErrHandler,
    VaspErrorHandler,
    WalltimeHandler,
)
from custodian.vasp.jobs import VaspJob
from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator

from dftflow.errors import InputError
from dftflow.fileio import atomic_write_json
from dftflow.steps import Step
from dftflow.vasp.lean_checks import FastUnconvergedErrorHandler, FastVasprunXMLValidator
from dftflow.vasp.outputs import SOFT_STOP, read_text, unfinished

RUN_RECORD = "dftflow_run.json"
# seconds without a change to any output before custodian's FrozenJobErrorHandler calls a run frozen: an
# hour for a PBEsol SCF step, six for a hybrid one or a DFPT step (VASP writes nothing between them)
FROZEN_TIMEOUT = {
    Step.BULK_RELAX: 3600,
    Step.RELAX: 7200,
    Step.DIELECTRIC: 6 * 3600,
    Step.HSE_RELAX: 6 * 3600,
    Step.HSE_STATIC: 6 * 3600,
    Step.HSE_BANDS: 6 * 3600,
    Step.HSE_PARCHG: 6 * 3600,
}
RELAXATIONS = (Step.BULK_RELAX, Step.RELAX, Step.HSE_RELAX)
MAX_ERRORS = 5


def handlers_for(step: str, frozen_timeout: float | None = None, wall_time: float | None = None) -> list:
    timeout = frozen_timeout or FROZEN_TIMEOUT[Step(step)]
    common = [
        VaspErrorHandler(),
        FastUnconvergedErrorHandler(),
        NonConvergingErrorHandler(),
        StdErrHandler(),
        PositiveEnergyErrorHandler(),
        FrozenJobErrorHandler(timeout=timeout),
    ]
    if Step(step) in RELAXATIONS:
        common += [MeshSymmetryErrorHandler(), PotimErrorHandler(), LargeSigmaHandler()]
    if wall_time:
        common.append(WalltimeHandler(wall_time=int(wall_time), buffer_time=min(300, int(wall_time) // 10)))
    return common


def vasp_command(vasp_cmd: str | list) -> list[str]:
    """The worker's vasp_cmd as an argument list (shlex; no shell)."""
    if not vasp_cmd:
        raise InputError("no vasp_cmd configured for this worker (FWorker env 'vasp_cmd' or DFTFLOW_VASP_CMD)")
    return list(vasp_cmd) if isinstance(vasp_cmd, list | tuple) else shlex.split(vasp_cmd)


def finished_run(directory: Path, input_hash: str | None) -> dict | None:
    """The record of a run that already completed in `directory` with these inputs, if any."""
    path = Path(directory) / RUN_RECORD
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("completed") and record.get("input_hash") == input_hash:
        return record
    return None


def continue_stopped_relaxation(directory: Path) -> bool:
    """Before rerunning a relaxation that a STOPCAR stopped, start it from its last geometry."""
    import shutil

    contcar = directory / "CONTCAR"
    if SOFT_STOP in read_text(directory, "vasp.out") and contcar.is_file() and contcar.stat().st_size > 0:
        shutil.copy2(contcar, directory / "POSCAR")
        (directory / "vasp.out").rename(directory / "vasp.out.stopped")
        (directory / "STOPCAR").unlink(missing_ok=True)  # VASP would stop again at its first ionic step
        return True
    return False


def outputs_complete(directory: Path, step: str) -> bool:
    """True when the directory holds the outputs of a finished, error-free VASP run: custodian's
    validators pass and none of this step's handlers (except the time-based ones) finds an error."""
    if not (directory / "vasprun.xml").is_file():
        return False
    validator_log = logging.getLogger(VasprunXMLValidator.__name__)
    validator_log.disabled = True  # a truncated vasprun.xml is an expected answer here, not an error to print
    try:
        if any(v.check(str(directory)) for v in (FastVasprunXMLValidator(), VaspFilesValidator())):
            return False
    finally:
        validator_log.disabled = False
    timed = (FrozenJobErrorHandler, WalltimeHandler)
    if any(h.check(str(directory)) for h in handlers_for(step) if not isinstance(h, timed)):
        return False
    return unfinished(directory) is None


def _custodian_log(directory: Path) -> list:
    path = directory / "custodian.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else []
    except ValueError:
        return []


def run_vasp(
    directory: str | Path,
    step: str,
    vasp_cmd: str | list,
    input_hash: str | None = None,
    *,
    scratch_dir: str | None = None,
    frozen_timeout: float | None = None,
    wall_time: float | None = None,
    polling_time_step: float = 10,
    monitor_freq: int = 30,
    max_errors: int = MAX_ERRORS,
) -> dict:
    """Run custodian in `directory`; returns the run record (corrections included)."""
    directory = Path(directory)
    done = finished_run(directory, input_hash)
    if done is not None:
        return {**done, "reused": True}
    if outputs_complete(directory, step):  # VASP finished, but we were killed before recording it
        record = {
            "completed": True,
            "input_hash": input_hash,
            "step": step,
            "recovered": True,
            "corrections": _plain(_custodian_log(directory)),
        }
        atomic_write_json(directory / RUN_RECORD, record)
        return {**record, "reused": True}
    continue_stopped_relaxation(directory)
    job = VaspJob(vasp_command(vasp_cmd), output_file="vasp.out", stderr_file="std_err.txt", auto_npar=False)
    custodian = Custodian(
        handlers_for(step, frozen_timeout, wall_time),
        [job],
        validators=[FastVasprunXMLValidator(), VaspFilesValidator()],
        max_errors=max_errors,
        polling_time_step=polling_time_step,
        monitor_freq=monitor_freq,
        scratch_dir=scratch_dir,
        gzipped_output=False,
        directory=str(directory),
    )
    corrections = custodian.run()
    problem = unfinished(directory)
    if problem is not None:
        raise RuntimeError(f"{directory.name}: {problem}")
    record = {"completed": True, "input_hash": input_hash, "step": step, "corrections": _plain(corrections)}
    atomic_write_json(directory / RUN_RECORD, record)
    return record


def _plain(run_log) -> list:
    """Every correction custodian made (its run log has one entry per job), as plain JSON: the errors,
    the actions and the handler's class name."""
    out = []
    for job in run_log or []:
        for c in job.get("corrections", []):
            handler = c.get("handler")
            name = handler.get("@class") if isinstance(handler, dict) else type(handler).__name__ if handler else None
            out.append(
                {
                    "errors": [str(e) for e in c.get("errors", [])],
                    "actions": json.loads(json.dumps(c.get("actions"), default=str)),
                    "handler": name,
                }
            )
    return out
