"""The embedded default: `dftflow run` on a laptop or in CI, no server.

A work directory holds a durable store (FireWorks LaunchPad + results), blob files, one directory per
calculation (calcs/<study>/<label slug>; an edited study's in calcs/<study>.<spec hash[:8]>/) and the
reports. Running a study:
1. take the work directory's exclusive lock (a second `dftflow run` on it is refused);
2. put back to READY every Firework a killed run left RUNNING/RESERVED (we hold the lock, so their
   processes are dead);
3. add the study's workflow unless the same study (same spec hash) is already there;
4. launch its READY Fireworks one by one in this process with FireWorks' own Rocket, printing progress;
5. the last Firework writes the report; print where it is.
Kill it at any moment and run again: completed calculations are kept (results are journaled before a
Firework is marked done, VASP directories are reused when their run finished) and none runs twice.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dftflow.db import ResultsDB
from dftflow.embedded import open_store
from dftflow.errors import InputError
from dftflow.fileio import atomic_write_json
from dftflow.launchpad import EmbeddedLaunchPad, quiet_fireworks_logging
from dftflow.store_lock import StoreBusy
from dftflow.vasp.potcars import require_potcar_dir

if TYPE_CHECKING:  # imported where a study is run: `dftflow status` and `results` only open the work directory
    from dftflow.calculations import Study

EMBEDDED_CUSTODIAN = {"polling_time_step": 0.2, "monitor_freq": 25}  # a mock run takes seconds, not hours


def mock_vasp_command() -> list[str]:
    """The mock-vasp console script of this installation (next to this Python, or on PATH)."""
    local = Path(sys.executable).parent / "mock-vasp"
    found = str(local) if local.exists() else shutil.which("mock-vasp")
    if not found:
        raise InputError("mock-vasp is not installed: pip install -e . installs it with dftflow")
    return [found]


def tethered(command: list[str]) -> list[str]:
    """Run `command` through dftflow.vasp.tether so it dies with this process (see that module)."""
    return [sys.executable, "-m", "dftflow.vasp.tether", "--", *command]


@dataclass
class Workdir:
    path: Path
    store: object
    launchpad: EmbeddedLaunchPad
    db: ResultsDB
    db_file: Path

    def close(self) -> None:
        self.store.close()


def open_workdir(path: str | Path) -> Workdir:
    path = Path(path).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"work directory {path} is not writable: {exc.strerror}") from exc
    try:
        store = open_store(path / "store")
    except StoreBusy as busy:
        advice = "; wait for it to finish or use another --workdir"
        raise StoreBusy(path, busy.holder, what="work directory", advice=advice) from None
    (path / "logs").mkdir(exist_ok=True)
    quiet_fireworks_logging(path / "logs" / "run.log")
    launchpad = EmbeddedLaunchPad(store, strm_lvl="CRITICAL")
    db_file = path / "db.json"
    if not db_file.exists():
        atomic_write_json(db_file, {"embedded_store": str(path / "store"), "workdir": str(path)})
    return Workdir(path, store, launchpad, ResultsDB.embedded(store, path), db_file)


def resolve_executor(executor: str, vasp_cmd: str | None) -> tuple[str, list[str] | str, str]:
    """(executor, command, message). auto = vasp when a VASP command is configured, else mock."""
    if executor not in ("auto", "mock", "vasp"):
        raise InputError(f"executor must be auto, mock or vasp, got {executor!r}")
    if executor == "vasp" or (executor == "auto" and vasp_cmd):
        if not vasp_cmd:
            raise InputError(
                "--executor vasp needs a VASP command: set DFTFLOW_VASP_CMD or vasp_cmd in ~/.dftflow.yaml"
            )
        require_potcar_dir()
        return "vasp", vasp_cmd, f"executor: VASP ({vasp_cmd})"
    note = "" if executor == "mock" else " (no VASP command configured)"
    return (
        "mock",
        mock_vasp_command(),
        (f"executor: mock-vasp{note}. Its results are MODEL OUTPUT, not DFT: they show the pipeline works."),
    )


@dataclass
class RunSummary:
    study: str
    states: dict[str, str] = field(default_factory=dict)  # label -> FireWorks state
    launched: list[str] = field(default_factory=list)
    report: Path | None = None
    wall_time: float = 0.0

    @property
    def complete(self) -> bool:
        return bool(self.states) and all(s == "COMPLETED" for s in self.states.values())


def study_workflow_id(launchpad, study: Study) -> int | None:
    """fw_id of a Firework of this study's existing workflow (same name and spec hash), if any."""
    wf = launchpad.workflows.find_one({"metadata.study": study.spec.name, "metadata.spec_hash": study.spec_hash()})
    return wf["nodes"][0] if wf else None


def launch_root(workdir: Workdir, study: Study) -> Path:
    """calcs/<study> for the first version of a study in this work directory; an edited study (another
    spec hash) runs in calcs/<study>.<spec hash[:8]>, so no directory of a stored run is written again
    (calculations whose inputs did not change are found stored and not run again)."""
    from dftflow.calculations import slug

    root = workdir.path / "calcs" / slug(study.spec.name)
    others = {"metadata.study": study.spec.name, "metadata.spec_hash": {"$ne": study.spec_hash()}}
    if workdir.launchpad.workflows.count_documents(others) == 0:
        return root
    return root.with_name(f"{root.name}.{study.spec_hash()[:8]}")


def add_study(workdir: Workdir, study: Study, executor: str) -> int:
    existing = study_workflow_id(workdir.launchpad, study)
    if existing is not None:
        return existing
    from dftflow.builders import StudyWorkflowBuilder
    from dftflow.calculations import slug

    builder = StudyWorkflowBuilder(
        study,
        potcars="real" if executor == "vasp" else "spec",
        launch_root=str(launch_root(workdir, study)),
        report_dir=str(workdir.path / "reports" / slug(study.spec.name)),
    )
    workdir.launchpad.add_wf(builder.make())
    return study_workflow_id(workdir.launchpad, study)


def run_study(
    study: Study,
    workdir: Workdir,
    executor: str,
    command,
    out=sys.stdout,
    custodian_settings: dict | None = None,
    rerun_failed: bool = False,
) -> RunSummary:
    """Launch every READY Firework of the study's workflow in this process, with a progress display."""
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket

    from dftflow.calculations import slug

    start = time.time()
    lp = workdir.launchpad
    recovered = lp.recover_dead_runs()
    if recovered:
        print(f"recovered {len(recovered)} calculation(s) interrupted by an earlier kill; they run again", file=out)
    fw_id = add_study(workdir, study, executor)
    wf_ids = lp.get_wf_by_fw_id(fw_id).fw_states.keys()
    failed = lp.get_fw_ids({"fw_id": {"$in": list(wf_ids)}, "state": "FIZZLED"})
    if failed and rerun_failed:
        for failed_id in failed:
            lp.rerun_fw(failed_id)
        print(f"rerunning {len(failed)} calculation(s) that failed before", file=out)
    elif failed:
        names = ", ".join(lp.get_fw_by_id(i).name for i in failed)
        print(
            f"{len(failed)} calculation(s) failed before and are not retried: {names} "
            "(dftflow run --rerun-failed retries them)",
            file=out,
        )
    fworker = FWorker(
        name="dftflow-embedded",
        env={
            "vasp_cmd": tethered(list(command)) if isinstance(command, list) else command,
            "db_file": str(workdir.db_file),
            "custodian_settings": {**EMBEDDED_CUSTODIAN, **(custodian_settings or {})},
        },
    )
    summary = RunSummary(study.spec.name)
    total = len(wf_ids)
    cwd = os.getcwd()
    try:
        while True:
            ready = sorted(lp.get_fw_ids({"fw_id": {"$in": list(wf_ids)}, "state": "READY"}))
            if not ready:
                break
            fw = lp.get_fw_by_id(ready[0])
            done = sum(1 for s in lp.get_wf_by_fw_id(fw_id).fw_states.values() if s == "COMPLETED")
            print(f"[{done + 1:>3}/{total}] {fw.name} ...", end="", flush=True, file=out)
            t0 = time.time()
            log_dir = workdir.path / "logs"
            log_dir.mkdir(exist_ok=True)
            with open(log_dir / f"{slug(fw.name)}.err", "a") as err_file:
                launch_rocket(lp, fworker, fw_id=fw.fw_id, strm_lvl="CRITICAL", err_file=err_file)
            os.chdir(cwd)  # the Rocket leaves us in the launch directory
            state = lp.get_fw_by_id(fw.fw_id).state
            print(f" {state.lower()} ({time.time() - t0:.1f} s)", file=out, flush=True)
            summary.launched.append(fw.name)
            if state == "FIZZLED":
                reason = _fizzle_reason(lp, fw.fw_id)
                print(f"      {fw.name} failed: {reason} (traceback: logs/{slug(fw.name)}.err)", file=out)
    finally:
        os.chdir(cwd)
    wf = lp.get_wf_by_fw_id(fw_id)
    summary.states = {fw.name: fw.state for fw in wf.fws}
    report = workdir.path / "reports" / slug(study.spec.name) / "report.md"
    summary.report = report if report.exists() else None
    summary.wall_time = time.time() - start
    return summary


def _fizzle_reason(lp, fw_id: int) -> str:
    fw = lp.get_fw_by_id(fw_id)
    for launch in reversed(fw.launches or []):
        exc = (launch.action.stored_data or {}).get("_exception", {}) if launch.action else {}
        if exc:
            lines = [ln for ln in str(exc.get("_stacktrace", "")).strip().splitlines() if ln.strip()]
            return lines[-1] if lines else "unknown error"
    return "unknown error"
