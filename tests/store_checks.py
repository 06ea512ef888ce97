"""The reopen check of dftflow's embedded store, shared by its tests and the FireWorks suite harness."""

from __future__ import annotations

import shutil

import bson

from dftflow.embedded import DurableStore


def client_state(client) -> dict:
    """Everything a client sees: databases, collections, indexes, documents in natural order (BSON bytes)."""
    return {
        db_name: {
            name: {
                "indexes": client[db_name][name].index_information(),
                "documents": [bson.encode(doc) for doc in client[db_name][name].find()],
            }
            for name in sorted(client[db_name].list_collection_names())
        }
        for db_name in sorted(client.list_database_names())
    }


def reopen_check(store: DurableStore, when: str = "") -> dict:
    """Copy the store directory, open the copy as a restart would (snapshot + journal replay) and require
    it to hold exactly the live data. Returns that data."""
    copy = store.path.with_name(store.path.name + "-reopened")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store.path, copy)
    try:
        reopened = DurableStore(copy)
    except Exception as exc:
        raise AssertionError(f"reopen check {when}: the copied store does not open: {exc!r}") from exc
    try:
        live, again = client_state(store.client), client_state(reopened.client)
        if live != again:
            diff = [
                f"{db}.{coll}"
                for db in sorted(set(live) | set(again))
                for coll in sorted(set(live.get(db, {})) | set(again.get(db, {})))
                if live.get(db, {}).get(coll) != again.get(db, {}).get(coll)
            ]
            raise AssertionError(f"reopen check {when}: reopened data differs from the live data in {diff}")
        return live
    finally:
        reopened.close()
        shutil.rmtree(copy, ignore_errors=True)
