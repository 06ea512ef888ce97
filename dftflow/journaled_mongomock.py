"""mongomock whose storage reports every change, so that dftflow's embedded store can journal it.

The journal hooks sit in the one layer every write path of mongomock goes through: its storage
objects (ServerStore -> DatabaseStore -> CollectionStore), underneath the Client/Database/Collection
objects. insert/update/replace/delete/find_one_and_*, bulk_write, drop, drop_collection,
drop_database, rename, create_collection, index changes, aggregate with $out, writes through
`with_options(...)`, `database[...]` or a collection reached from another client object: all of them
end in the storage methods below, so none can be accepted and kept only in memory.

What is journaled is the resulting state, not the call: a changed document is written whole, a
deleted one by its _id, a collection drop, creation or rename and an index change as such. Replaying
the journal therefore sets the data exactly, without running mongomock's validation again (a replay
can never fail with "_id cannot be changed" or a duplicate key).

The one mongomock path that changes stored data without a storage call is an update applied in place
(Collection._apply_update_document / _apply_update_pipeline, reached from update_*, replace_one,
find_one_and_*, bulk updates); JournaledCollection marks those documents. The client classes also
mark where a call starts and ends: the changes a call makes are written as one journal frame when the
outermost call returns (see dftflow.embedded.DurableStore.run_call).
"""

from __future__ import annotations

import functools
import inspect

import bson
import mongomock
from mongomock import helpers, store


def store_key(doc_id):
    """The key mongomock files a document under (dict _ids are hashed)."""
    return helpers.hashdict(doc_id) if isinstance(doc_id, dict) else doc_id


# --- storage -----------------------------------------------------------------------------------------
class JournaledServerStore(store.ServerStore):
    def __init__(self, recorder):
        super().__init__()
        self.recorder = recorder

    def __getitem__(self, db_name):
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = JournaledDatabaseStore(db_name, self.recorder)
            return db

    def database_names(self) -> list[str]:
        return list(self._databases)


class JournaledDatabaseStore(store.DatabaseStore):
    def __init__(self, name: str, recorder):
        super().__init__()
        self.name, self.recorder = name, recorder

    def __getitem__(self, col_name):
        try:
            return self._collections[col_name]
        except KeyError:
            col = self._collections[col_name] = JournaledCollectionStore(col_name, self.name, self.recorder)
            return col

    def rename(self, name, new_name):
        self[name]  # noqa: B018 - mongomock renames a missing collection into an empty one; so do we
        self.recorder.flush_marks()  # documents changed before the rename are journaled under the old name
        super().rename(name, new_name)
        self.recorder.record({"op": "rename", "db": self.name, "coll": name, "to": new_name})


class JournaledCollectionStore(store.CollectionStore):
    def __init__(self, name: str, db_name: str, recorder):
        self.recorder = None  # CollectionStore.__init__ assigns `indexes`: nothing to journal yet
        super().__init__(name)
        self.db_name, self.recorder = db_name, recorder

    @property
    def indexes(self):
        return self._indexes

    @indexes.setter
    def indexes(self, value):  # Collection.drop_indexes assigns {} directly
        self._indexes = value
        if self.recorder is not None:
            self.recorder.record({"op": "indexes", "db": self.db_name, "coll": self.name, "indexes": value})

    def __setitem__(self, key, val):
        super().__setitem__(key, val)
        self.recorder.mark(self, key)

    def __delitem__(self, key):
        super().__delitem__(key)
        self.recorder.mark(self, key)

    # structural changes: journaled after they succeeded, behind the document changes made before them
    def create(self):
        super().create()
        self.recorder.record({"op": "create", "db": self.db_name, "coll": self.name})

    def drop(self):
        self.recorder.flush_marks()
        super().drop()
        self.recorder.record({"op": "drop", "db": self.db_name, "coll": self.name})

    def create_index(self, index_name, index_dict):
        super().create_index(index_name, index_dict)
        self.recorder.record(
            {"op": "index", "db": self.db_name, "coll": self.name, "name": index_name, "index": index_dict}
        )

    def drop_index(self, index_name):
        super().drop_index(index_name)
        self.recorder.record({"op": "drop_index", "db": self.db_name, "coll": self.name, "name": index_name})


def apply(server: JournaledServerStore, op: dict) -> None:
    """Replay one journal record onto the storage (the recorder must be replaying: nothing is re-journaled)."""
    coll = server[op["db"]][op["coll"]]
    kind = op["op"]
    if kind == "put":
        doc = op["doc"]
        coll[store_key(op["id"] if "id" in op else doc["_id"])] = doc
    elif kind == "del":
        coll._documents.pop(store_key(op["id"]), None)
    elif kind == "create":
        coll.create()
    elif kind == "drop":
        coll.drop()
    elif kind == "rename":
        server[op["db"]].rename(op["coll"], op["to"])
    elif kind == "index":
        coll.create_index(op["name"], _index_from_bson(op["index"]))
    elif kind == "drop_index":
        coll.drop_index(op["name"])
    elif kind == "indexes":
        coll.indexes = {name: _index_from_bson(index) for name, index in op["indexes"].items()}
    else:
        raise ValueError(f"unknown journal record {kind!r}")


def _index_from_bson(index: dict) -> dict:
    """BSON turned mongomock's (field, direction) tuples into lists."""
    return {**index, "key": [tuple(pair) for pair in index["key"]]}


def dump(server: JournaledServerStore):
    """The whole storage as journal records (a snapshot), collection by collection, documents in order."""
    for db_name in server.database_names():
        db = server[db_name]
        for coll_name in list(db._collections):
            coll = db[coll_name]
            if not coll.is_created:
                continue
            if coll._is_force_created:
                yield {"op": "create", "db": db_name, "coll": coll_name}
            for name, index in coll.indexes.items():
                yield {"op": "index", "db": db_name, "coll": coll_name, "name": name, "index": index}
            for key, doc in coll._documents.items():
                yield document_record(coll, key, doc)


def document_record(coll: JournaledCollectionStore, key, doc: dict | None) -> dict:
    if doc is None:
        return {"op": "del", "db": coll.db_name, "coll": coll.name, "id": key}
    record = {"op": "put", "db": coll.db_name, "coll": coll.name, "doc": doc}
    if store_key(doc.get("_id")) != key:
        record["id"] = key
    return record


# --- client objects -----------------------------------------------------------------------------------
class JournaledCollection(mongomock.Collection):
    @property
    def _recorder(self):
        return self.database.client._recorder

    def _update(self, spec, document, *args, **kwargs):
        # pymongo encodes a command before sending it; mongomock does not, and a value BSON cannot hold
        # would be applied in memory and then fail in the journal. Refuse it first, as pymongo does.
        bson.encode({"q": spec, "u": {"pipeline": document} if isinstance(document, list) else document})
        return super()._update(spec, document, *args, **kwargs)

    def _apply_update_document(self, existing_document, *args, **kwargs):
        key = store_key(existing_document.get("_id"))
        try:
            return super()._apply_update_document(existing_document, *args, **kwargs)
        finally:
            self._recorder.mark(self._store, key)

    def _apply_update_pipeline(self, existing_document, *args, **kwargs):
        key = store_key(existing_document.get("_id"))
        try:
            return super()._apply_update_pipeline(existing_document, *args, **kwargs)
        finally:
            self._recorder.mark(self._store, key)

    def with_options(self, *args, **kwargs):
        return _journaled(super().with_options(*args, **kwargs), JournaledCollection)


class JournaledDatabase(mongomock.Database):
    def get_collection(self, *args, **kwargs):
        return _journaled(super().get_collection(*args, **kwargs), JournaledCollection)

    def with_options(self, *args, **kwargs):
        return _journaled(super().with_options(*args, **kwargs), JournaledDatabase)

    def command(self, command, **kwargs):
        """ping, and compact (the store is rewritten as a snapshot, its journal emptied); else mongomock's."""
        name = command if isinstance(command, str) else next(iter(command), None)
        if name == "compact":
            self.client._recorder.compact()
            return {"ok": 1.0, "note": "dftflow embedded store: snapshot rewritten, journal emptied"}
        return super().command(command, **kwargs)


class JournaledClient(mongomock.MongoClient):
    def __init__(self, recorder, **kwargs):
        self._recorder = recorder
        super().__init__(_store=JournaledServerStore(recorder), **kwargs)

    def get_database(self, *args, **kwargs):
        return _journaled(super().get_database(*args, **kwargs), JournaledDatabase)

    def close(self):  # a MongoClient's close() ends connections; the store is closed by its owner
        pass


def _journaled(obj, cls):
    """mongomock builds its Database/Collection objects itself; give them the journaled class (no state added)."""
    if type(obj) is not cls:
        obj.__class__ = cls
    return obj


def _calls_through_recorder(cls, recorder_of):
    """Every public method of mongomock's class (and _update, which its bulk operations call after the
    public call has returned) runs through the recorder's run_call(): checks first, one journal frame after."""
    base = cls.__mro__[1]
    for name, _ in inspect.getmembers(base):
        static = inspect.getattr_static(base, name)
        if (name.startswith("_") and name != "_update") or not inspect.isfunction(static):
            continue
        method = getattr(cls, name)

        def call(self, *args, _method=method, **kwargs):
            return recorder_of(self).run_call(_method, self, args, kwargs)

        setattr(cls, name, functools.wraps(method)(call))


_calls_through_recorder(JournaledCollection, lambda coll: coll.database.client._recorder)
_calls_through_recorder(JournaledDatabase, lambda db: db.client._recorder)
_calls_through_recorder(JournaledClient, lambda client: client._recorder)
