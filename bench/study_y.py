"""Study Y (workflows/hxwo3_hydrogen.yaml) on mock-vasp, chained as dftflow chains it: time and peak memory.

    python bench/study_y.py [--out DIR] [--jobs 1|2] [--keep] [--only LABEL ...] [--study FILE]

Every calculation's inputs are written by dftflow's own `prepare_calculation` from its parent's outputs
(host -> bulk relax -> defect cells built in the relaxed bulk -> relax -> hybrid static and band
structure, WAVECAR handed on as in the workflow), then mock-vasp runs in the folder the way custodian
starts it (stdout -> vasp.out, stderr -> std_err.txt).  Printed per calculation: wall time, peak
resident memory of the mock-vasp process (os.wait4), size of what it wrote; then the study's total wall
time and the largest peak.  Files over 100 MB are deleted once measured unless --keep (a 256-atom band
structure with LORBIT = 11 writes ~9 GB, as VASP would).

--jobs 1 (default) runs the calculations one after another, each mock using two k-point threads
(MOCK_VASP_THREADS=2), as `dftflow run` launches one Firework at a time; --jobs 2 runs two independent
calculations at once with one thread each.  This measures mock-vasp only; `dftflow run` adds parsing,
the database and the report.  Everything it writes is MODEL OUTPUT of mock-vasp, not DFT.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIG = 100e6


def mock_command() -> str:
    found = shutil.which("mock-vasp") or str(Path(sys.executable).parent / "mock-vasp")
    return found


def start(directory: Path, threads: int) -> subprocess.Popen:
    env = dict(os.environ, MOCK_VASP_THREADS=str(threads))
    with open(directory / "vasp.out", "w") as out, open(directory / "std_err.txt", "w") as err:
        return subprocess.Popen([mock_command()], cwd=directory, stdout=out, stderr=err, env=env)


def finish(proc: subprocess.Popen) -> tuple[int, float]:
    """Exit status and peak RSS (MB) of a finished child."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024.0


def outputs_size(directory: Path, keep: bool) -> float:
    total = 0.0
    for path in directory.iterdir():
        if path.is_file():
            size = path.stat().st_size
            total += size
            if size > BIG and not keep:
                path.unlink()
    return total / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=ROOT / "workflows" / "hxwo3_hydrogen.yaml")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--jobs", type=int, choices=(1, 2), default=1)
    parser.add_argument("--keep", action="store_true", help="keep the big output files")
    parser.add_argument("--only", nargs="*", help="run these labels (and the parents they need)")
    args = parser.parse_args()

    from dftflow.calculations import Study
    from dftflow.jobs import prepare_calculation
    from dftflow.study import load_study

    study = Study(load_study(args.study), potcars="spec")
    calcs = {c.label: c for c in study.calculations}
    wanted = set(calcs)
    if args.only:
        wanted = set()
        for label in args.only:
            while label is not None and label not in wanted:
                wanted.add(label)
                label = calcs[label].parent
    out = args.out or Path(tempfile.mkdtemp(prefix="study_y."))
    out.mkdir(parents=True, exist_ok=True)
    threads = 2 if args.jobs == 1 else 1
    done: dict[str, Path] = {}
    running: dict[str, tuple[subprocess.Popen, Path, float]] = {}
    pending = [c for c in study.calculations if c.label in wanted]
    rows, failures, peak = [], 0, 0.0
    load0 = os.getloadavg()
    t0 = time.time()
    print(f"study {study.spec.name}: {len(pending)} calculations in {out} (load average {load0[0]:.1f})", flush=True)
    while pending or running:
        ready = [c for c in pending if c.parent is None or c.parent in done]
        while ready and len(running) < args.jobs:
            calc = ready.pop(0)
            pending.remove(calc)
            directory = out / calc.label.replace(" ", "_").replace("(", "").replace(")", "").replace("=", "")
            directory.mkdir(parents=True, exist_ok=True)
            locs = [{"name": calc.parent, "path": str(done[calc.parent])}] if calc.parent else []
            prepare_calculation(study, calc.label, directory, locs)
            running[calc.label] = (start(directory, threads), directory, time.time())
        label = next(iter(running))
        if args.jobs > 1:  # whichever finishes first
            pid, _ = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT).si_pid, None
            label = next(lab for lab, (p, _, _) in running.items() if p.pid == pid)
        proc, directory, started = running.pop(label)
        rc, rss = finish(proc)
        wall = time.time() - started
        size = outputs_size(directory, args.keep)
        peak = max(peak, rss)
        failures += rc != 0
        if rc == 0:
            done[label] = directory
        else:
            pending = [c for c in pending if c.parent != label]
        rows.append((label, wall, rss, size, rc))
        status = "ok" if rc == 0 else f"FAILED (exit {rc}, see {directory}/vasp.out)"
        print(f"{label:40s} {wall:8.1f} s {rss:8.0f} MB peak {size:9.0f} MB written  {status}", flush=True)
    total = time.time() - t0
    load1 = os.getloadavg()
    print(
        f"total {total:.0f} s ({total / 60:.1f} min) for {len(rows)} calculations, --jobs {args.jobs}; "
        f"largest peak {peak:.0f} MB; {sum(r[3] for r in rows) / 1e3:.1f} GB written; "
        f"load average {load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs; {failures} failure(s)"
    )
    if not args.out and not args.keep:
        shutil.rmtree(out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
