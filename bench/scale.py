"""Scale benchmark: many workflows on the embedded store vs plain mongomock, FireWorks overhead per
Firework, dftflow's own cost per calculation.

    python bench/scale.py [--sizes 100 1000] [--checkouts 50] [--fireworks 200] [--skip-overhead] [--skip-study]

1. For each size N: N defect-study workflows (6 Fireworks each) are added to the embedded LaunchPad
   (durable store: journaled, fsync'ed once per LaunchPad operation) and, as the baseline in the same
   run, to a plain in-memory mongomock LaunchPad (what FireWorks offers without durability); then
   typical queries (Fireworks READY, states of one study, a count per state) and K checkouts
   (LaunchPad.checkout_fw, what every Rocket does first). Reported per phase and as the ratio of the
   totals (add + query + checkout), embedded / baseline; the target is <= 1.3 at every size.
2. Launches M trivial Fireworks (a no-op Firetask) through FireWorks' Rocket on both LaunchPads: the
   per-Firework overhead of the workflow engine itself, embedded vs in-memory baseline.
3. Runs the tiny test study with mock-vasp's run log and splits its wall time into mock-vasp's compute
   and everything dftflow adds (inputs, custodian, parsing, storing, report).
Reports absolute times and ratios; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _studies(n: int):
    from dftflow.calculations import Study
    from dftflow.study import study_from_dict

    base = {
        "host": {"structure": str(ROOT / "structures/WO3_P21n.cif")},
        "supercell": [1, 1, 2],
        "systems": [{"defects": [{"type": "vacancy", "site": "s_z"}]}],
    }
    first = Study(study_from_dict({**base, "name": "scale_0"}), potcars="spec")
    host = first.host
    for i in range(n):
        site = ("s_x", "s_y", "s_z")[i % 3]
        data = {
            **base,
            "name": f"scale_{i}",
            "systems": [{"defects": [{"type": "vacancy", "site": site, "charge": i % 3}]}],
        }
        yield Study(study_from_dict(data), potcars="spec", host=host)


def _launchpads(tmp: Path):
    import mongomock
    from fireworks import LaunchPad

    from dftflow.embedded import open_store
    from dftflow.launchpad import EmbeddedLaunchPad

    embedded = EmbeddedLaunchPad(open_store(tmp / "store"))
    memory = LaunchPad(
        host="localhost", port=27017, name="bench", strm_lvl="CRITICAL", mongoclient_kwargs={"connect": False}
    )
    client = mongomock.MongoClient()
    memory.connection, memory.db = client, client["bench"]
    for coll in ("fireworks", "launches", "offline_runs", "fw_id_assigner", "workflows"):
        setattr(memory, coll, memory.db[coll])
    memory.gridfs_fallback = None
    memory.reset("", require_password=False, max_reset_wo_password=0)
    return {EMBEDDED: embedded, BASELINE: memory}


EMBEDDED, BASELINE = "embedded (durable)", "in-memory mongomock (baseline)"


def bench_workflows(n: int, checkouts: int, tmp: Path) -> dict:
    from fireworks import FWorker, Workflow

    from dftflow.builders import StudyWorkflowBuilder

    t0 = time.perf_counter()
    workflows = [StudyWorkflowBuilder(s, potcars="spec").make().to_dict() for s in _studies(n)]
    build = time.perf_counter() - t0
    out = {"workflows": n, "fireworks": sum(len(w["fws"]) for w in workflows), "build_s": build}
    launch_dir = tmp / "launch"
    launch_dir.mkdir(parents=True, exist_ok=True)
    for name, lp in _launchpads(tmp).items():
        copies = [Workflow.from_dict(w) for w in workflows]  # add_wf renumbers the objects it is given
        t0 = time.perf_counter()
        for wf in copies:
            lp.add_wf(wf)
        add = time.perf_counter() - t0
        t0 = time.perf_counter()
        ready = lp.get_fw_ids({"state": "READY"})
        one = lp.workflows.find_one({"metadata.study": f"scale_{n // 2}"})
        states = {fw["state"] for fw in lp.fireworks.find({"fw_id": {"$in": one["nodes"]}}, {"state": 1})}
        counts = {s: lp.fireworks.count_documents({"state": s}) for s in ("READY", "WAITING")}
        query = time.perf_counter() - t0
        t0 = time.perf_counter()
        checked_out = [lp.checkout_fw(FWorker(), str(launch_dir))[1] for _ in range(checkouts)]
        checkout = time.perf_counter() - t0
        assert None not in checked_out and len(ready) == n
        out[name] = {
            "add_s": add,
            "query_s": query,
            "checkout_s": checkout,
            "total_s": add + query + checkout,
            "ready": len(ready),
            "states_of_one": sorted(states),
            "counts": counts,
        }
        if name == EMBEDDED:
            out[name]["store_bytes"] = sum(p.stat().st_size for p in lp.store.path.iterdir())
            lp.store.close()
    return out


def bench_overhead(m: int, tmp: Path) -> dict:
    from fireworks import Firework, FWorker, ScriptTask, Workflow
    from fireworks.core.rocket_launcher import launch_rocket

    from dftflow.launchpad import quiet_fireworks_logging

    quiet_fireworks_logging()
    out = {"fireworks": m}
    cwd = os.getcwd()
    for name, lp in _launchpads(tmp / "overhead").items():
        lp.add_wf(Workflow([Firework(ScriptTask.from_str("true"), name=f"noop {i}") for i in range(m)]))
        run_dir = tmp / "overhead" / name.split()[0]
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chdir(run_dir)
        t0 = time.perf_counter()
        while launch_rocket(lp, FWorker(), strm_lvl="CRITICAL"):
            pass
        elapsed = time.perf_counter() - t0
        os.chdir(cwd)
        out[name] = {"total_s": elapsed, "per_firework_ms": 1000 * elapsed / m}
    return out


def bench_study(tmp: Path) -> dict:
    log = tmp / "runs.jsonl"
    env = {**os.environ, "MOCK_VASP_RUN_LOG": str(log), "DFTFLOW_CONFIG": str(tmp / "none.yaml")}
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dftflow",
            "run",
            str(ROOT / "tests/data/studies/tiny.yaml"),
            "--workdir",
            str(tmp / "wd"),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    mock = sum(r["end"] - r["start"] for r in runs if "end" in r and isinstance(r["end"], int | float))
    return {"wall_s": wall, "mock_vasp_s": mock, "dftflow_s": wall - mock, "calculations": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--checkouts", type=int, default=50)
    parser.add_argument("--fireworks", type=int, default=200)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-study", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("1. workflows: add, query, checkout (seconds; ratio = embedded / baseline)")
        for n in args.sizes:
            wf = bench_workflows(n, args.checkouts, tmp / f"wf{n}")
            base, emb = wf[BASELINE], wf[EMBEDDED]
            print(f"   {n} workflows ({wf['fireworks']} Fireworks, built in {wf['build_s']:.1f} s):")
            for phase in ("add", "query", "checkout", "total"):
                ratio = emb[f"{phase}_s"] / base[f"{phase}_s"]
                print(
                    f"     {phase:9s} embedded {emb[f'{phase}_s']:8.2f}  baseline {base[f'{phase}_s']:8.2f}  "
                    f"x{ratio:.2f}"
                )
            print(
                f"     per workflow added {1000 * emb['add_s'] / n:.1f} ms, per checkout "
                f"{1000 * emb['checkout_s'] / args.checkouts:.0f} ms (embedded); store on disk "
                f"{emb['store_bytes'] / 1e6:.1f} MB; READY {emb['ready']}"
            )
        if not args.skip_overhead:
            ov = bench_overhead(args.fireworks, tmp)
            base = ov[BASELINE]
            print(f"2. FireWorks overhead per Firework ({ov['fireworks']} no-op Fireworks launched by Rocket)")
            for name in (EMBEDDED, BASELINE):
                r = ov[name]
                print(f"   {name:32s} {r['per_firework_ms']:6.1f} ms/Firework (x{r['total_s'] / base['total_s']:.2f})")
        if not args.skip_study:
            st = bench_study(tmp / "study")
            print(
                f"3. tiny study ({st['calculations']} VASP runs): wall {st['wall_s']:.1f} s = mock-vasp "
                f"{st['mock_vasp_s']:.1f} s + dftflow {st['dftflow_s']:.1f} s "
                f"(dftflow/mock = {st['dftflow_s'] / st['mock_vasp_s']:.2f})"
            )


if __name__ == "__main__":
    main()
