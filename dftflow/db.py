"""The results database: one document per VASP run in `tasks`, big arrays stored beside it.

Production: a MongoDB named by a db file (the atomate convention: JSON or YAML with host, port,
database, username, password, or uri), big arrays in GridFS. Embedded: the durable store of the
work directory, big arrays as files under <workdir>/blobs. Either way a task document stays far
below MongoDB's 16 MB limit (atomate #577, atomate2 #671): DOS, eigenvalues, projections and band
structures are blobs (compressed .npz, addressed by their sha256) referenced from the document.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
from pathlib import Path

import bson
import numpy as np
import yaml
from monty.json import jsanitize

from dftflow import rebuild
from dftflow.errors import InputError
from dftflow.fileio import atomic_write_bytes
from dftflow.taskdoc import TaskDocument

TASKS = "tasks"
THERMODYNAMICS = "defect_thermodynamics"  # one document per study: corrections, formation energies, levels
MAX_DOC_BYTES = 4 * 1024 * 1024  # a safety margin under MongoDB's 16 MB: anything bigger is a bug
INDEXES = [
    [("task_label", 1)],
    [("study", 1), ("task_label", 1)],
    [("input.hash", 1)],
    [("executor", 1)],
    [("state", 1)],
    [("composition_label", 1)],
]


# --- blobs -----------------------------------------------------------------------------------------
def pack_arrays(arrays: dict[str, np.ndarray], meta: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __meta__=np.array(json.dumps(jsanitize(meta or {}))), **arrays)
    return buffer.getvalue()


def unpack_arrays(data: bytes) -> tuple[dict[str, np.ndarray], dict]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "__meta__"}
        meta = json.loads(str(npz["__meta__"])) if "__meta__" in npz.files else {}
    return arrays, meta


class FileBlobs:
    """Content-addressed blob files, written atomically (temporary file, fsync, rename)."""

    kind = "file"

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        target = self.directory / f"{key}.npz"
        if not target.exists():
            atomic_write_bytes(target, data)
        return key

    def get(self, key: str) -> bytes:
        return (self.directory / f"{key}.npz").read_bytes()


class GridFSBlobs:
    """Blobs in GridFS of the results database (production)."""

    kind = "gridfs"

    def __init__(self, database, collection: str = "dftflow_blobs"):
        import gridfs

        self.fs = gridfs.GridFS(database, collection)

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        if not self.fs.exists({"_id": key}):
            self.fs.put(data, _id=key)
        return key

    def get(self, key: str) -> bytes:
        return self.fs.get(key).read()


# --- the database ------------------------------------------------------------------------------------
class ResultsDB:
    def __init__(self, database, blobs, description: str = ""):
        self.store = None  # the DurableStore underneath, for embedded databases
        self.database = database
        self.tasks = database[TASKS]
        self.blobs = blobs
        self.description = description
        for keys in INDEXES:
            self.tasks.create_index(keys)

    @classmethod
    def embedded(cls, store, workdir: str | Path) -> ResultsDB:
        db = cls(store.database("dftflow"), FileBlobs(Path(workdir) / "blobs"), f"embedded store {workdir}")
        db.store = store
        return db

    @classmethod
    def from_db_file(cls, path: str | Path) -> ResultsDB:
        """The results database a db file names: an atomate-style MongoDB file (host/port/database/... or
        uri), or a work directory's db.json (its embedded store, opened with its lock)."""
        config = read_db_file(path)
        if config.get("embedded_store"):
            from dftflow.embedded import open_store

            return cls.embedded(open_store(config["embedded_store"]), config["workdir"])
        from dftflow.mongo import results_database

        database, description = results_database(config)
        return cls(database, GridFSBlobs(database), description)

    def close(self) -> None:
        """Let go of an embedded store (a MongoDB client needs nothing)."""
        if self.store is not None:
            self.store.close()

    # --- writing -------------------------------------------------------------------------------
    def store_task(self, doc: dict, arrays: dict[str, dict] | None = None) -> dict:
        """Store blobs first, then the document (upsert on study + label + input hash: idempotent)."""
        doc = jsanitize(doc, strict=False, allow_bson=True)
        refs = {}
        for name, content in (arrays or {}).items():
            refs[name] = {"store": self.blobs.kind, "key": self.blobs.put(pack_arrays(**content))}
        doc["blobs"] = refs
        size = len(bson.encode(doc))
        if size > MAX_DOC_BYTES:
            raise ValueError(f"task document {doc.get('task_label')} is {size} bytes: big arrays belong in blobs")
        doc["doc_bytes"] = size
        key = {"study": doc.get("study"), "task_label": doc["task_label"], "input.hash": doc["input"]["hash"]}
        self.tasks.replace_one(key, doc, upsert=True)
        return doc

    # --- reading -------------------------------------------------------------------------------
    def store_thermodynamics(self, study: str, analysis: dict) -> dict:
        """The study's defect thermodynamics (each charged cell's finite-size correction with its parts and
        the dielectric tensor used, formation energies per limit, transition levels), replacing the last."""
        doc = {
            "study": study,
            "analysed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            **jsanitize(analysis),
        }
        self.database[THERMODYNAMICS].replace_one({"study": study}, doc, upsert=True)
        return doc

    def thermodynamics(self, study: str) -> dict | None:
        """The stored defect thermodynamics of a study (None before its report step ran)."""
        return self.database[THERMODYNAMICS].find_one({"study": study}, {"_id": 0})

    def completed(self, input_hash: str) -> dict | None:
        """A successful task with these exact inputs, if one was stored before (duplicate detection)."""
        return self.tasks.find_one({"input.hash": input_hash, "state": "successful"})

    def query(self, criteria: dict | None = None, projection: dict | None = None) -> list[dict]:
        return list(self.tasks.find(criteria or {}, projection).sort([("study", 1), ("completed_at", 1)]))

    def task(self, study: str, label: str) -> dict | None:
        docs = list(self.tasks.find({"study": study, "task_label": label}).sort([("completed_at", -1)]).limit(1))
        return docs[0] if docs else None

    def arrays(self, doc: dict, name: str) -> tuple[dict[str, np.ndarray], dict]:
        blobs = doc.blobs if isinstance(doc, TaskDocument) else doc.get("blobs", {})
        ref = blobs.get(name)
        if ref is None:
            label = doc.task_label if isinstance(doc, TaskDocument) else doc.get("task_label")
            raise KeyError(f"task {label} has no {name} arrays")
        return unpack_arrays(self.blobs.get(ref["key"]))

    # --- the Python API: typed documents and pymatgen objects --------------------------------------
    def query_tasks(self, criteria: dict | None = None, sort=None, limit: int = 0) -> list[TaskDocument]:
        """Tasks matching MongoDB `criteria` (see dftflow.query for the filter language), as TaskDocuments."""
        cursor = self.tasks.find(criteria or {}).sort(sort or [("study", 1), ("completed_at", 1)])
        if limit:
            cursor = cursor.limit(limit)
        return [TaskDocument.from_stored(doc) for doc in cursor]

    def structure(self, task: TaskDocument):
        return rebuild.structure(task)

    def complete_dos(self, task: TaskDocument):
        """The run's pymatgen CompleteDos, rebuilt from its DOS blob (None if it stored none)."""
        return rebuild.complete_dos(task, *self.arrays(task, "dos")) if "dos" in task.blobs else None

    def band_structure(self, task: TaskDocument):
        """The run's pymatgen band structure (line mode for a band-structure run), from its eigenvalues."""
        return rebuild.band_structure(task, *self.arrays(task, "eigenvalues")) if "eigenvalues" in task.blobs else None


_CONNECTED: dict[str, ResultsDB] = {}


def connect_results(db_file: str | Path) -> ResultsDB:
    """The results database a db file names (cached per process). A db file with `embedded_store`
    points at a work directory's durable store; anything else is a MongoDB (see ResultsDB.from_db_file)."""
    key = str(Path(db_file).resolve())
    cached = _CONNECTED.get(key)
    if cached is not None and getattr(cached, "store", None) is not None and cached.store.closed:
        cached = _CONNECTED.pop(key)  # its work directory was closed and reopened since
    if key not in _CONNECTED:
        config = read_db_file(db_file)
        if config.get("embedded_store"):
            from dftflow.embedded import open_store

            _CONNECTED[key] = ResultsDB.embedded(open_store(config["embedded_store"]), config["workdir"])
        else:
            _CONNECTED[key] = ResultsDB.from_db_file(db_file)
    return _CONNECTED[key]


def forget_connections() -> None:
    """Drop cached connections (after a work directory's store was closed)."""
    _CONNECTED.clear()


def read_db_file(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"db file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid JSON/YAML: {exc}") from exc
    if not isinstance(config, dict) or not (config.get("database") or config.get("embedded_store")):
        raise InputError(f"{path}: a db file needs at least 'database' (and host/port or uri)")
    return config
