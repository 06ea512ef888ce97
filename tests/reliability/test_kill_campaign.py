"""kill -9 campaign on the embedded store: FireWorks' rapidfire of a 50-Firework workflow (5 chains of 10)
on an EmbeddedLaunchPad is SIGKILLed at 20 random moments (spread over the whole run: while the store
replays its journal, while recover_dead_runs repairs the last kill, inside checkouts, Firetasks,
completions and compactions, the journal being compacted every few Fireworks), then run to the end.

After every kill: the store opens, and every checkout and completion the worker acknowledged (printed
after the LaunchPad call returned) is in it. At the end: every Firework COMPLETED by exactly one
launch, whose Firetask ran exactly once; every execution belongs to a launch the store recorded; no
child started before its parent's successful launch ended.

DFTFLOW_KILL_SEED=<n> replays a campaign (the seed is in every failure message).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter

from dftflow.embedded import DurableStore, open_store
from dftflow.launchpad import EmbeddedLaunchPad
from tests.conftest import ROOT
from tests.reliability.kill_worker import CHAINS, N_FIREWORKS, campaign_workflow
from tests.store_checks import reopen_check

KILLS = 20
COMPACT_BYTES = 32_000  # small: the store compacts every few Fireworks, so kills land in compactions too
EVENTS = 4 * N_FIREWORKS  # checkout, start, end, complete per Firework (plus open/recovered per worker)
WORKER = "from tests.reliability.kill_worker import main; main({store!r}, {compact})"


def test_kill_9_at_20_random_moments_of_a_50_firework_rapidfire(tmp_path):
    seed = int(os.environ.get("DFTFLOW_KILL_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    store_dir, ledger, runs = tmp_path / "store", tmp_path / "ledger.txt", tmp_path / "runs"
    runs.mkdir()
    store = open_store(store_dir)
    EmbeddedLaunchPad(store).add_wf(campaign_workflow(str(ledger)))
    store.close()

    acked: dict[str, dict] = {"checkout": {}, "complete": {}}
    seen, kill_points = 0, sorted(rng.sample(range(1, int(0.9 * EVENTS)), KILLS))
    for number, point in enumerate(kill_points, start=1):
        where = f"seed {seed}, kill {number} at event {point}"
        lines, killed = _run_worker(store_dir, runs, kill_after=max(1, point - seen), delay=rng.uniform(0, 0.02))
        assert killed, f"{where}: the worker finished before it was killed"
        seen += len(lines)
        _record_acks(lines, acked)
        _check_acknowledged(store_dir, acked, where)

    lines, killed = _run_worker(store_dir, runs, kill_after=None)
    assert not killed and lines[-1] == "done", f"seed {seed}: the last worker did not finish: {lines[-5:]}"
    _record_acks(lines, acked)
    _check_acknowledged(store_dir, acked, f"seed {seed}, after the last run")
    _check_each_firework_ran_once(store_dir, ledger, seed)


def _run_worker(store_dir, cwd, kill_after: int | None, delay: float = 0.0) -> tuple[list[str], bool]:
    """Start the worker; SIGKILL it `delay` s after its `kill_after`-th event. (lines, whether killed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = WORKER.format(store=str(store_dir), compact=COMPACT_BYTES)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reached = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_after is not None and len(lines) >= kill_after:
                reached.set()
        reached.set()  # end of output: the worker exited

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not reached.wait(timeout=180):
        proc.kill()
        raise AssertionError(f"worker made no progress in 180 s: {lines[-5:]}")
    killed = False
    if kill_after is not None and proc.poll() is None:
        threading.Event().wait(delay)
        proc.send_signal(signal.SIGKILL)
        killed = True
    returncode = proc.wait(timeout=180)
    reader.join(timeout=30)
    if not killed:
        assert returncode == 0, f"worker failed (exit {returncode}): {lines[-5:]}"
    return lines, killed and returncode == -signal.SIGKILL


def _record_acks(lines: list[str], acked: dict) -> None:
    for line in lines:
        kind, *rest = line.split()
        if kind == "checkout":
            acked["checkout"][int(rest[1])] = int(rest[0])  # launch_id -> n
        elif kind == "complete":
            acked["complete"][int(rest[0])] = rest[1]  # launch_id -> state


def _check_acknowledged(store_dir, acked: dict, where: str) -> None:
    try:
        store = DurableStore(store_dir)  # the store opens: a restart after this kill would work
    except Exception as exc:
        raise AssertionError(f"{where}: the store does not open: {exc!r}") from exc
    try:
        db = store.client["fireworks"]
        assert db.fireworks.count_documents({}) == N_FIREWORKS and db.workflows.count_documents({}) == 1, where
        launches = {launch["launch_id"]: launch for launch in db.launches.find()}
        n_of = {fw["fw_id"]: fw["spec"]["n"] for fw in db.fireworks.find({}, {"fw_id": 1, "spec.n": 1})}
        for launch_id, n in acked["checkout"].items():
            assert launch_id in launches, f"{where}: acknowledged checkout of launch {launch_id} lost"
            assert n_of[launches[launch_id]["fw_id"]] == n, where
        for launch_id, state in acked["complete"].items():
            assert launches[launch_id]["state"] == state, f"{where}: acknowledged completion of {launch_id} lost"
            fw = db.fireworks.find_one({"fw_id": launches[launch_id]["fw_id"]})
            assert state != "COMPLETED" or fw["state"] == "COMPLETED", (
                f"{where}: launch {launch_id} completed, Firework {fw['fw_id']} (n={fw['spec']['n']}) {fw['state']}; "
                f"launches {[(i, launches[i]['state']) for i in fw['launches']]}, "
                f"archived {[(i, launches[i]['state']) for i in fw.get('archived_launches', [])]}"
            )
        reopen_check(store, where)
    finally:
        store.close()


def _check_each_firework_ran_once(store_dir, ledger, seed: int) -> None:
    entries = [line.split(maxsplit=2) for line in ledger.read_text().splitlines()]
    starts = Counter((int(n), path) for kind, n, path in entries if kind == "start")
    ends = Counter((int(n), path) for kind, n, path in entries if kind == "end")
    order = {(kind, int(n), path): i for i, (kind, n, path) in enumerate(entries)}
    store = DurableStore(store_dir)
    try:
        db = store.client["fireworks"]
        launches = {launch["launch_id"]: launch for launch in db.launches.find()}
        recorded = set()
        successful = {}
        for fw in db.fireworks.find():
            n = fw["spec"]["n"]
            assert fw["state"] == "COMPLETED", f"seed {seed}: Firework {n} is {fw['state']}"
            ids = fw["launches"] + fw.get("archived_launches", [])
            recorded |= {(n, launches[i]["launch_dir"]) for i in ids}
            done = [i for i in ids if launches[i]["state"] == "COMPLETED"]
            assert len(done) == 1, f"seed {seed}: Firework {n} completed by launches {done}"
            successful[n] = launches[done[0]]["launch_dir"]
            assert starts[(n, successful[n])] == 1 and ends[(n, successful[n])] == 1, f"seed {seed}: Firework {n}"
        assert set(starts) <= recorded, f"seed {seed}: Firetasks ran outside any launch the store recorded"
        assert sum(starts.values()) <= N_FIREWORKS + KILLS, f"seed {seed}: more reruns than kills"
        for n in range(CHAINS, N_FIREWORKS):  # a child starts only after its parent's successful run ended
            parent = order[("end", n - CHAINS, successful[n - CHAINS])]
            assert order[("start", n, successful[n])] > parent, f"seed {seed}: Firework {n} ran before its parent"
        print(f"seed {seed}: {sum(starts.values())} Firetask runs for {N_FIREWORKS} Fireworks after {KILLS} kills")
    finally:
        store.close()
