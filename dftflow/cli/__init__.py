"""The `dftflow` command line. Thin: every command calls library functions and formats their result.

User errors (InputError) end in one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from dftflow.cli import cluster, inputs, levels, results, running
from dftflow.errors import InputError

EXIT_INPUT_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` prints where a long run is (for hang reports)
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True)
        except (OSError, ValueError):  # stderr is not a real file (an embedding application, a test)
            pass
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="pymatgen")  # CIF-parser chatter; our own checks report problems
    try:
        return args.func(args) or 0
    except InputError as exc:
        print(f"dftflow: error: {' '.join(str(exc).split())}", file=sys.stderr)  # always one line
        return EXIT_INPUT_ERROR
    except BrokenPipeError:  # `dftflow results | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dftflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sites", help="label every O of a structure s_x/s_y/s_z with its orbit and geometry")
    p.add_argument("structure")
    p.add_argument("--supercell", default="1x1x1", help="e.g. 1x1x2")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=inputs.cmd_sites)

    p = sub.add_parser("validate", help="check a study file and build every structure and input set")
    p.add_argument("study")
    p.set_defaults(func=inputs.cmd_validate)

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
    p.set_defaults(func=inputs.cmd_inputs)

    p = sub.add_parser("plan", help="list every calculation with its size and relative cost")
    p.add_argument("study")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=inputs.cmd_plan)

    p = sub.add_parser("run", help="run a study here: local LaunchPad + results store, mock-vasp or VASP")
    p.add_argument("study")
    p.add_argument("--workdir", help="work directory (default: $DFTFLOW_HOME or ./.dftflow)")
    p.add_argument(
        "--executor",
        choices=("auto", "mock", "vasp"),
        default="auto",
        help="auto: VASP when a VASP command is configured, else mock-vasp (default)",
    )
    p.add_argument("--rerun-failed", action="store_true", help="retry calculations that FIZZLED in an earlier run")
    p.set_defaults(func=running.cmd_run)

    p = sub.add_parser("submit", help="add a study's workflow to a production (MongoDB) LaunchPad")
    p.add_argument("study")
    p.add_argument("--launchpad", help="my_launchpad.yaml (default: $DFTFLOW_LAUNCHPAD)")
    p.add_argument(
        "--potcars",
        choices=("real", "spec"),
        default="real",
        help="real: workers need POTCARs (default); spec: offline workers running mock-vasp",
    )
    p.set_defaults(func=running.cmd_submit)

    p = sub.add_parser("worker", help="run Fireworks from a production LaunchPad here (what FireWorks' rlaunch does)")
    p.add_argument("--launchpad", help="my_launchpad.yaml (default: $DFTFLOW_LAUNCHPAD)")
    p.add_argument("--fworker", help="my_fworker.yaml: env with vasp_cmd, db_file, scratch_dir")
    p.add_argument("--nlaunches", type=int, default=0, help="stop after this many launches (0: until none left)")
    p.add_argument("--singleshot", action="store_true", help="launch one Firework and stop")
    p.set_defaults(func=running.cmd_worker)

    p = sub.add_parser("recover", help="put runs whose worker died back to READY (FireWorks' lost-run detection)")
    p.add_argument("--launchpad", help="my_launchpad.yaml (default: $DFTFLOW_LAUNCHPAD)")
    p.add_argument(
        "--expiration",
        type=float,
        default=4 * 3600,
        help="seconds without a ping after which a RUNNING launch counts as lost (default 4 h)",
    )
    p.set_defaults(func=running.cmd_recover)

    cluster.add_parser(sub)

    p = sub.add_parser("status", help="state of every calculation of a study (or of all studies)")
    p.add_argument("study", nargs="?", help="study file or study name")
    _database_options(p)
    p.set_defaults(func=running.cmd_status)

    p = sub.add_parser("results", help="stored calculations: filter, choose fields, sort (embedded store or MongoDB)")
    _query_options(p)
    p.add_argument("--fields", help="comma-separated fields to show, e.g. task_label,output.bandgap,input.encut")
    p.add_argument("--sort", help="comma-separated fields, '-' for descending: --sort=-gap,label")
    p.add_argument("--limit", type=int, default=0, help="at most this many rows")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    _database_options(p)
    p.set_defaults(func=results.cmd_results)

    p = sub.add_parser("export", help="stored calculations to an ASE database and relaxations to ASE trajectories")
    _query_options(p)
    p.add_argument("--ase-db", help="ASE database to write: a file (SQLite, .db) or a postgresql:// URL")
    p.add_argument("--trajectories", help="directory for one ASE .traj per stored relaxation")
    _database_options(p)
    p.set_defaults(func=results.cmd_export)

    p = sub.add_parser("migrate", help="rewrite stored task documents of earlier versions in the current schema")
    _database_options(p)
    p.set_defaults(func=results.cmd_migrate)

    p = sub.add_parser("report", help="tables, figures, report.md and report.html of a study's stored results")
    p.add_argument("study", help="study file")
    p.add_argument("--out", help="output directory (default: <workdir>/reports/<study>)")
    _database_options(p)
    p.set_defaults(func=running.cmd_report)

    p = sub.add_parser("parse", help="summary of any VASP run directory (energy, gap, band edges, functional)")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=running.cmd_parse)

    p = sub.add_parser(
        "levels",
        help="classify the band-edge and in-gap states of any defect run against its pristine supercell run",
    )
    p.add_argument("defect_dir", help="the defect cell's run directory (vasprun.xml with projections, OUTCAR)")
    p.add_argument("--pristine", required=True, help="the pristine supercell's run directory (same cell and mesh)")
    p.add_argument("--pristine-bands", help="the pristine supercell's band-structure run (edges at Γ and on the path)")
    p.add_argument("--defect-bands", help="the defect cell's band-structure run (gaps over its path too)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=levels.cmd_levels)
    return parser


def _query_options(p) -> None:
    p.add_argument("--study", help="study file or study name")
    p.add_argument(
        "--filter",
        help='e.g. "defect~V_O charge=2 gap<2.5 executor=mock": FIELD OP VALUE with = != < <= > >= ~ (regex); '
        "fields are stored fields (output.bandgap) or short names (gap, energy, defect, functional, label, step, "
        "state, executor, charge, study, system)",
    )
    p.add_argument("--query", help='MongoDB criteria as JSON, e.g. \'{"charge": {"$in": [1, 2]}}\'')


def _database_options(p) -> None:
    p.add_argument("--workdir", help="embedded work directory (default: $DFTFLOW_HOME or ./.dftflow)")
    p.add_argument("--launchpad", help="production my_launchpad.yaml (instead of a work directory)")
    p.add_argument("--db-file", help="production results db file (instead of a work directory)")


if __name__ == "__main__":
    sys.exit(main())
