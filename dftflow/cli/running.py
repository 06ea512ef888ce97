"""`dftflow run | submit | status | results | parse | report`: running studies and reading results."""

from __future__ import annotations

import json
from pathlib import Path

from dftflow.cli.inputs import _load
from dftflow.errors import InputError


def _study_name(arg: str | None) -> str | None:
    """A study argument is a study file or a study name."""
    if arg is None:
        return None
    if arg.endswith((".yaml", ".yml")) or Path(arg).is_file():
        from dftflow.study import load_study

        return load_study(arg).name
    return arg


def _workdir_path(args) -> Path:
    from dftflow.settings import load_settings

    return Path(args.workdir) if getattr(args, "workdir", None) else load_settings().home_path


def cmd_run(args) -> int:
    from dftflow.runner import open_workdir, resolve_executor, run_study
    from dftflow.settings import load_settings

    settings = load_settings()
    executor, command, message = resolve_executor(args.executor, settings.vasp_cmd)
    study = _load(args.study, potcars="real" if executor == "vasp" else "spec")
    study.check_inputs()
    custodian_settings = settings.custodian_settings()
    workdir = open_workdir(args.workdir or settings.home_path)
    try:
        print(f"study {study.spec.name}: {len(study.calculations)} calculations in {workdir.path}")
        print(message)
        summary = run_study(
            study,
            workdir,
            executor,
            command,
            custodian_settings=custodian_settings,
            rerun_failed=args.rerun_failed,
        )
    finally:
        workdir.close()
    counts = {}
    for state in summary.states.values():
        counts[state] = counts.get(state, 0) + 1
    print(
        f"{len(summary.launched)} launched in {summary.wall_time:.1f} s; states: "
        + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items()))
    )
    if summary.report:
        print(f"report: {summary.report}")
    if not summary.complete:
        print("study incomplete: fix the failures above and run again (completed calculations are kept)")
        return 1
    return 0


def cmd_submit(args) -> int:
    from dftflow.builders import StudyWorkflowBuilder
    from dftflow.runner import study_workflow_id

    study = _load(args.study, potcars=args.potcars)
    study.check_inputs()  # with real POTCARs this also finds them, before anything is submitted
    lp = _production_launchpad(args)
    if lp.fw_id_assigner.count_documents({}) == 0 and lp.workflows.count_documents({}) == 0:
        lp.reset("", require_password=False, max_reset_wo_password=0)  # what `lpad reset` does for a new DB
        print(f"initialised a new, empty LaunchPad database {lp.name!r}")
    existing = study_workflow_id(lp, study)
    if existing is not None:
        print(f"study {study.spec.name} is already on the LaunchPad (fw_id {existing}); nothing added")
        return 0
    mapping = lp.add_wf(StudyWorkflowBuilder(study, potcars=args.potcars).make())
    print(
        f"added study {study.spec.name}: {len(mapping)} Fireworks (fw_ids {min(mapping.values())}-"
        f"{max(mapping.values())}). Run them with FireWorks' qlaunch in reservation mode, one job per "
        f"Firework: qlaunch -c CONFIG_DIR -r rapidfire --nlaunches {len(mapping)} --sleep 60"
    )
    return 0


def _launchpad_and_db(args):
    """(launchpad, results db, closer) from --launchpad/--db-file, else the embedded work directory."""
    from dftflow.settings import load_settings

    settings = load_settings()
    lp_file = getattr(args, "launchpad", None) or (settings.launchpad if not getattr(args, "workdir", None) else None)
    db_file = getattr(args, "db_file", None) or (settings.db_file if not getattr(args, "workdir", None) else None)
    if lp_file or db_file:
        from dftflow.db import ResultsDB
        from dftflow.mongo import load_launchpad

        return (
            (load_launchpad(lp_file) if lp_file else None),
            (ResultsDB.from_db_file(db_file) if db_file else None),
            None,
        )
    from dftflow.runner import open_workdir

    path = _workdir_path(args)
    if not (path / "store").exists():
        raise InputError(f"no dftflow work directory at {path} (run a study first, or give --workdir)")
    workdir = open_workdir(path)
    return workdir.launchpad, workdir.db, workdir.close


def cmd_status(args) -> int:
    lp, _, close = _launchpad_and_db(args)
    try:
        if lp is None:
            raise InputError("status needs a LaunchPad: --launchpad or a work directory")
        query = {"metadata.study": _study_name(args.study)} if args.study else {}
        workflows = list(lp.workflows.find(query, {"nodes": 1, "metadata": 1, "name": 1}))
        if not workflows:
            print("no studies found" + (f" named {_study_name(args.study)}" if args.study else ""))
            return 0
        for wf_doc in workflows:
            fws = list(lp.fireworks.find({"fw_id": {"$in": wf_doc["nodes"]}}, {"name": 1, "state": 1, "fw_id": 1}))
            counts = {}
            for fw in fws:
                counts[fw["state"]] = counts.get(fw["state"], 0) + 1
            print(
                f"study {wf_doc['metadata'].get('study', wf_doc['name'])}: "
                + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items()))
            )
            for fw in sorted(fws, key=lambda f: f["fw_id"]):
                print(f"  {fw['state']:10s} {fw['name']}")
    finally:
        if close:
            close()
    return 0


def cmd_parse(args) -> int:
    from dftflow.vasp.outputs import run_summary

    info = run_summary(args.run_dir)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:{width}s}  {value}")
    if info["executor"] == "mock":
        print("(written by mock-vasp: MODEL OUTPUT, not DFT)")
    return 0


def cmd_report(args) -> int:
    from dftflow.calculations import slug
    from dftflow.report import write_report

    study = _load(args.study, potcars="spec")
    _, db, close = _launchpad_and_db(args)
    try:
        if db is None:
            raise InputError("report needs a results database: --db-file or a work directory")
        out = Path(args.out) if args.out else _workdir_path(args) / "reports" / slug(study.spec.name)
        paths = write_report(study, db, out)
    finally:
        if close:
            close()
    print(f"report: {paths['markdown']}")
    print(f"        {paths['html']}")
    return 0


def _production_launchpad(args):
    from dftflow.mongo import load_launchpad
    from dftflow.settings import load_settings

    lp_file = args.launchpad or load_settings().launchpad
    if not lp_file:
        raise InputError("no LaunchPad: give --launchpad my_launchpad.yaml or set DFTFLOW_LAUNCHPAD")
    return load_launchpad(lp_file)


def cmd_worker(args) -> int:
    from fireworks import FWorker
    from fireworks.core.rocket_launcher import launch_rocket, rapidfire

    lp = _production_launchpad(args)
    if args.fworker and not Path(args.fworker).is_file():
        raise InputError(f"FWorker file not found: {args.fworker}")
    fworker = FWorker.from_file(args.fworker) if args.fworker else FWorker()
    if args.singleshot:
        launch_rocket(lp, fworker)
    else:
        rapidfire(lp, fworker, nlaunches=args.nlaunches, sleep_time=1)
    return 0


def cmd_recover(args) -> int:
    lp = _production_launchpad(args)
    lost = lp.detect_lostruns(expiration_secs=args.expiration, rerun=True)[1]
    unreserved = lp.detect_unreserved(expiration_secs=args.expiration, rerun=True)
    print(
        f"{len(lost)} lost run(s) and {len(unreserved)} stale reservation(s) put back to READY"
        + (f": fw_ids {sorted(lost)}" if lost else "")
    )
    return 0
