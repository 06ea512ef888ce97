"""A whole study through `dftflow run` on mock-vasp, as a user runs it: wall time, peak memory, disk.

    python bench/study_run.py [STUDY ...] [--baseline STUDY] [--keep DIR]

Default: workflows/hxwo3_hydrogen.yaml (study Y: 256-264-atom cells, published k-meshes). Each study runs
in a fresh work directory with `dftflow run` (FireWorks -> custodian -> mock-vasp -> parse -> store ->
report), exactly the README's main-job path. Printed: each step's time as dftflow reports it, the total
wall time, the peak resident memory of the largest process of the run (dftflow itself or any mock-vasp it
started: getrusage(RUSAGE_CHILDREN).ru_maxrss), the work directory's size, and the load average. The
baseline (default tests/data/studies/tiny.yaml, the 32-atom end-to-end test study) runs first in the
same session, so the study's time is also given as a ratio to it: a number that travels between
machines better than seconds. Everything the runs produce is MODEL OUTPUT of mock-vasp, not DFT.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEP = re.compile(r"^\[\s*\d+/\d+\] (?P<label>.+?) \.\.\. (?P<state>\w+) \((?P<seconds>[\d.]+) s\)")


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def run_study(study: Path, workdir: Path, echo: bool) -> dict:
    """`dftflow run STUDY` in a fresh `workdir`: wall time, steps, peak RSS of its processes, disk."""
    env = {k: v for k, v in os.environ.items() if k not in ("DFTFLOW_VASP_CMD", "DFTFLOW_HOME")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dftflow", "run", str(study), "--workdir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    steps = []
    for line in proc.stdout:
        if echo:
            print("   ", line.rstrip(), flush=True)
        if match := STEP.match(line.strip()):
            steps.append((match["label"], match["state"], float(match["seconds"])))
    proc.wait()
    wall = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "study": study.name,
        "returncode": proc.returncode,
        "wall": wall,
        "steps": steps,
        # ru_maxrss of the children is the largest single process so far; a later run below an earlier
        # peak cannot be told apart, so the baseline (smaller) runs first
        "peak_mb": max(peak, before) / 1024.0,
        "disk_mb": disk_mb(workdir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="*", type=Path, default=[ROOT / "workflows" / "hxwo3_hydrogen.yaml"])
    parser.add_argument("--baseline", type=Path, default=ROOT / "tests" / "data" / "studies" / "tiny.yaml")
    parser.add_argument("--keep", type=Path, help="keep the work directories under DIR")
    parser.add_argument("--quiet", action="store_true", help="do not echo dftflow's progress lines")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="study_run."))
    base.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, load average {load0:.1f}", flush=True)
    results = []
    for study in [args.baseline, *args.studies]:
        print(f"== dftflow run {study}", flush=True)
        result = run_study(study, base / study.stem, echo=not args.quiet)
        results.append(result)
        print(
            f"   {result['study']}: exit {result['returncode']}, {result['wall']:.0f} s "
            f"({result['wall'] / 60:.1f} min), peak {result['peak_mb']:.0f} MB (largest process so far), "
            f"work directory {result['disk_mb']:.0f} MB",
            flush=True,
        )
        slowest = sorted(result["steps"], key=lambda s: -s[2])[:5]
        print("   slowest steps: " + "; ".join(f"{label} {seconds:.0f} s" for label, _, seconds in slowest))
    baseline = results[0]
    for result in results[1:]:
        print(
            f"{result['study']}: {result['wall']:.0f} s = {result['wall'] / baseline['wall']:.1f} x the baseline "
            f"{baseline['study']} ({baseline['wall']:.0f} s) in the same session; peak {result['peak_mb']:.0f} MB; "
            f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}"
        )
    if not args.keep:
        shutil.rmtree(base)
    return 0 if all(r["returncode"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
