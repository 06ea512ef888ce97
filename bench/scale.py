"""Scale benchmark: many workflows, FireWorks overhead per Firework, dftflow's own cost per calculation.

    python bench/scale.py [--workflows 1000] [--fireworks 200]

1. Adds N defect-study workflows (5 Fireworks each) to the embedded LaunchPad (durable store, fsync per
   write) and, as the baseline in the same run, to a plain in-memory mongomock LaunchPad (what FireWorks
   offers without durability); then times typical queries (Fireworks READY, states of one study, a
   count per state) on both.
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
    return {"embedded (durable)": embedded, "in-memory mongomock (baseline)": memory}


def bench_workflows(n: int, tmp: Path) -> dict:
    from dftflow.builders import StudyWorkflowBuilder

    t0 = time.perf_counter()
    workflows = [StudyWorkflowBuilder(s, potcars="spec").make() for s in _studies(n)]
    build = time.perf_counter() - t0
    out = {"workflows": n, "fireworks": sum(len(w.fws) for w in workflows), "build_s": build}
    for name, lp in _launchpads(tmp).items():
        t0 = time.perf_counter()
        for wf in workflows:
            lp.add_wf(wf)
        add = time.perf_counter() - t0
        t0 = time.perf_counter()
        ready = lp.get_fw_ids({"state": "READY"})
        one = lp.workflows.find_one({"metadata.study": f"scale_{n // 2}"})
        states = {fw["state"] for fw in lp.fireworks.find({"fw_id": {"$in": one["nodes"]}}, {"state": 1})}
        counts = {s: lp.fireworks.count_documents({"state": s}) for s in ("READY", "WAITING")}
        query = time.perf_counter() - t0
        out[name] = {
            "add_s": add,
            "add_per_workflow_ms": 1000 * add / n,
            "query_s": query,
            "ready": len(ready),
            "states_of_one": sorted(states),
            "counts": counts,
        }
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
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--fireworks", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wf = bench_workflows(args.workflows, tmp / "wf")
        print(f"1. {wf['workflows']} workflows ({wf['fireworks']} Fireworks) built in {wf['build_s']:.1f} s")
        base = wf["in-memory mongomock (baseline)"]
        for name in ("embedded (durable)", "in-memory mongomock (baseline)"):
            r = wf[name]
            print(
                f"   {name:32s} add {r['add_s']:7.2f} s ({r['add_per_workflow_ms']:.1f} ms/workflow, "
                f"x{r['add_s'] / base['add_s']:.2f} of baseline), queries {r['query_s'] * 1000:.0f} ms "
                f"(x{r['query_s'] / base['query_s']:.2f}); READY {r['ready']}"
            )
        ov = bench_overhead(args.fireworks, tmp)
        base = ov["in-memory mongomock (baseline)"]
        print(f"2. FireWorks overhead per Firework ({ov['fireworks']} no-op Fireworks launched by Rocket)")
        for name in ("embedded (durable)", "in-memory mongomock (baseline)"):
            r = ov[name]
            print(f"   {name:32s} {r['per_firework_ms']:6.1f} ms/Firework (x{r['total_s'] / base['total_s']:.2f})")
        st = bench_study(tmp / "study")
        print(
            f"3. tiny study ({st['calculations']} VASP runs): wall {st['wall_s']:.1f} s = mock-vasp "
            f"{st['mock_vasp_s']:.1f} s + dftflow {st['dftflow_s']:.1f} s "
            f"(dftflow/mock = {st['dftflow_s'] / st['mock_vasp_s']:.2f})"
        )


if __name__ == "__main__":
    main()
