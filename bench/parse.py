"""Benchmark: pymatgen's Vasprun vs dftflow's FastVasprun on one vasprun.xml, in one run.

    python bench/parse.py FILE [--repeat N]        # FILE: vasprun.xml or .gz
    python bench/parse.py --make-input DIR [--mock-vasp EXE]
        writes a 2x2x2 WO3 (256 atoms) hybrid-static input folder, runs mock-vasp in it (when found),
        then benchmarks DIR/vasprun.xml
    python bench/parse.py --synthetic FILE         # writes bench/synth_vasprun.py's synthetic file first

Each parser runs in a fresh subprocess; its peak memory is VmHWM (/proc/self/status; ru_maxrss as a
cross-check) minus that of an idle interpreter with the same imports, so lxml's C allocations count
(tracemalloc would miss them). Times are wall-clock time of the parse call alone, best of --repeat.
Compared: (a) Vasprun(parse_projected_eigen=True, parse_potcar_file=False), what dftflow used;
(b) FastVasprun(projections="atom"). The numbers must agree: gap, CBM, VBM, energies, E-fermi and
order-sensitive checksums of eigenvalues + occupations, per-atom projections and DOS. Targets: >= 5x
faster, <= 1/4 of pymatgen's peak memory. Tests never assert on these timings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEED, TARGET_MEMORY = 5.0, 0.25
INCAR = {  # hybrid static of the 2x2x2 WO3 supercell with LORBIT projections (the big-file case)
    "SYSTEM": "WO3 2x2x2 hybrid static (parse benchmark)",
    "GGA": "PE", "LHFCALC": True, "AEXX": 0.28, "HFSCREEN": 0.2, "ALGO": "Damped", "TIME": 0.4,
    "ISPIN": 2, "LORBIT": 11, "NEDOS": 3001, "ISYM": 0, "NELECT": 2048, "NBANDS": 1228,
    "NSW": 0, "IBRION": -1, "ISMEAR": 0, "SIGMA": 0.05, "ENCUT": 520, "EDIFF": 1e-6, "NELM": 150,
    "LWAVE": False, "LCHARG": False,
}  # fmt: skip


def _peak_kib() -> tuple[int, int]:
    """(VmHWM, ru_maxrss) of this process in KiB."""
    hwm = 0
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return hwm, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _checksums(v, atom_projections) -> dict:
    """Order-sensitive checksums (weights 1..7 cycling) of what dftflow stores."""
    import numpy as np
    from pymatgen.electronic_structure.core import Spin

    def cs(a) -> float:
        a = np.asarray(a, dtype=np.float64).ravel()
        return float(np.dot(np.nan_to_num(a), 1.0 + np.arange(a.size) % 7))

    spins = [Spin.up, Spin.down] if v.is_spin else [Spin.up]
    gap, cbm, vbm, direct = v.eigenvalue_band_properties
    return {
        "gap": float(gap), "cbm": float(cbm), "vbm": float(vbm), "direct": bool(direct),
        "final_energy": float(v.final_energy), "efermi": float(v.efermi),
        "eigenvalues": cs([v.eigenvalues[s] for s in spins]),
        "atom_projections": cs(atom_projections) if atom_projections is not None else None,
        "tdos": cs([v.tdos.densities[s] for s in spins]),
        "pdos": cs([[p[o][s] for o in p for s in spins] for p in v.pdos]),
        "natoms": len(v.final_structure), "nkpoints": len(v.actual_kpoints),
        "nbands": int(v.eigenvalues[Spin.up].shape[1]), "generator": " ".join(map(str, v.generator.values())),
    }  # fmt: skip


def worker(kind: str, path: str, repeat: int) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import warnings

    import lxml.etree  # noqa: F401  (the baseline has the same imports)
    import numpy as np
    from pymatgen.electronic_structure.core import Spin
    from pymatgen.io.vasp import Vasprun

    from dftflow.vasp.vasprun_fast import FastVasprun

    warnings.simplefilter("ignore")
    out = {"kind": kind}
    if kind != "baseline":
        times = []
        for _ in range(repeat):
            v = None  # free the previous result before the next parse
            t0 = time.perf_counter()
            if kind == "pymatgen":
                v = Vasprun(path, parse_projected_eigen=True, parse_potcar_file=False)
            else:
                v = FastVasprun(path, projections="atom")
            times.append(time.perf_counter() - t0)
        out["seconds"] = min(times)
    out["hwm_kib"], out["maxrss_kib"] = _peak_kib()  # before the checksums allocate anything
    if kind == "pymatgen":
        spins = [Spin.up, Spin.down] if v.is_spin else [Spin.up]
        per_atom = np.array([v.projected_eigenvalues[s].sum(axis=3) for s in spins])  # as dftflow did
        out.update(_checksums(v, per_atom))
    elif kind == "fast":
        out.update(_checksums(v, v.atom_projections))
    print(json.dumps(out))


def _run_worker(kind: str, path: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, str(path), "--repeat", str(repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{kind} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark(path: Path, repeat: int) -> bool:
    size = path.stat().st_size
    with open(path, "rb") as fh:  # page cache warm for both parsers
        while fh.read(1 << 24):
            pass
    base = _run_worker("baseline", path, 1)
    pm = _run_worker("pymatgen", path, repeat)
    fast = _run_worker("fast", path, repeat)
    generator = pm["generator"].lower()
    source = "mock-vasp" if "mock-vasp" in generator else "synthetic" if "synthetic" in generator else "VASP"
    mib = lambda r, key="hwm_kib": (r[key] - base[key]) / 1024  # noqa: E731
    speed, memory = pm["seconds"] / fast["seconds"], mib(fast) / mib(pm)
    print(f"file        {path} ({size / 1e6:.1f} MB, written by {source}: {pm['generator']})")
    print(f"shape       {pm['natoms']} atoms, {pm['nkpoints']} k-points, {pm['nbands']} bands")
    print(f"baseline    idle interpreter with the same imports: VmHWM {base['hwm_kib'] / 1024:.0f} MiB")
    for name, r in (("pymatgen", pm), ("fast", fast)):
        print(f"{name:11s} {r['seconds']:8.2f} s   peak {mib(r):7.0f} MiB above baseline "
              f"(ru_maxrss: {mib(r, 'maxrss_kib'):.0f} MiB)")  # fmt: skip
    print(f"speed-up    {speed:.1f}x (target >= {TARGET_SPEED:g}x)")
    print(f"memory      {memory:.3f} of pymatgen's peak (target <= {TARGET_MEMORY:g})")
    keys = ["gap", "cbm", "vbm", "direct", "final_energy", "efermi", "eigenvalues", "atom_projections", "tdos", "pdos"]
    same = {k: pm[k] == fast[k] for k in keys}
    for k in keys:
        print(f"  {k:17s} pymatgen {pm[k]!r:>24}  fast {fast[k]!r:>24}  {'same' if same[k] else 'DIFFERENT'}")
    ok = all(same.values()) and speed >= TARGET_SPEED and memory <= TARGET_MEMORY
    print("RESULT", "PASS" if ok else "FAIL", f"({source} input)")
    return ok


def make_input(directory: Path, mock_vasp: str) -> Path:
    """The 256-atom hybrid-static folder; runs mock-vasp in it when it is found."""
    import warnings

    from pymatgen.io.vasp import Incar, Kpoints, Poscar

    from dftflow.structures import load_host, make_supercell, sort_species

    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cell = sort_species(make_supercell(load_host(ROOT / "structures" / "WO3_P21n.cif"), (2, 2, 2)))
    species = [site.specie.symbol for site in cell]
    order = list(dict.fromkeys(species))
    assert len(cell) == 256 and set(order) == {"W", "O"}, (len(cell), order)
    Poscar(cell, comment="WO3 2x2x2 (structures/WO3_P21n.cif)").write_file(directory / "POSCAR")
    Incar(INCAR).write_file(directory / "INCAR")
    Kpoints.gamma_automatic((2, 2, 2)).write_file(directory / "KPOINTS")
    (directory / "POTCAR.spec").write_text("".join({"W": "W_sv\n", "O": "O\n"}[e] for e in order))
    exe = shutil.which(mock_vasp)
    if exe is None:
        sys.exit(f"inputs written to {directory}; {mock_vasp!r} is not on PATH, so no vasprun.xml was made")
    print(f"running {exe} in {directory} ...", flush=True)
    t0 = time.perf_counter()
    with open(directory / "vasp.out", "w") as out, open(directory / "std_err.txt", "w") as err:
        code = subprocess.run([exe], cwd=directory, stdout=out, stderr=err, check=False).returncode
    print(f"mock-vasp exit status {code} after {time.perf_counter() - t0:.0f} s")
    vasprun = directory / "vasprun.xml"
    if code != 0 or not vasprun.is_file():
        sys.exit(f"mock-vasp failed: see {directory / 'vasp.out'} and {directory / 'std_err.txt'}")
    return vasprun


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, help="vasprun.xml(.gz) to benchmark")
    ap.add_argument("--make-input", type=Path, metavar="DIR", help="write the WO3 2x2x2 input, run mock-vasp")
    ap.add_argument("--mock-vasp", default=os.environ.get("MOCK_VASP", "mock-vasp"), help="mock-vasp executable")
    ap.add_argument("--synthetic", type=Path, metavar="FILE", help="write the synthetic file first (synthetic!)")
    ap.add_argument("--repeat", type=int, default=1, help="parses per parser (best time is reported)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, str(args.file), args.repeat)
        return 0
    if args.make_input:
        path = make_input(args.make_input, args.mock_vasp)
    elif args.synthetic:
        sys.path.insert(0, str(Path(__file__).parent))
        import synth_vasprun

        synth_vasprun.write(args.synthetic)
        path = args.synthetic
    elif args.file:
        path = args.file
    else:
        ap.error("give a FILE, --make-input DIR or --synthetic FILE")
    return 0 if benchmark(path, args.repeat) else 1


if __name__ == "__main__":
    sys.exit(main())
