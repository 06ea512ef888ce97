"""The embedded store: every acknowledged write survives a kill and a reopen, whatever path made it;
one process at a time (a second one, or a forked child, is refused and says why); and measured against
FireWorks' own mongomock persistence (which loses everything on SIGKILL)."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading

import pymongo
import pytest
from bson.errors import InvalidDocument
from fireworks import Firework, FWorker, PyTask, Workflow

from dftflow.embedded import StoreCorrupt, StoreFailure, open_store, store_summary
from dftflow.errors import InputError
from dftflow.launchpad import EmbeddedLaunchPad
from tests.store_checks import client_state, reopen_check


def _reopened_state(store):
    path = store.path
    live = client_state(store.client)
    store.close()
    again = open_store(path)
    assert client_state(again.client) == live
    return again


def test_writes_survive_reopen_and_compaction(tmp_path):
    store = open_store(tmp_path)
    coll = store.database("db").things
    coll.insert_one({"n": 1})
    coll.insert_many([{"n": 2}, {"n": 3}])
    coll.update_one({"n": 1}, {"$set": {"x": "a"}})
    coll.find_one_and_update({"n": 2}, {"$inc": {"n": 10}})
    coll.replace_one({"n": 12}, {"n": 12, "replaced": True})
    coll.delete_one({"n": 3})
    coll.update_one({"n": 99}, {"$set": {"x": "up"}}, upsert=True)
    coll.update_many({}, [{"$set": {"piped": True}}])  # an update pipeline
    coll.create_index([("n", 1)], unique=True)
    store = _reopened_state(store)
    assert "n_1" in store.database("db").things.index_information()
    store.compact()
    assert store.journal_bytes == 0
    store = _reopened_state(store)
    assert sorted(d["n"] for d in store.database("db").things.find()) == [1, 12, 99]
    store.close()


def test_every_write_path_is_journaled(tmp_path):
    """Writes that do not go through the first collection object a caller got: drop_database, drop_collection,
    with_options(...), database[...], client[...] of another object, rename, bulk_write, the legacy bulk API,
    aggregate $out, create_collection, drop_indexes. All of them survive a reopen."""
    store = open_store(tmp_path)
    client = store.client
    db = client["db"]
    db.a.insert_many([{"i": i} for i in range(5)])
    db.a.with_options(write_concern=pymongo.WriteConcern(w=1)).insert_one({"i": "with_options w=1"})
    db.a.with_options(read_preference=pymongo.ReadPreference.SECONDARY).insert_one({"i": "with_options"})
    db.a.database["b"].insert_one({"via": "collection.database[...]"})
    client.get_database("db").get_collection("c").insert_one({"via": "get_database().get_collection()"})
    db.with_options(read_preference=pymongo.ReadPreference.SECONDARY)["d"].insert_one({"via": "db.with_options"})
    db.a.sub.insert_one({"via": "sub-collection a.sub"})
    db.a.bulk_write(
        [
            pymongo.InsertOne({"i": "bulk"}),
            pymongo.UpdateMany({"i": 1}, {"$set": {"bulk": True}}),  # (mongomock 4.3 takes no UpdateOne/ReplaceOne
            pymongo.DeleteOne({"i": 3}),  # from pymongo >= 4.9, which pass `sort`)
        ]
    )
    legacy = db.a.initialize_ordered_bulk_op()
    legacy.find({"i": 4}).update_one({"$set": {"legacy": True}})
    legacy.insert({"i": "legacy insert"})
    legacy.execute()
    db.a.aggregate([{"$match": {"i": {"$type": "int"}}}, {"$out": "ints"}])
    db.create_collection("empty_but_created")
    db.c.create_index("via")
    db.c.drop_indexes()
    db.b.rename("b_renamed")
    db.d.drop()
    db.drop_collection("c")
    client["gone"].x.insert_one({"doomed": True})
    client.drop_database("gone")  # what FireWorks' tests do: lp.connection.drop_database(...)
    assert "gone" not in client.list_database_names()
    store = _reopened_state(store)
    db = store.client["db"]
    assert "gone" not in store.client.list_database_names()
    assert sorted(db.list_collection_names()) == ["a", "a.sub", "b_renamed", "empty_but_created", "ints"]
    assert db.a.find_one({"i": 4})["legacy"] and db.a.find_one({"i": 1})["bulk"]
    assert db.a.find_one({"i": 3}) is None and db.a.count_documents({}) == 8
    assert [d["i"] for d in db.ints.find()] == [0, 1, 2, 4]
    store.close()


def test_a_value_bson_cannot_hold_is_refused_before_anything_changes(tmp_path):
    store = open_store(tmp_path)
    coll = store.database("db").c
    coll.insert_one({"n": 1})
    with pytest.raises(InvalidDocument):
        coll.update_one({"n": 1}, {"$set": {"bad": {1, 2}}})  # pymongo refuses a set the same way
    with pytest.raises(InvalidDocument):
        coll.insert_one({"bad": object()})
    assert [{k: v for k, v in d.items() if k != "_id"} for d in coll.find()] == [{"n": 1}]
    coll.insert_one({"n": 2})  # still usable
    _reopened_state(store).close()


def test_a_write_the_journal_cannot_take_is_not_acknowledged_and_the_store_stops(tmp_path, monkeypatch):
    """Disk full: the call fails (nothing acknowledged), every later call is refused (the data in memory is
    ahead of the journal), and a reopen has every write acknowledged before."""
    store = open_store(tmp_path)
    coll = store.database("db").c
    coll.insert_one({"n": 1})

    def disk_full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(StoreFailure, match="No space left on device"):
        coll.insert_one({"n": 2})
    monkeypatch.undo()
    with pytest.raises(StoreFailure, match="refuses further use"):
        coll.find_one()
    store.close()
    assert [d["n"] for d in open_store(tmp_path).database("db").c.find()] == [1]


def test_changes_from_several_threads(tmp_path):
    store = open_store(tmp_path)
    coll = store.database("db").c

    def writer(t):
        for i in range(100):
            coll.insert_one({"t": t, "i": i})
            coll.update_one({"t": t, "i": i}, {"$set": {"done": True}})

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert coll.count_documents({"done": True}) == 400
    _reopened_state(store).close()


def test_journal_compacts_itself(tmp_path):
    store = open_store(tmp_path, compact_bytes=4000)
    coll = store.database("db").c
    for i in range(300):
        coll.insert_one({"i": i, "payload": "x" * 50})
    assert (tmp_path / "snapshot.bson").exists() and store.generation > 1
    assert store.journal_bytes <= max(4000, store.snapshot_bytes)
    assert sorted(p.name for p in tmp_path.glob("journal.*")) == [f"journal.{store.generation}.bson"]
    store.close()
    assert open_store(tmp_path).database("db").c.count_documents({}) == 300


def test_a_compaction_that_cannot_write_its_snapshot_changes_nothing(tmp_path, monkeypatch):
    import dftflow.embedded

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dftflow.embedded, "_write_snapshot", disk_full)
    store = open_store(tmp_path, compact_bytes=2000)
    for i in range(100):
        store.database("db").c.insert_one({"i": i, "payload": "x" * 50})  # each write is acknowledged
    assert store.generation == 0 and not (tmp_path / "snapshot.bson").exists()
    store.close()
    assert open_store(tmp_path).database("db").c.count_documents({}) == 100


def test_torn_last_frame_is_dropped(tmp_path):
    store = open_store(tmp_path)
    store.database("db").c.insert_one({"i": 1})
    store.close()
    journal = next(tmp_path.glob("journal.*.bson"))
    intact = journal.stat().st_size
    with open(journal, "ab") as fh:
        fh.write(b"\x40\x00\x00\x00\x12\x34")  # a kill in the middle of appending the next frame
    store = open_store(tmp_path)
    assert journal.stat().st_size == intact
    assert [d["i"] for d in store.database("db").c.find()] == [1]
    store.database("db").c.insert_one({"i": 3})  # the journal is usable again
    store.close()
    assert [d["i"] for d in open_store(tmp_path).database("db").c.find()] == [1, 3]


def test_a_damaged_frame_ends_the_journal_and_what_follows_is_kept_aside(tmp_path):
    """After a machine crash the unsynced end of the journal may hold garbage before intact frames: replay
    stops at the first damaged frame and keeps the rest in journal.<n>.bson.damaged-<time>."""
    store = open_store(tmp_path)
    coll = store.database("db").c
    for i in range(3):
        coll.insert_one({"i": i})
    store.close()
    journal = next(tmp_path.glob("journal.*.bson"))
    data = bytearray(journal.read_bytes())
    frame = len(data) // 3
    data[frame + 20] ^= 0xFF  # a byte of the second frame's payload
    journal.write_bytes(bytes(data))
    store = open_store(tmp_path)
    assert [d["i"] for d in store.database("db").c.find()] == [0]
    assert [p.stat().st_size for p in tmp_path.glob("journal.*.damaged-*")] == [len(data) - frame]
    store.close()


def test_damaged_snapshot_and_old_format_are_refused(tmp_path):
    store = open_store(tmp_path / "a")
    store.database("db").c.insert_one({"i": 1})
    store.compact()
    store.close()
    snapshot = tmp_path / "a" / "snapshot.bson"
    snapshot.write_bytes(snapshot.read_bytes()[:-3])
    with pytest.raises(StoreCorrupt, match="damaged"):
        open_store(tmp_path / "a")
    with pytest.raises(StoreCorrupt):  # refused again, not "busy": the failed open let go of the lock
        open_store(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "journal.0.jsonl").write_text("{}\n")
    with pytest.raises(StoreCorrupt, match="earlier dftflow"):
        open_store(tmp_path / "b")


def test_second_process_is_refused_with_who_and_since_when(tmp_path):
    store = open_store(tmp_path)
    code = f"from dftflow.embedded import open_store; open_store({str(tmp_path)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "StoreBusy" in result.stderr
    assert "in use by another dftflow process" in result.stderr
    assert f"pid {os.getpid()}" in result.stderr and "since 20" in result.stderr
    store.close()


def test_busy_work_directory_is_reported_with_holder_and_exit_2(tmp_path):
    from dftflow.runner import open_workdir
    from tests.conftest import dftflow, guarded_env

    workdir = open_workdir(tmp_path / "wd")
    try:
        status = dftflow("status", "--workdir", tmp_path / "wd", env=guarded_env(tmp_path))
    finally:
        workdir.close()
    assert status.returncode == 2 and status.stdout == ""
    message = status.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert f"work directory {tmp_path / 'wd'} is busy: in use by another dftflow process" in message
    assert f"pid {os.getpid()} on " in message and " since 20" in message and "another --workdir" in message
    assert "LaunchPad" not in message


def test_forked_child_cannot_use_the_store(tmp_path):
    """A forked child has a private copy of the data: writing through it, or reading it, is refused; opening
    the store afresh is refused as busy while the parent holds it. The parent's data is untouched."""
    store = open_store(tmp_path)
    coll = store.database("db").c
    coll.insert_one({"by": "parent"})
    outcomes = _in_forked_child(
        lambda: coll.insert_one({"by": "child"}),
        lambda: coll.find_one(),
        lambda: open_store(tmp_path),
    )
    assert outcomes[0].startswith("StoreInherited") and "MongoDB server" in outcomes[0]
    assert outcomes[1].startswith("StoreInherited")
    assert outcomes[2].startswith("StoreBusy") and f"pid {os.getpid()}" in outcomes[2]
    coll.insert_one({"by": "parent, after the fork"})
    reopen_check(store)
    assert [d["by"] for d in coll.find()] == ["parent", "parent, after the fork"]
    store.close()
    assert _in_forked_child(lambda: open_store(tmp_path).database("db").c.insert_one({"by": "child"})) == ["ok"]
    assert [d["by"] for d in open_store(tmp_path).database("db").c.find()][-1] == "child"  # it reopened the store


def _in_forked_child(*calls) -> list[str]:
    """Run each call in one forked child; 'ok' or 'ExceptionName: message' for each."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        lines = []
        for call in calls:
            try:
                call()
                lines.append("ok")
            except Exception as exc:
                lines.append(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        os.write(write, "\n".join(lines).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        text = fh.read()
    os.waitpid(pid, 0)
    return text.splitlines()


RAN = "ran.txt"


def _count_run(fw_spec):
    with open(RAN, "a") as fh:
        fh.write(f"{fw_spec['n']}\n")


def _workflow(n: int) -> Workflow:
    return Workflow([Firework(PyTask(func=f"{__name__}._count_run"), spec={"n": i}, name=f"fw {i}") for i in range(n)])


def test_rlaunch_multi_on_a_work_directory_runs_nothing_twice(tmp_path, monkeypatch):
    """FireWorks' launch_multiprocess (rlaunch multi, mlaunch) serves the LaunchPad from a forked process: it
    is refused there, so no Firework runs (rather than each running once per worker), nothing is corrupted."""
    from fireworks.features.multi_launcher import launch_multiprocess

    monkeypatch.chdir(tmp_path)
    store = open_store(tmp_path / "store")
    lp = EmbeddedLaunchPad(store)
    lp.add_wf(_workflow(4))
    launch_multiprocess(lp, FWorker(), "CRITICAL", 0, 2, 0)
    assert not (tmp_path / RAN).exists()
    assert sorted(lp.get_fw_ids({"state": "READY"})) == [1, 2, 3, 4]
    reopen_check(store)
    store.close()


def _launchpad_in_worker(lp_dict):
    try:
        EmbeddedLaunchPad.from_dict(lp_dict).get_fw_ids()
        return "ok"
    except InputError as exc:
        return type(exc).__name__


def test_multiprocessing_pool_workers_are_refused(tmp_path):
    import multiprocessing

    store = open_store(tmp_path / "store")
    lp = EmbeddedLaunchPad(store)
    lp.add_wf(_workflow(2))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_launchpad_in_worker, [lp.to_dict()] * 2) == ["StoreBusy", "StoreBusy"]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(_launchpad_in_worker, [lp.to_dict()]) == ["StoreBusy"]
    store.close()


def test_launchpad_round_trips_through_to_dict_file_and_pickle(tmp_path):
    store = open_store(tmp_path / "store")
    lp = EmbeddedLaunchPad(store, name="fw_db", user_indices=["spec.n"])
    lp.add_wf(_workflow(1))
    again = EmbeddedLaunchPad.from_dict(lp.to_dict())
    assert again.store is store and again.name == "fw_db" and again.user_indices == ["spec.n"]
    unpickled = pickle.loads(pickle.dumps(lp))
    assert isinstance(unpickled, EmbeddedLaunchPad) and unpickled.store is store
    unpickled.add_wf(_workflow(1))  # written through the copy, seen by the original
    assert lp.get_fw_ids() == [1, 2]
    lp.to_file(str(tmp_path / "my_launchpad.yaml"))
    assert EmbeddedLaunchPad.from_file(str(tmp_path / "my_launchpad.yaml")).get_fw_ids() == [1, 2]
    store.close()


def test_db_command_ping_and_compact(tmp_path):
    store = open_store(tmp_path)
    lp = EmbeddedLaunchPad(store)
    assert lp.db.command("ping")["ok"] == 1.0
    assert lp.connection.admin.command("ping")["ok"] == 1.0  # what `lpad` asks
    lp.add_wf(_workflow(3))
    generation = store.generation
    lp.tuneup(bkground=False)  # FireWorks' tune-up ends with db.command({"compact": ...})
    assert store.generation == generation + 2 and store.journal_bytes == 0
    reopen_check(store)
    store.close()


def test_update_launchpad_data_renames_collections_durably(tmp_path, capsys, monkeypatch):
    from fireworks.core.rocket_launcher import rapidfire
    from fireworks.utilities.update_collection import update_launchpad_data

    monkeypatch.chdir(tmp_path)
    store = open_store(tmp_path / "store")
    lp = EmbeddedLaunchPad(store)
    lp.add_wf(Firework(PyTask(func="os.getcwd"), spec={"data_dir": "/scratch/old/run"}))
    rapidfire(lp, FWorker(), strm_lvl="CRITICAL")
    update_launchpad_data(lp, {"/scratch/old": "/project/new"})  # rewrites each collection, then renames
    assert lp.get_fw_by_id(1).spec["data_dir"] == "/project/new/run"
    reopened = reopen_check(store)["fireworks"]
    assert {name.split("_xiv_")[0] for name in reopened if "_xiv_" in name} == {"fireworks", "launches", "workflows"}
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


def test_store_summary_and_closed_store(tmp_path):
    store = open_store(tmp_path)
    store.database("a").x.insert_one({})
    assert store_summary(store) == {"a": {"x": 1}}
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.database("a").x.insert_one({})


def test_unwritable_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InputError, match="cannot use"):
        open_store(blocker / "store")
