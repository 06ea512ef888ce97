"""The `dftflow` command line. Thin: every command calls library functions and formats their result.

User errors (InputError) end in one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from dftflow.errors import InputError

EXIT_INPUT_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="pymatgen")  # CIF-parser chatter; our own checks report problems
    try:
        return args.func(args) or 0
    except InputError as exc:
        print(f"dftflow: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dftflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sites", help="label every O of a structure s_x/s_y/s_z with its orbit and geometry")
    p.add_argument("structure")
    p.add_argument("--supercell", default="1x1x1", help="e.g. 1x1x2")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("validate", help="check a study file and build every structure and input set")
    p.add_argument("study")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("inputs", help="write one VASP input folder per calculation, run nothing")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="directory to create")
    p.add_argument(
        "--potcars",
        choices=("auto", "real", "spec"),
        default="auto",
        help="real: POTCAR from PMG_VASP_PSP_DIR (error without it); spec: POTCAR.spec; "
        "auto: real when PMG_VASP_PSP_DIR is set (default)",
    )
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_inputs)

    p = sub.add_parser("plan", help="list every calculation with its size and relative cost")
    p.add_argument("study")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="run a study here: local LaunchPad + results store, mock-vasp or VASP")
    p.add_argument("study")
    p.add_argument("--workdir", help="work directory (default: $DFTFLOW_HOME or ./.dftflow)")
    p.add_argument(
        "--executor",
        choices=("auto", "mock", "vasp"),
        default="auto",
        help="auto: VASP when a VASP command is configured, else mock-vasp (default)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("submit", help="add a study's workflow to a production (MongoDB) LaunchPad")
    p.add_argument("study")
    p.add_argument("--launchpad", help="my_launchpad.yaml (default: $DFTFLOW_LAUNCHPAD)")
    p.add_argument(
        "--potcars",
        choices=("real", "spec"),
        default="real",
        help="real: workers need POTCARs (default); spec: offline workers running mock-vasp",
    )
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", help="state of every calculation of a study (or of all studies)")
    p.add_argument("study", nargs="?", help="study file or study name")
    _database_options(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("results", help="one row per stored calculation")
    p.add_argument("--study", help="study file or study name")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    _database_options(p)
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("parse", help="summary of any VASP run directory (energy, gap, band edges, functional)")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_parse)
    return parser


def _database_options(p) -> None:
    p.add_argument("--workdir", help="embedded work directory (default: $DFTFLOW_HOME or ./.dftflow)")
    p.add_argument("--launchpad", help="production my_launchpad.yaml (instead of a work directory)")
    p.add_argument("--db-file", help="production results db file (instead of a work directory)")


# --- sites -----------------------------------------------------------------------------------------
def cmd_sites(args) -> int:
    from dftflow.sites import Framework
    from dftflow.structures import load_structure, make_supercell, parse_supercell

    structure = make_supercell(load_structure(args.structure), parse_supercell(args.supercell))
    sites = Framework(structure).oxygen_sites()
    if args.json:
        print(json.dumps([s.as_dict() for s in sites], indent=1))
        return 0
    print(f"{'index':>5}  {'label':5}  {'orbit':>5}  {'W-O short':>9}  {'W-O long':>8}  {'W-O-W':>6}")
    for s in sites:
        print(
            f"{s.index:5d}  {s.label:5}  {s.orbit:5d}  {s.bond_lengths[0]:9.3f}  {s.bond_lengths[1]:8.3f}  "
            f"{s.angle:6.1f}"
        )
    counts = {label: sum(1 for s in sites if s.label == label) for label in ("s_x", "s_y", "s_z")}
    print(f"# {len(sites)} O: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


# --- studies ---------------------------------------------------------------------------------------
def _load(path: str, potcars: str = "auto"):
    from dftflow.calculations import Study
    from dftflow.study import load_study

    return Study(load_study(path), potcars=potcars)


def cmd_validate(args) -> int:
    study = _load(args.study, potcars="spec")
    for calc in study.calculations:
        study.inputs(calc)
    print(
        f"{args.study}: OK - study {study.spec.name!r}, {len(study.systems)} systems, "
        f"{len(study.calculations)} calculations"
    )
    for name, (_, cell) in study.systems.items():
        print(f"  {name}: {cell.structure.composition.formula.replace(' ', '')}, charge {cell.charge:+d}")
    return 0


def dependency_note(calc, parent_step: str | None) -> str:
    if calc.parent is None:
        return ""
    source = (
        "the relaxed bulk (CONTCAR of 'bulk relax')" if parent_step == "bulk-relax" else f"CONTCAR of '{calc.parent}'"
    )
    lines = [
        f"{calc.label}",
        "",
        "This folder was written from the UNRELAXED structure. In the workflow this calculation starts",
        f"from {source}: the structure here shows the settings, not the geometry that will be run.",
    ]
    if calc.step == "hse-static":
        lines.append(f"In the workflow it also reads the WAVECAR of '{calc.parent}' (ISTART = 1).")
    return "\n".join(lines) + "\n"


def cmd_inputs(args) -> int:
    study = _load(args.study, potcars=args.potcars)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise InputError(f"{out} exists and is not empty; choose another --out or add --force")
    steps = {c.label: c.step for c in study.calculations}
    prepared = [
        (calc, study.inputs(calc, note=dependency_note(calc, steps.get(calc.parent)))) for calc in study.calculations
    ]  # build everything first: a bad input stops here with nothing written
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        index = []
        for calc, inputs in prepared:
            inputs.write(staging / calc.dirname)
            index.append(
                {
                    "label": calc.label,
                    "directory": calc.dirname,
                    "step": calc.step,
                    "parent": calc.parent,
                    "input_hash": inputs.input_hash(),
                }
            )
        (staging / "calculations.json").write_text(json.dumps(index, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    kind = "POTCAR" if study.real_potcars else "POTCAR.spec (offline: no POTCARs)"
    print(f"wrote {len(prepared)} input folders to {out} with {kind}")
    for calc, _ in prepared:
        print(f"  {calc.dirname:45s} {calc.label}")
    return 0


def cmd_plan(args) -> int:
    from dftflow.planning import plan_rows

    study = _load(args.study, potcars="spec")
    rows = plan_rows(study)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"study {study.spec.name}: {len(rows)} calculations (cost per SCF step, relative to the bulk relax)")
    header = f"{'label':44s} {'atoms':>5} {'NELECT':>6} {'NBANDS':>6} {'k-pts':>5}  {'functional':38s} {'cost':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        kpts = (
            f"{r['kpoints']}"
            if r["kpoints"] == r["kpoints_weighted"]
            else f"{r['kpoints_weighted']}+{r['kpoints'] - r['kpoints_weighted']}"
        )
        print(
            f"{r['label']:44s} {r['atoms']:5d} {r['nelect']:6d} {r['nbands']:6d} {kpts:>5}  "
            f"{r['functional']:38s} {r['relative_cost']:8.3g}"
        )
    total = sum(r["relative_cost"] for r in rows)
    print(f"k-pts a+b: a weighted SCF points + b zero-weight path points. Total relative cost {total:.3g}.")
    return 0


# --- running and querying ---------------------------------------------------------------------------
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
    study = _load(args.study, potcars="spec")
    executor, command, message = resolve_executor(args.executor, settings.vasp_cmd)
    workdir = open_workdir(args.workdir or settings.home_path)
    try:
        print(f"study {study.spec.name}: {len(study.calculations)} calculations in {workdir.path}")
        print(message)
        summary = run_study(study, workdir, executor, command)
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
    from dftflow.launchpad import load_launchpad
    from dftflow.runner import study_workflow_id
    from dftflow.settings import load_settings

    lp_file = args.launchpad or load_settings().launchpad
    if not lp_file:
        raise InputError("no LaunchPad: give --launchpad my_launchpad.yaml or set DFTFLOW_LAUNCHPAD")
    study = _load(args.study, potcars=args.potcars)
    for calc in study.calculations:
        study.inputs(calc)  # every input set builds (and, with real POTCARs, finds them) before submitting
    lp = load_launchpad(lp_file)
    existing = study_workflow_id(lp, study)
    if existing is not None:
        print(f"study {study.spec.name} is already on the LaunchPad (fw_id {existing}); nothing added")
        return 0
    mapping = lp.add_wf(StudyWorkflowBuilder(study, potcars=args.potcars).make())
    print(
        f"added study {study.spec.name}: {len(mapping)} Fireworks (fw_ids {min(mapping.values())}-"
        f"{max(mapping.values())}). Run them with FireWorks' rlaunch/qlaunch."
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
        from dftflow.launchpad import load_launchpad

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


def cmd_results(args) -> int:
    from dftflow.report import RESULT_COLUMNS, result_row, rows_to_csv

    _, db, close = _launchpad_and_db(args)
    try:
        if db is None:
            raise InputError("results needs a results database: --db-file or a work directory")
        study = _study_name(args.study)
        rows = [result_row(d) for d in db.query({"study": study} if study else {})]
    finally:
        if close:
            close()
    columns = ["study", *RESULT_COLUMNS]
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
    elif args.csv:
        print(rows_to_csv(rows, columns), end="")
    else:
        print(
            f"{'label':44s} {'composition':12s} {'q':>3} {'functional':18s} {'energy (eV)':>13} {'gap':>7} "
            f"{'executor':8s} state"
        )
        for r in rows:
            energy = f"{r['energy']:13.4f}" if r["energy"] is not None else " " * 13
            gap = f"{r['bandgap']:7.3f}" if r["bandgap"] is not None else " " * 7
            q = "" if r["charge"] is None else f"{r['charge']:+d}"
            print(
                f"{r['task_label']:44s} {str(r['composition_label']):12s} {q:>3} {str(r['functional']):18s} "
                f"{energy} {gap} {str(r['executor']):8s} {r['state']}"
            )
        if any(r["executor"] == "mock" for r in rows):
            print("executor mock: MODEL OUTPUT from mock-vasp, not DFT.")
    return 0


def cmd_parse(args) -> int:
    from dftflow.vasp.outputs import summary

    info = summary(args.run_dir)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:{width}s}  {value}")
    if info["executor"] == "mock":
        print("(written by mock-vasp: MODEL OUTPUT, not DFT)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
