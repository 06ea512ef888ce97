"""A durable, single-process MongoDB stand-in for the embedded default: mongomock + a write-ahead journal.

Why not FireWorks' own mongomock persistence (MONGOMOCK_SERVERSTORE_FILE)? It writes the whole store
only at interpreter exit: a SIGKILL loses every state change of the run, and two processes sharing the
file can both check out the same Firework. Measured in tests/test_embedded.py. montydb (an embedded
engine) was measured too: it needs shims for aggregate, find_one_and_replace, rename, indexes and
unique constraints to run FireWorks at all, and is 6-8x slower than mongomock.

How this one works:
* All data lives in a mongomock client (dftflow.journaled_mongomock) whose storage reports every
  change, whatever path made it. FireWorks' LaunchPad and the results store use their normal pymongo
  code; so can anything handed `store.client`.
* The changes of one client call are written to `journal.<generation>.bson` as one frame (length,
  CRC-32, the changed documents as BSON) before the call returns: a killed process loses nothing it
  was told succeeded, and a frame torn by a kill was never acknowledged and is dropped on replay. The
  journal is fsync'ed before the call returns too, unless the call is part of a LaunchPad operation
  (see :meth:`DurableStore.operation`), in which case it is fsync'ed once when the operation returns.
* Opening the store loads `snapshot.bson` and replays the journal. When the journal outgrows the
  snapshot (and COMPACT_BYTES), the whole store is written to a new snapshot (temporary file, fsync,
  atomic rename) and a new journal generation starts; `db.command("compact")` does it on demand.
* One process at a time: the store holds an exclusive flock on `LOCK`, released by the OS when the
  process dies; LOCK says who holds it and since when, for the message a second opener gets.
* A process forked from the one that opened the store (multiprocessing, FireWorks' `rlaunch multi`)
  has a private copy of the data: any use of the inherited store is refused with an error saying how
  to run several workers. A forked child that calls open_store() opens the store afresh, and is
  refused as busy while its parent holds it.
"""

from __future__ import annotations

import functools
import inspect
import os
import struct
import threading
import time
import weakref
import zlib
from contextlib import contextmanager
from pathlib import Path

import bson
from bson.codec_options import CodecOptions

from dftflow.errors import DftflowError, InputError
from dftflow.journaled_mongomock import JournaledClient, apply, document_record, dump
from dftflow.store_lock import SEVERAL_WORKERS, take_lock

FORMAT = "dftflow-store/2"
COMPACT_BYTES = 8 * 1024 * 1024  # journal size before a compaction is considered (then: once it outgrows the snapshot)
SNAPSHOT_CHUNK = 500  # records per snapshot frame
_FRAME = struct.Struct("<II")  # payload bytes, CRC-32 of the payload
_DECODE = CodecOptions(document_class=dict, tz_aware=False)
_OPEN_STORES: dict[Path, DurableStore] = {}  # open_store()'s cache
_LIVE_STORES: weakref.WeakSet[DurableStore] = weakref.WeakSet()  # every store of this process, for forks


class StoreInherited(InputError):
    """This process was forked from the one that opened the store."""


class StoreCorrupt(InputError):
    """The files on disk cannot be read back as written (not a torn last frame: that is expected)."""


class StoreFailure(DftflowError):
    """A change was applied in memory but could not be journaled; the store refuses all further use."""


class DurableStore:
    """A directory holding one journaled mongomock server. Use :func:`open_store`."""

    def __init__(self, path: str | Path, compact_bytes: int = COMPACT_BYTES):
        self.path = Path(path)
        self.compact_bytes = compact_bytes
        self._lock_fd = take_lock(self.path)
        self._pid, self._inherited, self._failed, self._closed = os.getpid(), False, None, False
        self._mutex = threading.RLock()
        self._local = threading.local()  # per thread: call depth, operation depth
        self._dirty: dict = {}  # (id(collection store), key) -> (collection store, key), changed in this call
        self._frame = bytearray()  # encoded records of the current call
        self._replaying, self._unsynced = True, False
        self.client = JournaledClient(self)
        self._journal_fd = -1
        try:
            self._load()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._replaying = False
        _LIVE_STORES.add(self)

    # --- public API --------------------------------------------------------------------------------
    def database(self, name: str):
        return self.client[name]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        if self._inherited:  # the parent's store: its descriptors were already let go at the fork
            self._closed = True
            return
        with self._mutex:
            try:
                if self._failed is None:
                    self._commit()
                    self._sync()
            finally:
                os.close(self._journal_fd)
                os.close(self._lock_fd)  # releases the flock
                self._closed = True
                if _OPEN_STORES.get(self.path.resolve()) is self:
                    del _OPEN_STORES[self.path.resolve()]

    @contextmanager
    def operation(self):
        """Group the calls of one higher-level operation (a LaunchPad method): each call is still written
        to the journal before it returns (kill-safe), and the journal is fsync'ed once at the end."""
        local = self._local
        local.operations = getattr(local, "operations", 0) + 1
        try:
            yield
        finally:
            local.operations -= 1
            if local.operations == 0 and self._unsynced and not self._closed and not self._inherited:
                with self._mutex:
                    self._sync()

    def compact(self) -> None:
        """Write everything to a new snapshot and start an empty journal (crash-safe order). If the
        snapshot cannot be written, nothing changes (the journal goes on) and the error is raised."""
        self._check_usable()
        with self._mutex:
            self._commit()
            generation = self.generation + 1
            tmp = self.path / "snapshot.tmp"
            try:
                size = _write_snapshot(tmp, generation, self.client._store)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            try:  # from here on the snapshot is the store's: failing now, the journal must not be written
                os.replace(tmp, self.path / "snapshot.bson")
                _fsync_dir(self.path)
                old_fd, old_path = self._journal_fd, self._journal_path(self.generation)
                self.generation = generation
                self._open_journal()
            except OSError as exc:
                self._fail(f"compaction failed after its snapshot was saved ({exc.strerror})")
                raise StoreFailure(f"store {self.path}: {self._failed}") from exc
            os.close(old_fd)
            old_path.unlink(missing_ok=True)
            self.snapshot_bytes, self.journal_bytes, self._unsynced = size, 0, False

    # --- the recorder interface of dftflow.journaled_mongomock ------------------------------------------
    def run_call(self, method, obj, args, kwargs):
        """One client call: refused if this store cannot be used here; its changes form one journal frame."""
        self._check_usable()
        local = self._local
        with self._mutex:
            depth = getattr(local, "depth", 0)
            local.depth = depth + 1
            try:
                return method(obj, *args, **kwargs)
            finally:
                local.depth = depth
                if depth == 0:
                    self._commit()

    def mark(self, coll, key) -> None:
        """A document of `coll` was stored, replaced, changed in place or deleted."""
        if self._replaying:
            return
        with self._mutex:
            self._dirty[(id(coll), key)] = (coll, key)
            if not getattr(self._local, "depth", 0):  # a change outside any client call: journal it now
                self._commit()

    def record(self, op: dict) -> None:
        """A structural change (collection created, dropped, renamed; index created or dropped)."""
        if self._replaying:
            return
        with self._mutex:
            self._frame += self._encode(op)
            if not getattr(self._local, "depth", 0):
                self._commit()

    def flush_marks(self) -> None:
        """Encode the changed documents now (before a structural change that would move or drop them)."""
        if self._replaying or not self._dirty:
            return
        with self._mutex:
            dirty, self._dirty = self._dirty, {}
            for coll, key in dirty.values():
                self._frame += self._encode(document_record(coll, key, coll._documents.get(key)))

    # --- internals ---------------------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._inherited or os.getpid() != self._pid:
            raise StoreInherited(
                f"the embedded store {self.path} was opened by process {self._pid} and this process "
                f"({os.getpid()}) was forked from it, with a private copy of its data that must not be written; "
                + SEVERAL_WORKERS
            )
        if self._closed:
            raise RuntimeError(f"store {self.path} is closed")
        if self._failed is not None:
            raise StoreFailure(f"store {self.path} refuses further use: {self._failed}")

    def _encode(self, record: dict) -> bytes:
        try:
            return bson.encode(record)
        except Exception as exc:
            self._fail(f"a change could not be journaled ({type(exc).__name__}: {exc})")
            raise StoreFailure(f"store {self.path}: {self._failed}") from exc

    def _fail(self, why: str) -> None:
        self._failed = f"{why}; the data in memory differs from the journal: reopen the store"

    def _commit(self) -> None:
        self.flush_marks()
        if not self._frame:
            return
        frame, self._frame = _frame(bytes(self._frame)), bytearray()
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self._journal_fd, view) :]
            if getattr(self._local, "operations", 0):
                self._unsynced = True
            else:
                os.fsync(self._journal_fd)
                self._unsynced = False
        except OSError as exc:
            self._fail(f"cannot write its journal: {exc.strerror}")
            raise StoreFailure(f"store {self.path}: {self._failed}") from exc
        self.journal_bytes += len(frame)
        if self.journal_bytes > max(self.compact_bytes, self.snapshot_bytes):
            try:
                self.compact()
            except OSError:  # the snapshot could not be written (disk full?): the journal still holds it all
                self.compact_bytes = 2 * self.journal_bytes

    def _sync(self) -> None:
        if self._unsynced:
            os.fsync(self._journal_fd)
            self._unsynced = False

    def _journal_path(self, generation: int) -> Path:
        return self.path / f"journal.{generation}.bson"

    def _open_journal(self) -> None:
        path = self._journal_path(self.generation)
        created = not path.exists()
        self._journal_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if created:
            _fsync_dir(self.path)

    def _load(self) -> None:
        if (self.path / "snapshot.json").exists() or any(self.path.glob("journal.*.jsonl")):
            raise StoreCorrupt(
                f"{self.path} was written by an earlier dftflow (snapshot.json/journal.*.jsonl format), which "
                "this version does not read; finish its studies with that version or use another work directory"
            )
        (self.path / "snapshot.tmp").unlink(missing_ok=True)  # a compaction killed before its rename
        self.generation, self.snapshot_bytes = 0, 0
        snapshot = self.path / "snapshot.bson"
        if snapshot.exists():
            data = snapshot.read_bytes()
            frames, end = _read_frames(data)
            header = _decode(frames[0])[0] if frames else {}
            if header.get("format") != FORMAT:
                raise StoreCorrupt(f"{snapshot} is not a {FORMAT} snapshot")
            if end != len(data) or len(frames) < 2 or "end" not in _decode(frames[-1])[0]:
                raise StoreCorrupt(f"{snapshot} is damaged (it was written completely before being renamed)")
            self.generation = header["generation"]
            for payload in frames[1:-1]:
                for op in _decode(payload):
                    apply(self.client._store, op)
            self.snapshot_bytes = len(data)
        for stale in self.path.glob("journal.*.bson"):
            if stale != self._journal_path(self.generation):
                stale.unlink()  # superseded by the snapshot (a compaction killed before removing it)
        journal = self._journal_path(self.generation)
        data = journal.read_bytes() if journal.exists() else b""
        frames, end = _read_frames(data)
        for payload in frames:
            for op in _decode(payload):
                apply(self.client._store, op)
        if end != len(data):
            # The torn last frame of a killed write (never acknowledged), or after a machine crash the part
            # written since the last fsync. Anything more than one frame is kept aside for inspection.
            if _frame_fits(data, end):
                Path(f"{journal}.damaged-{int(time.time())}").write_bytes(data[end:])
            os.truncate(journal, end)
        self.journal_bytes = end
        self._open_journal()


def _write_snapshot(path: Path, generation: int, server) -> int:
    """The whole store as frames: a header, records in chunks, an end marker; fsync'ed. Returns its size."""
    with open(path, "wb") as fh:
        fh.write(_frame(bson.encode({"format": FORMAT, "generation": generation})))
        chunk, frames = bytearray(), 1
        for count, record in enumerate(dump(server), start=1):
            chunk += bson.encode(record)
            if count % SNAPSHOT_CHUNK == 0:
                fh.write(_frame(bytes(chunk)))
                chunk, frames = bytearray(), frames + 1
        if chunk:
            fh.write(_frame(bytes(chunk)))
            frames += 1
        fh.write(_frame(bson.encode({"end": frames})))
        fh.flush()
        os.fsync(fh.fileno())
        return fh.tell()


def _frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def _read_frames(data: bytes) -> tuple[list[bytes], int]:
    """The complete, intact frames at the start of `data`, and the byte where they end."""
    frames, pos = [], 0
    while pos + _FRAME.size <= len(data):
        size, crc = _FRAME.unpack_from(data, pos)
        payload = data[pos + _FRAME.size : pos + _FRAME.size + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            break
        frames.append(payload)
        pos += _FRAME.size + size
    return frames, pos


def _frame_fits(data: bytes, pos: int) -> bool:
    """Whether the bad frame at `pos` ends before the file does (more than a torn append)."""
    if pos + _FRAME.size > len(data):
        return False
    size, _ = _FRAME.unpack_from(data, pos)
    return pos + _FRAME.size + size < len(data)


def _decode(payload: bytes) -> list[dict]:
    return bson.decode_all(payload, _DECODE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _after_fork_in_child() -> None:
    """The child's copies of the parent's stores: refused from now on, their descriptors let go (so a
    child that outlives its parent does not keep the lock), forgotten by open_store()."""
    for store in list(_LIVE_STORES):
        if store._closed:
            continue  # its descriptor numbers may belong to other files by now
        store._inherited = True
        for fd in (store._journal_fd, store._lock_fd):
            try:
                os.close(fd)
            except OSError:
                pass
    _OPEN_STORES.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def open_store(path: str | Path, compact_bytes: int = COMPACT_BYTES) -> DurableStore:
    """The open store for `path` in this process (one instance per directory)."""
    key = Path(path).resolve()
    store = _OPEN_STORES.get(key)
    if store is None or store.closed:
        store = DurableStore(key, compact_bytes=compact_bytes)
        _OPEN_STORES[key] = store
    return store


def store_operations(base):
    """Class decorator: every public method of the class and of `base` runs as one
    :meth:`DurableStore.operation` of `self.store` (for fireworks.LaunchPad, whose methods make several
    collection calls each)."""

    def decorate(cls):
        for name, attr in {**vars(base), **vars(cls)}.items():
            if not name.startswith("_") and inspect.isfunction(attr):
                setattr(cls, name, _as_operation(getattr(cls, name)))
        return cls

    return decorate


def _as_operation(method):
    @functools.wraps(method)
    def operation(self, *args, **kwargs):
        with self.store.operation():
            return method(self, *args, **kwargs)

    return operation


def store_summary(store: DurableStore) -> dict:
    """Counts per database and collection (for status displays and tests)."""
    return {
        db: {c: store.client[db][c].count_documents({}) for c in store.client[db].list_collection_names()}
        for db in store.client.list_database_names()
    }
