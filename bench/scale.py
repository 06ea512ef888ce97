"""Scale benchmark: many workflows on the embedded store vs plain mongomock, FireWorks overhead per
Firework, dftflow's own cost per calculation.

    python bench/scale.py [--sizes 100 1000] [--checkouts 50] [--repeats 2] [--fireworks 200]
                          [--skip-overhead] [--skip-study]

1. For each size N: N defect-study workflows (6 Fireworks each) are added to the embedded LaunchPad
   (durable store: journaled, fsync'ed once per LaunchPad operation) and, as the baseline in the same
   run, to a plain in-memory mongomock LaunchPad (what FireWorks offers without durability); then
   typical queries (Fireworks READY, states of one study, a count per state) and K checkouts
   (LaunchPad.checkout_fw, what every Rocket does first). Each measurement runs in a process of its
   own, the backends alternating (E B, B E); reported per phase as means and as the ratio of the
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
    return {EMBEDDED: _launchpad(EMBEDDED, tmp), BASELINE: _launchpad(BASELINE, tmp)}


def _launchpad(backend: str, tmp: Path):
    if backend == EMBEDDED:
        from dftflow.embedded import open_store
        from dftflow.launchpad import EmbeddedLaunchPad

        return EmbeddedLaunchPad(open_store(tmp / "store"))
    import mongomock
    from fireworks import LaunchPad

    memory = LaunchPad(
        host="localhost", port=27017, name="bench", strm_lvl="CRITICAL", mongoclient_kwargs={"connect": False}
    )
    client = mongomock.MongoClient()
    memory.connection, memory.db = client, client["bench"]
    for coll in ("fireworks", "launches", "offline_runs", "fw_id_assigner", "workflows"):
        setattr(memory, coll, memory.db[coll])
    memory.gridfs_fallback = None
    memory.reset("", require_password=False, max_reset_wo_password=0)
    return memory


EMBEDDED, BASELINE = "embedded (durable)", "in-memory mongomock (baseline)"
PHASES = ("add", "query", "checkout", "total")


def measure_workflows(backend: str, n: int, checkouts: int, tmp: Path) -> dict:
    """add + query + checkout of n study workflows on one backend (run in a process of its own, so that
    neither backend pays for the other's live objects in Python's garbage collector)."""
    from fireworks import FWorker

    from dftflow.builders import StudyWorkflowBuilder

    t0 = time.perf_counter()
    workflows = [StudyWorkflowBuilder(s, potcars="spec").make() for s in _studies(n)]
    build = time.perf_counter() - t0
    launch_dir = tmp / "launch"
    launch_dir.mkdir(parents=True, exist_ok=True)
    lp = _launchpad(backend, tmp)
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
    t0 = time.perf_counter()
    checked_out = [lp.checkout_fw(FWorker(), str(launch_dir))[1] for _ in range(checkouts)]
    checkout = time.perf_counter() - t0
    assert None not in checked_out and len(ready) == counts["READY"] == n
    out = {
        "fireworks": sum(len(w.fws) for w in workflows),
        "build_s": build,
        "add_s": add,
        "query_s": query,
        "checkout_s": checkout,
        "total_s": add + query + checkout,
        "states_of_one": sorted(states),
    }
    if backend == EMBEDDED:
        out["store_bytes"] = sum(p.stat().st_size for p in lp.store.path.iterdir())
        lp.store.close()
    return out


def bench_workflows(n: int, checkouts: int, repeats: int, tmp: Path) -> dict:
    """Each backend `repeats` times, in alternating order (E B, B E, ...), one process per measurement."""
    runs: dict[str, list[dict]] = {EMBEDDED: [], BASELINE: []}
    for repeat in range(repeats):
        for backend in (EMBEDDED, BASELINE) if repeat % 2 == 0 else (BASELINE, EMBEDDED):
            where = tmp / f"{n}-{repeat}-{backend.split()[0]}"
            args = ["--one", backend, "--size", str(n), "--checkouts", str(checkouts), "--tmp", str(where)]
            done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
            runs[backend].append(json.loads(done.stdout.splitlines()[-1]))
    return runs


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


def _mean(runs: list[dict], key: str) -> float:
    return sum(r[key] for r in runs) / len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--checkouts", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2, help="measurements per backend and size")
    parser.add_argument("--fireworks", type=int, default=200)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-study", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one measurement, printed as JSON
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_workflows(args.one, args.size, args.checkouts, Path(args.tmp))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(
            f"1. workflows: add, query, {args.checkouts} checkouts; mean of {args.repeats} runs per backend "
            "(alternating order, a process each); seconds; ratio = embedded / baseline",
            flush=True,
        )
        for n in args.sizes:
            runs = bench_workflows(n, args.checkouts, args.repeats, tmp)
            emb, base = runs[EMBEDDED], runs[BASELINE]
            print(f"   {n} workflows ({emb[0]['fireworks']} Fireworks):")
            for phase in PHASES:
                e, b = _mean(emb, f"{phase}_s"), _mean(base, f"{phase}_s")
                each = (
                    " ".join(f"{r[f'{phase}_s']:.2f}" for r in emb)
                    + " / "
                    + " ".join(f"{r[f'{phase}_s']:.2f}" for r in base)
                )
                print(f"     {phase:9s} embedded {e:8.2f}  baseline {b:8.2f}  x{e / b:.2f}   (runs: {each})")
            print(
                f"     embedded: {1000 * _mean(emb, 'add_s') / n:.1f} ms per workflow added, "
                f"{1000 * _mean(emb, 'checkout_s') / args.checkouts:.0f} ms per checkout; store on disk "
                f"{emb[0]['store_bytes'] / 1e6:.1f} MB",
                flush=True,
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
