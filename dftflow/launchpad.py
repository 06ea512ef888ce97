"""LaunchPads: FireWorks' own, on the durable embedded store or on a production MongoDB
(dftflow.mongo.load_launchpad reads my_launchpad.yaml).

Both are fireworks.LaunchPad, so workflows, states, reruns and queries go through FireWorks' code;
only the client underneath differs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fireworks import LaunchPad

from dftflow.embedded import DurableStore, store_operations

FW_DB_NAME = "fireworks"


@store_operations(LaunchPad)
class EmbeddedLaunchPad(LaunchPad):
    """fireworks.LaunchPad whose collections live in a :class:`DurableStore` (no server).

    Each LaunchPad method is one store operation: every write it makes is journaled before the
    collection call returns, and the journal is fsync'ed once when the method returns. It round-trips
    through to_dict/from_dict, to_file/from_file and pickling onto the same store (in this process;
    another process is refused while this one holds the store)."""

    def __init__(
        self,
        store: DurableStore,
        logdir: str | None = None,
        strm_lvl: str = "CRITICAL",
        name: str = FW_DB_NAME,
        user_indices: list | None = None,
        wf_user_indices: list | None = None,
    ):
        # LaunchPad.__init__ builds a pymongo client; connect=False keeps it from ever touching the network
        super().__init__(
            host="localhost",
            port=27017,
            name=name,
            logdir=logdir,
            strm_lvl=strm_lvl,
            user_indices=user_indices,
            wf_user_indices=wf_user_indices,
            mongoclient_kwargs={"connect": False},
        )
        self.connection.close()
        self.store = store
        self.connection = store.client
        self.db = self.connection[name]
        self.fireworks = self.db.fireworks
        self.launches = self.db.launches
        self.offline_runs = self.db.offline_runs
        self.fw_id_assigner = self.db.fw_id_assigner
        self.workflows = self.db.workflows
        self.gridfs_fallback = None
        if self.fw_id_assigner.count_documents({}) == 0:  # a new store: ids and FireWorks' indexes
            self.reset("", require_password=False, max_reset_wo_password=0)

    def to_dict(self):
        return {
            "embedded_store": str(self.store.path),
            "name": self.name,
            "logdir": self.logdir,
            "strm_lvl": self.strm_lvl,
            "user_indices": self.user_indices,
            "wf_user_indices": self.wf_user_indices,
        }

    @classmethod
    def from_dict(cls, d):
        from dftflow.embedded import open_store

        return cls(
            open_store(d["embedded_store"]),
            logdir=d.get("logdir"),
            strm_lvl=d.get("strm_lvl") or "CRITICAL",
            name=d.get("name") or FW_DB_NAME,
            user_indices=d.get("user_indices"),
            wf_user_indices=d.get("wf_user_indices"),
        )

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
