"""A durable, single-process MongoDB stand-in for the embedded default: mongomock + a write-ahead journal.

Why not FireWorks' own mongomock persistence (MONGOMOCK_SERVERSTORE_FILE)? It writes the whole store
only at interpreter exit: a SIGKILL loses every state change of the run, and two processes sharing the
file can both check out the same Firework. Measured in tests/test_embedded.py.

How this one works:
* All data lives in an in-memory mongomock client, so FireWorks' LaunchPad and the results store use
  their normal pymongo code paths.
* Every write (insert/update/replace/delete/find_one_and_*/index changes) is applied in memory and,
  when it succeeded, appended to `journal.<generation>.jsonl` (bson.json_util, one line per write) and
  fsync'ed BEFORE the call returns. A write a caller has seen is therefore on disk; a write interrupted
  by a kill was never seen by anyone and is dropped (a torn last line is ignored on replay).
* Inserts and upserts get their `_id` before they are applied, so replaying the journal is exact.
* Opening the store loads `snapshot.json` and replays the journal; when the journal grows long, the
  whole store is written to a new snapshot (temporary file, fsync, atomic rename) and a new journal
  generation starts.
* One process at a time: the store holds an exclusive flock on `LOCK` (released by the OS if the
  process dies). A second opener gets a clear error naming the holder.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import mongomock
from bson import ObjectId, json_util
from bson.json_util import JSONMode, JSONOptions

from dftflow.errors import InputError

JSON_OPTIONS = JSONOptions(json_mode=JSONMode.RELAXED, tz_aware=False)
COMPACT_AFTER = 2000  # journal records before the store is rewritten as a snapshot
_WRITES = {
    "insert_one",
    "insert_many",
    "replace_one",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "create_index",
    "create_indexes",
    "drop_index",
    "drop_indexes",
    "drop",
}
_REFUSED = {"bulk_write", "rename", "map_reduce", "initialize_ordered_bulk_op", "initialize_unordered_bulk_op"}
_OPEN_STORES: dict[Path, DurableStore] = {}


def _dumps(obj) -> str:
    return json_util.dumps(obj, json_options=JSON_OPTIONS)


def _loads(text: str):
    return json_util.loads(text, json_options=JSON_OPTIONS)


class DurableStore:
    """A directory holding one journaled mongomock server. Use :func:`open_store`."""

    def __init__(self, path: str | Path, durable: bool = True):
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"cannot use {self.path} as a work directory: {exc.strerror}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._lock_fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(self._lock_fd)
            raise InputError(
                f"{self.path} is in use by another dftflow process (pid {holder}); wait for it to finish "
                "or use another --workdir"
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        self.durable = durable
        self._mutex = threading.RLock()
        self.client = mongomock.MongoClient()
        self.generation, self.records = self._load()
        self._journal = open(self._journal_path(self.generation), "a", encoding="utf-8")  # noqa: SIM115

    # --- public API --------------------------------------------------------------------------------
    def database(self, name: str) -> JournaledDatabase:
        return JournaledDatabase(self, name)

    @property
    def closed(self) -> bool:
        return self._journal.closed

    def close(self) -> None:
        with self._mutex:
            if self._journal.closed:
                return
            self._journal.close()
            os.close(self._lock_fd)
            _OPEN_STORES.pop(self.path.resolve(), None)

    def compact(self) -> None:
        """Write every database to a new snapshot and start an empty journal (crash-safe order)."""
        with self._mutex:
            data = {}
            for db_name in self.client.list_database_names():
                db = self.client[db_name]
                data[db_name] = {
                    coll: {
                        "documents": list(db[coll].find()),
                        "indexes": [
                            {"name": n, "key": info["key"], "unique": bool(info.get("unique"))}
                            for n, info in db[coll].index_information().items()
                            if n != "_id_"
                        ],
                    }
                    for coll in db.list_collection_names()
                }
            new_generation = self.generation + 1
            tmp = self.path / "snapshot.json.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(_dumps({"generation": new_generation, "databases": data}))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path / "snapshot.json")
            _fsync_dir(self.path)
            self._journal.close()
            old = self._journal_path(self.generation)
            self.generation, self.records = new_generation, 0
            self._journal = open(self._journal_path(self.generation), "a", encoding="utf-8")  # noqa: SIM115
            old.unlink(missing_ok=True)

    # --- internals ---------------------------------------------------------------------------------
    def _journal_path(self, generation: int) -> Path:
        return self.path / f"journal.{generation}.jsonl"

    def _load(self) -> tuple[int, int]:
        generation = 0
        snapshot = self.path / "snapshot.json"
        if snapshot.exists():
            state = _loads(snapshot.read_text(encoding="utf-8"))
            generation = state["generation"]
            for db_name, collections in state["databases"].items():
                for coll_name, content in collections.items():
                    coll = self.client[db_name][coll_name]
                    if content["documents"]:
                        coll.insert_many(content["documents"])
                    for index in content["indexes"]:
                        coll.create_index([tuple(k) for k in index["key"]], name=index["name"], unique=index["unique"])
        for stale in self.path.glob("journal.*.jsonl"):
            if stale.name != self._journal_path(generation).name:
                stale.unlink()  # left over from a compaction interrupted after its snapshot was saved
        return generation, self._replay(self._journal_path(generation))

    def _replay(self, journal: Path) -> int:
        if not journal.exists():
            return 0
        good_bytes, count = 0, 0
        with open(journal, "rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn final record: the write was never acknowledged
                record = _loads(raw.decode("utf-8"))
                coll = self.client[record["db"]][record["coll"]]
                args, kwargs = _restore_tuples(record["args"], record["kwargs"])
                getattr(coll, record["op"])(*args, **kwargs)
                good_bytes += len(raw)
                count += 1
        if good_bytes != journal.stat().st_size:
            os.truncate(journal, good_bytes)
        return count

    def _write(self, db_name: str, coll_name: str, op: str, args: list, kwargs: dict):
        with self._mutex:
            if self._journal.closed:
                raise RuntimeError(f"store {self.path} is closed")
            collection = self.client[db_name][coll_name]
            args, kwargs = _with_ids(collection, op, args, kwargs)
            result = getattr(collection, op)(*args, **kwargs)
            line = _dumps({"db": db_name, "coll": coll_name, "op": op, "args": args, "kwargs": kwargs})
            self._journal.write(line + "\n")
            self._journal.flush()
            if self.durable:
                os.fsync(self._journal.fileno())
            self.records += 1
            if self.records >= COMPACT_AFTER:
                self.compact()
            return result


def _with_ids(collection, op: str, args: list, kwargs: dict) -> tuple[list, dict]:
    """Give inserted and upserted documents their _id up front so the journal replays exactly."""
    args = list(args)
    if op == "insert_one":
        args[0].setdefault("_id", ObjectId())
    elif op == "insert_many":
        args[0] = list(args[0])
        for doc in args[0]:
            doc.setdefault("_id", ObjectId())
    elif kwargs.get("upsert") and op in ("update_one", "update_many", "find_one_and_update"):
        update = dict(args[1])
        if any(k.startswith("$") for k in update) and "_id" not in args[0]:
            update["$setOnInsert"] = {"_id": ObjectId(), **update.get("$setOnInsert", {})}
        args[1] = update
    elif kwargs.get("upsert") and op in ("replace_one", "find_one_and_replace") and "_id" not in args[1]:
        if collection.find_one(args[0], {"_id": 1}) is None:  # it will be an insert
            args[1] = {"_id": args[0].get("_id", ObjectId()), **args[1]}
    return args, kwargs


def _restore_tuples(args: list, kwargs: dict) -> tuple[list, dict]:
    """JSON turned (key, direction) pairs into lists; index specs and sorts need them back as tuples."""

    def pairs(value):
        if isinstance(value, list) and value and all(isinstance(p, list) and len(p) == 2 for p in value):
            return [tuple(p) for p in value]
        return value

    args = [pairs(a) for a in args]
    if "sort" in kwargs:
        kwargs = {**kwargs, "sort": pairs(kwargs["sort"])}
    return args, kwargs


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournaledDatabase:
    """pymongo-like database whose collections journal their writes."""

    def __init__(self, store: DurableStore, name: str):
        self._store, self.name = store, name

    def __getitem__(self, coll: str) -> JournaledCollection:
        return JournaledCollection(self._store, self.name, coll)

    def __getattr__(self, coll: str) -> JournaledCollection:
        if coll.startswith("_"):
            raise AttributeError(coll)
        return self[coll]

    def list_collection_names(self) -> list[str]:
        return self._store.client[self.name].list_collection_names()

    def drop_collection(self, name: str) -> None:
        self[name].drop()

    @property
    def client(self):
        return self._store.client


class JournaledCollection:
    """Delegates reads to mongomock; routes writes through the store's journal."""

    def __init__(self, store: DurableStore, db_name: str, name: str):
        self._store, self._db_name, self.name = store, db_name, name
        self._coll = store.client[db_name][name]

    def __getattr__(self, attr: str):
        if attr in _WRITES:
            return lambda *args, **kwargs: self._store._write(self._db_name, self.name, attr, list(args), kwargs)
        if attr in _REFUSED:
            raise NotImplementedError(f"{attr} is not journaled by dftflow's embedded store")
        return getattr(self._coll, attr)

    def aggregate(self, pipeline, *args, **kwargs):
        if any(("$out" in stage or "$merge" in stage) for stage in pipeline):
            raise NotImplementedError("aggregate with $out/$merge is not journaled by dftflow's embedded store")
        return self._coll.aggregate(pipeline, *args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self._db_name}.{self.name}"


def open_store(path: str | Path, durable: bool = True) -> DurableStore:
    """The open store for `path` in this process (one instance per directory)."""
    key = Path(path).resolve()
    store = _OPEN_STORES.get(key)
    if store is None or store.closed:
        store = DurableStore(key, durable=durable)
        _OPEN_STORES[key] = store
    return store


def store_summary(store: DurableStore) -> dict:
    """Counts per database and collection (for status displays and tests)."""
    return {
        db: {c: store.client[db][c].count_documents({}) for c in store.client[db].list_collection_names()}
        for db in store.client.list_database_names()
    }
