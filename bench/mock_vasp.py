"""Benchmark of mock-vasp on the studies' cells (model output, not DFT).

    python bench/mock_vasp.py                 # 32/64/256-atom HSE statics + 64-atom PBEsol relax, table
    python bench/mock_vasp.py --only 32 64    # a subset
    python bench/mock_vasp.py --big-vasprun /tmp/big   # write a 256-atom hybrid LORBIT run, report sizes

Times are wall-clock seconds of the whole `mock-vasp` process (start-up, model, every output file).
"""

from __future__ import annotations

import argparse
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


def run_case(key: str, directory: Path, mesh=None) -> tuple[float, float]:
    label, scale, incar, kpts = CASES[key]
    if mesh is not None:
        kpts = ("monkhorst", mesh)
    incar = dict(incar, ISTART=0, ISYM=0)
    write_inputs(directory, bulk_structure() * scale, incar, kpts)
    start = time.perf_counter()
    with open(directory / "vasp.out", "w") as out, open(directory / "std_err.txt", "w") as err:
        rc = subprocess.run(["mock-vasp"], cwd=directory, stdout=out, stderr=err, check=False).returncode
    elapsed = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"{label}: mock-vasp failed, see {directory}/vasp.out")
    size = sum(p.stat().st_size for p in directory.iterdir()) / 1e6
    return elapsed, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=list(CASES), default=list(CASES))
    ap.add_argument("--big-vasprun", type=Path, help="write a 256-atom hybrid LORBIT run into this directory")
    ap.add_argument("--mesh", type=int, nargs=3, help="k-mesh for --big-vasprun (default: the study's 4x4x4)")
    args = ap.parse_args()
    if args.big_vasprun:
        args.big_vasprun.mkdir(parents=True, exist_ok=True)
        t, size = run_case("256", args.big_vasprun, tuple(args.mesh) if args.mesh else None)
        vr = (args.big_vasprun / "vasprun.xml").stat().st_size / 1e6
        print(
            f"256-atom hybrid LORBIT run in {args.big_vasprun}: {t:.1f} s, vasprun.xml {vr:.0f} MB, "
            f"all files {size:.0f} MB"
        )
        return
    print(f"{'case':45s} {'wall s':>8s} {'output MB':>10s}")
    for key in args.only:
        with tempfile.TemporaryDirectory() as tmp:
            t, size = run_case(key, Path(tmp))
        print(f"{CASES[key][0]:45s} {t:8.1f} {size:10.0f}", flush=True)


if __name__ == "__main__":
    _ = BULK_RELAX
    main()
