"""`dftflow cluster init DIR`: the four standard files of a cluster setup, commented, for the user to edit.

my_launchpad.yaml (FireWorks' LaunchPad), db.json (atomate's results-database file), my_fworker.yaml
(FireWorks' worker: vasp_cmd, db_file, scratch_dir) and my_qadapter.yaml (FireWorks' CommonAdapter for
SLURM or PBS). `qlaunch -c DIR` and `rlaunch -c DIR` find all of them in DIR.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from dftflow.errors import InputError
from dftflow.fileio import atomic_write_bytes

FILES = ("my_launchpad.yaml", "db.json", "my_fworker.yaml", "my_qadapter.yaml")
DEFAULT_VASP_CMD = {"slurm": "srun vasp_std", "pbs": "mpirun vasp_std"}


def q(value) -> str:
    """A YAML scalar: JSON's quoting is valid YAML and keeps paths and commands exactly as given."""
    return json.dumps(value)


def launchpad_yaml(host: str, port: int, name: str, username: str | None) -> str:
    auth = (
        f"username: {q(username)}\npassword: null   # fill in; this file is written readable by you only\n"
        if username
        else "# username: dftflow    # for a server with access control (set both)\n# password: ...\n"
    )
    return f"""# FireWorks LaunchPad: the MongoDB server and database holding the workflows.
# Read by FireWorks (rlaunch/qlaunch/lpad -l this file, or -c this directory) and by
# `dftflow submit|status|recover --launchpad`. Written by `dftflow cluster init`: edit it.
host: {q(host)}   # or a mongodb:// or mongodb+srv:// URI, then set uri_mode: true
port: {port}
name: {q(name)}   # database of the workflows (FireWorks' collections)
{auth}# authsource: admin     # where the user is defined, if not in `name`
logdir: null
strm_lvl: INFO
"""


def db_json(host: str, port: int, database: str, username: str | None) -> str:
    doc = {
        "_comment": [
            "dftflow's results database (atomate's db-file convention), read by the workers through",
            "db_file in my_fworker.yaml and by `dftflow results|report --db-file`. Written by `dftflow cluster",
            "init`: edit it. Tasks go to the `tasks` collection, DOS/eigenvalues/projections to GridFS",
            "(dftflow_blobs). For a server with access control add username, password (and authsource);",
            "or give one `uri` (mongodb:// or mongodb+srv://) instead of host and port.",
        ],
        "host": host,
        "port": port,
        "database": database,
    }
    if username:
        doc.update(username=username, password=None)
    return json.dumps(doc, indent=2) + "\n"


def fworker_yaml(directory: Path, vasp_cmd: str) -> str:
    return f"""# FireWorks worker of this cluster: machine settings only, they never change the science.
# dftflow's Firetasks read the env values (vasp_cmd, db_file, ...) from here. Written by
# `dftflow cluster init`: edit it.
name: "cluster-vasp"
category: ""
query: "{{}}"
env:
  vasp_cmd: {q(vasp_cmd)}   # split with shlex and started without a shell
  db_file: {q(str(directory / "db.json"))}
  scratch_dir: null   # e.g. /scratch/me: custodian runs VASP there and copies the outputs back
  custodian_settings: {{}}   # e.g. {{wall_time: 172800}} (s) for custodian's WalltimeHandler, frozen_timeout
"""


def qadapter_yaml(directory: Path, scheduler: str, venv: str | None) -> str:
    activate = f"source {Path(venv) / 'bin' / 'activate'}" if venv else "source /path/to/dftflow/.venv/bin/activate"
    common = f"""# Reservation mode: `qlaunch -c {directory} -r rapidfire` reserves one READY Firework per job and adds
# --fw_id to rocket_launch, so every job runs the Firework it was submitted for and a child is only
# submitted once its parents are done. Without -r, a job takes whatever is READY when it starts and exits
# if nothing is: use `rlaunch -c {directory} rapidfire` as rocket_launch then (see the README).
rocket_launch: {q(f"rlaunch -c {directory} singleshot")}
"""
    pre = f"""# The job script runs in a fresh (login) shell whose PATH does not have this installation's rlaunch:
# activate its environment here (and load the site's VASP module, e.g. `module load vasp/6.4.3 && ...`).
pre_rocket: {q(activate)}
post_rocket: null
"""
    if scheduler == "slurm":
        return f"""# FireWorks queue adapter for SLURM (CommonAdapter; FireWorks' template starts `#!/bin/bash -l`).
# Written by `dftflow cluster init`: edit the resources for your cluster.
_fw_name: CommonAdapter
_fw_q_type: SLURM
{common}nodes: 1
ntasks_per_node: 1   # VASP's MPI ranks per node (srun in vasp_cmd starts them)
walltime: "48:00:00"
queue: null          # the partition
account: null
job_name: dftflow    # reservation mode names each job after its Firework instead
{pre}"""
    return f"""# FireWorks queue adapter for PBS/Torque (CommonAdapter). Written by `dftflow cluster init`: edit the
# resources for your cluster.
_fw_name: CommonAdapter
_fw_q_type: PBS
{common}nnodes: 1
ppnode: 1            # VASP's MPI ranks per node (mpirun in vasp_cmd starts them)
walltime: "48:00:00"
queue: null
account: null
job_name: dftflow
{pre}"""


def current_venv() -> str | None:
    return sys.prefix if sys.prefix != sys.base_prefix else None


def cmd_cluster_init(args) -> int:
    directory = Path(args.dir).expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} exists and is not a directory")
    existing = [name for name in FILES if (directory / name).exists()]
    if existing and not args.force:
        raise InputError(f"{directory} already has {', '.join(existing)} (--force replaces them)")
    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, not {args.port}")
    vasp_cmd = args.vasp_cmd or DEFAULT_VASP_CMD[args.scheduler]
    contents = {
        "my_launchpad.yaml": launchpad_yaml(args.host, args.port, args.launchpad_db, args.username),
        "db.json": db_json(args.host, args.port, args.results_db, args.username),
        "my_fworker.yaml": fworker_yaml(directory, vasp_cmd),
        "my_qadapter.yaml": qadapter_yaml(directory, args.scheduler, args.venv or current_venv()),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        atomic_write_bytes(directory / name, text.encode())
        if name in ("my_launchpad.yaml", "db.json"):  # they will hold the database password
            os.chmod(directory / name, 0o600)
    print(f"wrote {', '.join(FILES)} in {directory} ({args.scheduler.upper()}); edit them, then:")
    print(f"  dftflow submit STUDY --launchpad {directory / 'my_launchpad.yaml'}")
    print(f"  qlaunch -c {directory} -r rapidfire")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("cluster", help="set up a cluster: `dftflow cluster init DIR` writes the FireWorks files")
    actions = p.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", help="write my_launchpad.yaml, db.json, my_fworker.yaml, my_qadapter.yaml")
    init.add_argument("dir", help="directory for the files (qlaunch/rlaunch -c DIR)")
    init.add_argument("--scheduler", choices=("slurm", "pbs"), default="slurm")
    init.add_argument("--host", default="mongodb.example.org", help="MongoDB server (default: a placeholder)")
    init.add_argument("--port", type=int, default=27017)
    init.add_argument("--launchpad-db", default="fireworks", help="database of the workflows")
    init.add_argument("--results-db", default="dftflow_results", help="database of the results")
    init.add_argument("--username", help="MongoDB user; the password is filled into the files by hand")
    init.add_argument("--vasp-cmd", help="VASP command of the workers (default: srun vasp_std / mpirun vasp_std)")
    init.add_argument("--venv", help="environment the jobs activate (default: the one running this command)")
    init.add_argument("--force", action="store_true", help="replace the files if DIR has them")
    init.set_defaults(func=cmd_cluster_init)
