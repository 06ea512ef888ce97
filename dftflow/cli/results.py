"""`dftflow results`, `dftflow export` and `dftflow migrate`: the results database as its users query it."""

from __future__ import annotations

import json
from pathlib import Path

from dftflow.cli.running import _launchpad_and_db, _study_name
from dftflow.errors import InputError

TABLE = (
    ("task_label", "label", 44),
    ("composition_label", "composition", 12),
    ("charge", "q", 3),
    ("functional.label", "functional", 18),
    ("output.energy", "energy (eV)", 13),
    ("output.bandgap", "gap", 7),
    ("executor", "executor", 8),
    ("state", "state", 10),
)


def _criteria(args) -> dict:
    from dftflow.query import parse_filter, parse_query

    criteria = parse_query(args.query) if args.query else {}
    if args.filter:
        for field, condition in parse_filter(args.filter).items():
            criteria.setdefault(field, {})
            if not isinstance(criteria[field], dict):
                criteria[field] = {"$eq": criteria[field]}
            criteria[field].update(condition)
    study = _study_name(args.study)
    if study:
        criteria["study"] = study
    return criteria


def cmd_results(args) -> int:
    from dftflow.query import parse_fields, parse_sort, pick
    from dftflow.report import RESULT_COLUMNS, result_row, rows_to_csv

    _, db, close = _launchpad_and_db(args)
    try:
        if db is None:
            raise InputError("results needs a results database: --db-file or a work directory")
        tasks = db.query_tasks(_criteria(args), sort=parse_sort(args.sort), limit=args.limit)
    finally:
        if close:
            close()
    fields = parse_fields(args.fields)
    if fields:
        docs = [t.to_stored() for t in tasks]
        rows = [{f: pick(d, f) for f in fields} for d in docs]
        columns = fields
    else:
        rows = [result_row(t) for t in tasks]
        columns = ["study", *RESULT_COLUMNS]
    if args.json:
        print(json.dumps(rows, indent=1, default=str))
    elif args.csv:
        print(rows_to_csv(rows, columns), end="")
    elif fields:
        print("\t".join(columns))
        for row in rows:
            print("\t".join("" if row[c] is None else str(row[c]) for c in columns))
    else:
        print(
            " ".join(
                f"{title:>{w}s}" if key.startswith("output") or key == "charge" else f"{title:{w}s}"
                for key, title, w in TABLE
            )
        )
        for task in tasks:
            cells = []
            for key, _, width in TABLE:
                value = pick(task.to_stored(), key)
                if key == "charge":
                    cells.append(f"{'' if value is None else f'{value:+d}':>{width}s}")
                elif isinstance(value, float):
                    cells.append(f"{value:{width}.{4 if key == 'output.energy' else 3}f}")
                else:
                    cells.append(f"{'' if value is None else str(value):{width}s}")
            print(" ".join(cells))
    if any(t.executor == "mock" for t in tasks) and not args.json:
        print("executor mock: MODEL OUTPUT from mock-vasp, not DFT.")
    return 0


def cmd_export(args) -> int:
    from dftflow.ase_export import write_ase_db, write_trajectories

    if not (args.ase_db or args.trajectories):
        raise InputError("export what? give --ase-db FILE_OR_URL and/or --trajectories DIR")
    _, db, close = _launchpad_and_db(args)
    try:
        if db is None:
            raise InputError("export needs a results database: --db-file or a work directory")
        tasks = db.query_tasks(_criteria(args))
        if args.ase_db:
            n = write_ase_db(db, tasks, args.ase_db)
            print(f"wrote {n} tasks to the ASE database {args.ase_db} (ase db {args.ase_db} 'gap<2.5,charge=2')")
        if args.trajectories:
            paths = write_trajectories(db, tasks, Path(args.trajectories))
            print(f"wrote {len(paths)} relaxation trajectories to {args.trajectories} (ase gui FILE.traj)")
    finally:
        if close:
            close()
    return 0


def cmd_migrate(args) -> int:
    """Rewrite every stored document in the current schema (documents of earlier versions also load as
    they are; migrating them lets queries on renamed fields find them)."""
    from dftflow.taskdoc import SCHEMA_VERSION, TaskDocument

    _, db, close = _launchpad_and_db(args)
    try:
        if db is None:
            raise InputError("migrate needs a results database: --db-file or a work directory")
        old = list(
            db.tasks.find(
                {"$or": [{"schema_version": {"$exists": False}}, {"schema_version": {"$lt": SCHEMA_VERSION}}]}
            )
        )
        for doc in old:
            db.tasks.replace_one({"_id": doc["_id"]}, TaskDocument.from_stored(doc).to_stored())
    finally:
        if close:
            close()
    print(f"migrated {len(old)} task document(s) to schema {SCHEMA_VERSION}")
    return 0
