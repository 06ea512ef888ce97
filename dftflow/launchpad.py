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
        """Repair what a killed process left behind; returns the fw_ids put back to run. Safe because the
        store's exclusive lock is held: no other process is working, so every launch still RESERVED or
        RUNNING belongs to a dead process. Every step is idempotent, so a kill during the recovery
        itself is repaired by the next one (FireWorks' detect_lostruns is not: killed between fizzling a
        lost launch and rerunning its Firework, it leaves the Firework FIZZLED for good).

        1. Workflow locks: a process killed inside a workflow update leaves the workflow "locked", and
           FireWorks would wait WFLOCK_EXPIRATION_SECS (5 min) on it; every lock here is stale.
        2. The states of its Fireworks a workflow caches (`fw_states`, which FireWorks' refresh reads
           for the parents) are set from the Fireworks: a kill between writing the Fireworks and the
           workflow leaves the cache behind, and a child whose parent completed would stay WAITING,
           or be computed WAITING when it completes itself (seen in the kill campaign).
        3. Every RESERVED or RUNNING launch is marked FIZZLED (FireWorks' mark_fizzled).
        4. A Firework still RESERVED, RUNNING or FIZZLED that has a COMPLETED launch was killed inside
           complete_launch, after its launch was written: it is refreshed (it completes, its children
           follow), not run again. Any other RESERVED or RUNNING Firework, and one FIZZLED only by
           killed launches (none recorded a Firetask error: that is a real failure, rerun only when
           asked), is rerun.
        5. Every WAITING Firework is refreshed so its state follows its parents again (FireWorks'
           refresh only descends into children of Fireworks whose state changed)."""
        self.workflows.update_many({"locked": {"$exists": True}}, {"$unset": {"locked": True}})
        for wf in self.workflows.find({}, {"nodes": 1, "fw_states": 1}):
            fws = self.fireworks.find({"fw_id": {"$in": wf["nodes"]}}, {"fw_id": 1, "state": 1})
            states = {str(fw["fw_id"]): fw["state"] for fw in fws}
            if states != wf.get("fw_states"):
                self.workflows.update_one({"_id": wf["_id"]}, {"$set": {"fw_states": states}})
        for launch in self.launches.find({"state": {"$in": ["RESERVED", "RUNNING"]}}, {"launch_id": 1}):
            self.mark_fizzled(launch["launch_id"])
        killed = []
        unfinished = {"state": {"$in": ["RESERVED", "RUNNING", "FIZZLED"]}}
        for fw in self.fireworks.find(unfinished, {"fw_id": 1, "state": 1, "launches": 1}):
            launches = {"launch_id": {"$in": fw["launches"]}}
            if self.launches.count_documents({**launches, "state": "COMPLETED"}):
                self._refresh_wf(fw["fw_id"])
            elif fw["state"] != "FIZZLED" or not self.launches.count_documents(
                {**launches, "action.stored_data._exception": {"$exists": True}}
            ):
                self.rerun_fw(fw["fw_id"])
                killed.append(fw["fw_id"])
        for fw_id in self.get_fw_ids({"state": "WAITING"}):
            self._refresh_wf(fw_id)
        return sorted(killed)


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
