"""LaunchPads: FireWorks' own, on the durable embedded store or on a production MongoDB.

Both are fireworks.LaunchPad, so workflows, states, reruns and queries go through FireWorks' code;
only the client underneath differs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from fireworks import LaunchPad

from dftflow.embedded import DurableStore
from dftflow.errors import InputError

FW_DB_NAME = "fireworks"
CONNECT_TIMEOUT_MS = 5000  # fail fast on an unreachable server instead of pymongo's 30 s default


DURABLE_MOCK_ENV = "DFTFLOW_MONGOMOCK_DIR"


class EmbeddedLaunchPad(LaunchPad):
    """fireworks.LaunchPad whose collections live in a :class:`DurableStore` (no server)."""

    def __init__(
        self, store: DurableStore, logdir: str | None = None, strm_lvl: str = "CRITICAL", name: str = FW_DB_NAME
    ):
        # LaunchPad.__init__ builds a pymongo client; connect=False keeps it from ever touching the network
        super().__init__(
            host="localhost",
            port=27017,
            name=name,
            logdir=logdir,
            strm_lvl=strm_lvl,
            mongoclient_kwargs={"connect": False},
        )
        self.connection.close()
        self.store = store
        self.db = store.database(name)
        self.connection = store.client
        self.fireworks = self.db.fireworks
        self.launches = self.db.launches
        self.offline_runs = self.db.offline_runs
        self.fw_id_assigner = self.db.fw_id_assigner
        self.workflows = self.db.workflows
        self.gridfs_fallback = None
        if self.fw_id_assigner.count_documents({}) == 0:  # a new store: ids and FireWorks' indexes
            self.reset("", require_password=False, max_reset_wo_password=0)

    def to_dict(self):
        return {"embedded_store": str(self.store.path)}

    def recover_dead_runs(self) -> list[int]:
        """Repair what a killed process left behind; safe because the store's exclusive lock is held, so
        no other process is working. Returns the fw_ids put back to READY.

        1. Workflow locks: a process killed inside a workflow update leaves the workflow "locked", and
           FireWorks would wait WFLOCK_EXPIRATION_SECS (5 min) on it; every lock here is stale.
        2. Every RUNNING or RESERVED Firework belongs to a dead process: FireWorks' detect_lostruns and
           detect_unreserved rerun those they find through launches; a process killed inside
           checkout_fw, after the Firework was marked RESERVED but before its launch was written, leaves
           one neither finds (seen in the kill tests), so what is still RESERVED or RUNNING is rerun.
        3. A kill inside a workflow refresh can leave children WAITING whose parents completed: every
           WAITING Firework is refreshed so its state follows its parents again (FireWorks' refresh
           only descends into children of Fireworks whose state changed)."""
        self.workflows.update_many({"locked": {"$exists": True}}, {"$unset": {"locked": True}})
        lost = self.detect_lostruns(expiration_secs=0, rerun=True)[1]
        self.detect_unreserved(expiration_secs=0, rerun=True)
        stuck = self.get_fw_ids({"state": {"$in": ["RESERVED", "RUNNING"]}})
        for fw_id in stuck:
            self.rerun_fw(fw_id)
        for fw_id in self.get_fw_ids({"state": "WAITING"}):
            self._refresh_wf(fw_id)
        return sorted(set(lost) | set(stuck))


def durable_mock_store():
    """The durable store standing in for MongoDB when DFTFLOW_MONGOMOCK_DIR is set (tests of the
    production path that kill workers: unlike FireWorks' mongomock persistence, every acknowledged write
    survives, as on a real MongoDB server). None in normal use."""
    import os

    from dftflow.embedded import open_store

    path = os.environ.get(DURABLE_MOCK_ENV)
    return open_store(path) if path else None


def load_launchpad(path: str | Path) -> LaunchPad:
    """A production LaunchPad from the standard FireWorks file, checked to answer within seconds."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"LaunchPad file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())
        store = durable_mock_store()
        if store is not None:
            return EmbeddedLaunchPad(store, strm_lvl="CRITICAL", name=config.get("name") or FW_DB_NAME)
        config["mongoclient_kwargs"] = {
            "serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS,
            **(config.get("mongoclient_kwargs") or {}),
        }
        lp = LaunchPad.from_dict(config)
    except Exception as exc:
        raise InputError(f"{path}: not a valid FireWorks LaunchPad file: {exc}") from exc
    check_reachable(lp.connection, where=f"LaunchPad at {server_name(lp.host, lp.port)}")
    return lp


def server_name(host: str, port: int | None = None) -> str:
    """host:port for messages, with any credentials of a mongodb:// URI removed."""
    if "://" in str(host):
        scheme, rest = str(host).split("://", 1)
        return f"{scheme}://{rest.rsplit('@', 1)[-1].split('/', 1)[0]}"
    return f"{host}:{port}" if port else str(host)


def mongo_client(*args, **kwargs):
    """A MongoClient made the way FireWorks makes its own: pymongo's, or - when FireWorks runs on mongomock
    (MONGOMOCK_SERVERSTORE_FILE, used by tests of the production path) - one sharing the process's
    mongomock server store. FireWorks' mongomock persistence gives every client its own copy of the file
    and writes each back at exit, so a second client (the results database) would overwrite the
    LaunchPad's changes with its stale copy; sharing one store per process keeps both."""
    from fireworks import fw_config

    if fw_config.MONGOMOCK_SERVERSTORE_FILE:
        import mongomock

        return mongomock.MongoClient(_store=_shared_mongomock_store())
    return fw_config.MongoClient(*args, **kwargs)


_SHARED_STORE = []


def _shared_mongomock_store():
    if not _SHARED_STORE:
        import gc

        from mongomock.store import ServerStore

        existing = [o for o in gc.get_objects() if isinstance(o, ServerStore) and getattr(o, "_filename", None)]
        _SHARED_STORE.append(existing[0] if existing else ServerStore())
    return _SHARED_STORE[0]


def check_reachable(client, where: str) -> None:
    """Ping the server with a short timeout; an unreachable database is a clear error, not a hang."""
    try:
        client.admin.command("ping")
    except Exception as exc:  # pymongo raises ServerSelectionTimeoutError, OperationFailure, ...
        raise InputError(f"cannot reach the MongoDB server of the {where}: {type(exc).__name__}: {exc}") from exc


def quiet_fireworks_logging(log_file: Path | None = None) -> None:
    """In a `dftflow run` process, library logging goes to `log_file`, not to the terminal, where the
    embedded runner prints its own progress. FireWorks' Rocket is told not to stream; the root logger
    (which imported packages may have configured at import time: imageio calls logging.basicConfig(),
    and custodian's handlers log under their class names) gets the file instead of any stream."""
    import fireworks.core.rocket as rocket

    rocket.ROCKET_STREAM_LOGLEVEL = "CRITICAL"  # Rocket reads this module global when it makes its logger
    logging.captureWarnings(True)  # pymatgen's/custodian's UnconvergedVASPWarning etc. go to the log file too
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            root.removeHandler(handler)
    for name in ("launchpad", "rocket.launcher"):  # FireWorks' own stream handlers, made at DEBUG/INFO
        for handler in list(logging.getLogger(name).handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logging.getLogger(name).removeHandler(handler)
    if log_file is not None and not any(getattr(h, "baseFilename", None) == str(log_file) for h in root.handlers):
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler.setLevel(logging.INFO)
        root.addHandler(handler)
        root.setLevel(logging.INFO)
