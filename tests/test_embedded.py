"""The embedded store: durable on every acknowledged write, exclusive, and measured against FireWorks'
own mongomock persistence (which loses everything on SIGKILL)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from dftflow.embedded import COMPACT_AFTER, open_store, store_summary
from dftflow.errors import InputError


def test_writes_survive_reopen_and_compaction(tmp_path):
    store = open_store(tmp_path)
    coll = store.database("db").things
    coll.insert_one({"n": 1})
    coll.insert_many([{"n": 2}, {"n": 3}])
    coll.update_one({"n": 1}, {"$set": {"x": "a"}})
    coll.find_one_and_update({"n": 2}, {"$inc": {"n": 10}})
    coll.delete_one({"n": 3})
    coll.update_one({"n": 99}, {"$set": {"x": "up"}}, upsert=True)
    coll.create_index([("n", 1)], unique=True)
    before = sorted((d["n"], d.get("x"), str(d["_id"])) for d in coll.find())
    store.close()
    again = open_store(tmp_path)
    coll = again.database("db").things
    assert sorted((d["n"], d.get("x"), str(d["_id"])) for d in coll.find()) == before  # same _ids too
    assert "n_1" in coll.index_information()
    again.compact()
    again.close()
    third = open_store(tmp_path)
    assert sorted((d["n"], d.get("x"), str(d["_id"])) for d in third.database("db").things.find()) == before
    assert third.records == 0
    third.close()


def test_writes_the_journal_cannot_record_are_refused(tmp_path):
    """A write that would bypass the journal (and be lost on a kill) is refused, and nothing changes."""
    store = open_store(tmp_path)
    coll = store.database("db").things
    coll.insert_one({"n": 1})
    for call in (lambda: coll.bulk_write([]), lambda: coll.rename("other")):
        with pytest.raises(NotImplementedError, match="not journaled"):
            call()
    with pytest.raises(NotImplementedError, match="not journaled"):
        coll.aggregate([{"$match": {}}, {"$out": "copy"}])
    assert [d["n"] for d in coll.aggregate([{"$match": {}}])] == [1]  # read-only pipelines still work
    store.close()
    assert open_store(tmp_path).database("db").list_collection_names() == ["things"]


def test_journal_compacts_itself(tmp_path):
    store = open_store(tmp_path)
    coll = store.database("db").c
    for i in range(COMPACT_AFTER + 5):
        coll.insert_one({"i": i})
    assert store.records == 5 and (tmp_path / "snapshot.json").exists()
    store.close()
    assert open_store(tmp_path).database("db").c.count_documents({}) == COMPACT_AFTER + 5


def test_torn_last_record_is_dropped(tmp_path):
    store = open_store(tmp_path)
    store.database("db").c.insert_one({"i": 1})
    store.close()
    journal = next(tmp_path.glob("journal.*.jsonl"))
    with open(journal, "a") as fh:
        fh.write('{"db": "db", "coll": "c", "op": "insert_one", "args": [{"i": 2')  # killed mid-write
    store = open_store(tmp_path)
    assert [d["i"] for d in store.database("db").c.find()] == [1]
    store.database("db").c.insert_one({"i": 3})  # the journal is usable again
    store.close()
    assert [d["i"] for d in open_store(tmp_path).database("db").c.find()] == [1, 3]


def test_second_process_is_refused(tmp_path):
    store = open_store(tmp_path)
    code = f"from dftflow.embedded import open_store; open_store({str(tmp_path)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "in use by another dftflow process" in result.stderr
    assert str(os.getpid()) in result.stderr
    store.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    {setup}
    for i in range(100000):
        coll.insert_one({{"i": i, "payload": "x" * 200}})
        print(i, flush=True)   # printed only after the write call returned
    """
)


def _kill_after_acks(code: str, acks: int, env=None) -> int:
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    last = -1
    while last < acks:
        line = proc.stdout.readline()
        if not line:
            break
        last = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return last


def test_sigkill_keeps_every_acknowledged_write(tmp_path):
    setup = f"from dftflow.embedded import open_store\ncoll = open_store({str(tmp_path)!r}).database('db').c"
    last_ack = _kill_after_acks(WRITER.format(setup=setup), acks=300)
    assert last_ack >= 300
    store = open_store(tmp_path)
    found = sorted(d["i"] for d in store.database("db").c.find())
    assert found[: last_ack + 1] == list(range(last_ack + 1))  # nothing acknowledged is lost
    assert len(found) <= last_ack + 2  # at most the one write in flight when the kill came
    print(f"embedded store: {last_ack + 1} acknowledged writes before SIGKILL, {len(found)} on disk after")
    store.close()


def test_fireworks_mongomock_persistence_loses_everything_on_sigkill(tmp_path):
    """The measurement behind DESIGN.md's warning: FireWorks' MONGOMOCK_SERVERSTORE_FILE mode saves at
    interpreter exit only."""
    pytest.importorskip("mongomock_persistence")
    store_file = tmp_path / "mongomock.json"
    store_file.write_text("{}")
    env = {**os.environ, "MONGOMOCK_SERVERSTORE_FILE": str(store_file)}
    setup = "from fireworks.fw_config import MongoClient\ncoll = MongoClient()['db']['c']"
    last_ack = _kill_after_acks(WRITER.format(setup=setup), acks=300, env=env)
    assert last_ack >= 300
    assert store_file.read_text() == "{}"  # all acknowledged writes gone
    print(f"FireWorks mongomock persistence: {last_ack + 1} acknowledged writes before SIGKILL, 0 on disk after")


def test_store_summary(tmp_path):
    store = open_store(tmp_path)
    store.database("a").x.insert_one({})
    assert store_summary(store) == {"a": {"x": 1}}
    store.close()
    with pytest.raises(RuntimeError):
        store.database("a").x.insert_one({})


def test_unwritable_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="cannot use"):
        open_store(blocker / "store")
