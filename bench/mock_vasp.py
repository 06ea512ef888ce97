"""Benchmark of mock-vasp on the studies' cells (model output, not DFT).

    python bench/mock_vasp.py                 # 32/64/256-atom HSE statics + 64-atom PBEsol relax, table
    python bench/mock_vasp.py --only 32 64    # a subset
    python bench/mock_vasp.py --big-vasprun /tmp/big   # write a 256-atom hybrid LORBIT run, report sizes
    python bench/mock_vasp.py --only 256 --compare 5b42285   # also run that git revision of mock_vasp

Times are wall-clock seconds of the whole `mock-vasp` process (start-up, model, every output file) and
its peak resident memory; with --compare every case runs with the old revision too (its mock_vasp
package from `git archive`, first on PYTHONPATH), one after the other in the same session, and the
ratio old / new is printed: the machine is shared, so only ratios of the same run mean anything.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mock_vasp"))

from conftest import BULK_RELAX, DEFECT_RELAX, HYBRID_STATIC, bulk_structure, write_inputs  # noqa: E402

warnings.filterwarnings("ignore")

CASES = {
    "32": ("32-atom HSE static, 4x4x4 MP", (1, 1, 1), HYBRID_STATIC, ("monkhorst", (4, 4, 4))),
    "64": ("64-atom HSE static, 4x4x2 MP", (1, 1, 2), HYBRID_STATIC, ("monkhorst", (4, 4, 2))),
    "256": ("256-atom HSE static, 4x4x4 MP", (2, 2, 2), HYBRID_STATIC, ("monkhorst", (4, 4, 4))),
    "relax64": ("64-atom PBEsol relax (ISIF 2), 4x4x2 MP", (1, 1, 2), DEFECT_RELAX, ("monkhorst", (4, 4, 2))),
}


def run_case(key: str, directory: Path, mesh=None, pythonpath: str | None = None) -> tuple[float, float, float]:
    """(wall s, MB written, peak MB) of one case."""
    label, scale, incar, kpts = CASES[key]
    if mesh is not None:
        kpts = ("monkhorst", mesh)
    incar = dict(incar, ISTART=0, ISYM=0)
    write_inputs(directory, bulk_structure() * scale, incar, kpts)
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    with open(directory / "vasp.out", "w") as out, open(directory / "std_err.txt", "w") as err:
        proc = subprocess.Popen(["mock-vasp"], cwd=directory, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: mock-vasp failed, see {directory}/vasp.out")
    size = sum(p.stat().st_size for p in directory.iterdir()) / 1e6
    return elapsed, size, usage.ru_maxrss / 1024.0


def old_revision(ref: str, into: Path) -> str:
    """The mock_vasp package of git revision `ref`, unpacked under `into`; returns the PYTHONPATH entry."""
    archive = subprocess.run(["git", "archive", ref, "mock_vasp"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return str(into)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=list(CASES), default=list(CASES))
    ap.add_argument("--big-vasprun", type=Path, help="write a 256-atom hybrid LORBIT run into this directory")
    ap.add_argument("--mesh", type=int, nargs=3, help="k-mesh for --big-vasprun (default: the study's 4x4x4)")
    ap.add_argument("--compare", metavar="GIT_REF", help="also run this revision of mock_vasp, report old/new")
    args = ap.parse_args()
    if args.big_vasprun:
        args.big_vasprun.mkdir(parents=True, exist_ok=True)
        t, size, _ = run_case("256", args.big_vasprun, tuple(args.mesh) if args.mesh else None)
        vr = (args.big_vasprun / "vasprun.xml").stat().st_size / 1e6
        print(
            f"256-atom hybrid LORBIT run in {args.big_vasprun}: {t:.1f} s, vasprun.xml {vr:.0f} MB, "
            f"all files {size:.0f} MB"
        )
        return
    old = None
    if args.compare:
        old_dir = Path(tempfile.mkdtemp(prefix="mock_vasp_old."))
        old = old_revision(args.compare, old_dir)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    head = f"{'case':45s} {'wall s':>8s} {'peak MB':>8s} {'output MB':>10s}"
    print(head + ("   old wall s  old peak MB  old/new" if old else ""))
    for key in args.only:
        with tempfile.TemporaryDirectory() as tmp:
            t, size, peak = run_case(key, Path(tmp))
        line = f"{CASES[key][0]:45s} {t:8.1f} {peak:8.0f} {size:10.0f}"
        if old:
            with tempfile.TemporaryDirectory() as tmp:
                t_old, _, peak_old = run_case(key, Path(tmp), pythonpath=old)
            line += f"   {t_old:10.1f} {peak_old:11.0f} {t_old / t:8.2f}"
        print(line, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    _ = BULK_RELAX
    main()
