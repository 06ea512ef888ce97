"""The process the kill campaign (test_kill_campaign.py) SIGKILLs: FireWorks' rapidfire on an
EmbeddedLaunchPad, printing one line per event after it happened, so the parent knows what was
acknowledged before the kill.

    python -c "from tests.reliability.kill_worker import main; main(STORE_DIR, [COMPACT_BYTES])"

(imported by its package name, so that FireWorks finds LedgerTask under the name the workflow stores).

Events on stdout: `open` (store opened, journal replayed), `recovered <fw_ids>` (recover_dead_runs
returned), `checkout <n> <launch_id>` and `complete <launch_id> <state>` (after the LaunchPad call
returned: acknowledged), `start <n>` / `end <n>` (the Firetask ran). The Firetask also appends
`start|end <n> <launch dir>` to LEDGER, so that every execution is counted even when its launch is lost.
"""

from __future__ import annotations

import os
import sys

from fireworks import FiretaskBase, Firework, FWorker, Workflow, explicit_serialize

N_FIREWORKS = 50
CHAINS = 5  # 5 chains of 10: Firework n waits for n - 5


@explicit_serialize
class LedgerTask(FiretaskBase):
    required_params = ["ledger"]
    optional_params = []

    def run_task(self, fw_spec):
        n = fw_spec["n"]
        _event(f"start {n}")
        _append(self["ledger"], f"start {n} {os.getcwd()}")
        _append(self["ledger"], f"end {n} {os.getcwd()}")
        _event(f"end {n}")


def campaign_workflow(ledger: str) -> Workflow:
    fws = [Firework(LedgerTask(ledger=ledger), spec={"n": n}, name=f"step {n}") for n in range(N_FIREWORKS)]
    links = {fws[n]: [fws[n + CHAINS]] for n in range(N_FIREWORKS - CHAINS)}
    return Workflow(fws, links, name="kill campaign")


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _event(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def acking_launchpad(store):
    from dftflow.launchpad import EmbeddedLaunchPad

    class AckingLaunchPad(EmbeddedLaunchPad):
        def checkout_fw(self, *args, **kwargs):
            fw, launch_id = super().checkout_fw(*args, **kwargs)
            if fw is not None:
                _event(f"checkout {fw.spec['n']} {launch_id}")
            return fw, launch_id

        def complete_launch(self, launch_id, action=None, state="COMPLETED"):
            result = super().complete_launch(launch_id, action, state)
            _event(f"complete {launch_id} {state}")
            return result

    return AckingLaunchPad(store)


def main(store_dir: str, compact_bytes: int | None = None) -> None:
    from fireworks.core.rocket_launcher import rapidfire

    from dftflow.embedded import COMPACT_BYTES, open_store
    from dftflow.launchpad import quiet_fireworks_logging

    quiet_fireworks_logging()
    store = open_store(store_dir, compact_bytes=compact_bytes or COMPACT_BYTES)
    lp = acking_launchpad(store)
    _event("open")
    recovered = lp.recover_dead_runs()
    _event("recovered " + ",".join(map(str, recovered)))
    rapidfire(lp, FWorker(), nlaunches=0, sleep_time=0.1, strm_lvl="CRITICAL")
    _event("done")
    store.close()
