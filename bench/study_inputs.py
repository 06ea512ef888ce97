"""mock-vasp on EVERY input folder `dftflow inputs` writes for the three study files, each output parsed.

    python bench/study_inputs.py [--out DIR] [--include-256-relax]

For each folder: run mock-vasp (as custodian would: stdout -> vasp.out), then read vasprun.xml with
projections (dftflow's FastVasprun, a pymatgen Vasprun subclass, for files over 500 MB where pymatgen's
own reader needs ~5x the file size in RAM; pymatgen's Vasprun below that), OUTCAR, OSZICAR, EIGENVAL,
PROCAR, LOCPOT, the line-mode band structure of hse-bands folders, and custodian's validators. Prints
one line per folder (wall time, output size, gap) and deletes the bulky outputs after reading them.
The 256-atom relaxations of study Y (one to a few minutes each on the mock, from the unrelaxed cell these
folders hold) are skipped unless asked for; bench/study_y.py runs the study as the workflow chains it.
This is a verification run for the record, not part of the test suite (which covers one folder of
each kind per study in tests/mock_vasp/test_dftflow_inputs.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("wo3_vacancy_sites.yaml", "wo3_vacancy_concentration.yaml", "hxwo3_hydrogen.yaml")
BULKY = ("vasprun.xml", "PROCAR", "DOSCAR", "EIGENVAL", "LOCPOT", "CHGCAR", "OUTCAR", "WAVECAR")


def read_everything(d: Path) -> float:
    from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator
    from pymatgen.io.vasp.outputs import Eigenval, Locpot, Oszicar, Outcar, Procar, Vasprun

    from dftflow.vasp.vasprun_fast import FastVasprun

    big = (d / "vasprun.xml").stat().st_size > 500e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = (
            FastVasprun(str(d / "vasprun.xml"), projections="full")
            if big
            else Vasprun(d / "vasprun.xml", parse_projected_eigen=True, parse_potcar_file=False)
        )
        assert v.converged, "not converged"
        Outcar(d / "OUTCAR")
        Oszicar(d / "OSZICAR")
        Eigenval(d / "EIGENVAL")
        if (d / "PROCAR").exists() and not big:
            Procar(d / "PROCAR")
        if (d / "LOCPOT").exists():
            Locpot.from_file(d / "LOCPOT")
        if d.name.startswith("hse-bands"):
            v.get_band_structure(str(d / "KPOINTS"), line_mode=True)
    assert not VasprunXMLValidator().check(str(d)) and not VaspFilesValidator().check(str(d))
    return v.eigenvalue_band_properties[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--include-256-relax", action="store_true")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="study_inputs."))
    mock = Path(sys.executable).parent / "mock-vasp"
    failures = 0
    for study in STUDIES:
        target = out / study.split(".")[0]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dftflow",
                "inputs",
                str(ROOT / "workflows" / study),
                "--out",
                str(target),
                "--potcars",
                "spec",
                "--force",
            ],
            check=True,
            capture_output=True,
        )
        for folder in sorted(p for p in target.iterdir() if p.is_dir()):
            big_relax = study.startswith("hxwo3") and folder.name.startswith("relax")
            if big_relax and not args.include_256_relax:
                print(f"{study:32s} {folder.name:40s} skipped (256-atom relaxation)")
                continue
            t0 = time.time()
            with open(folder / "vasp.out", "w") as so, open(folder / "std_err.txt", "w") as se:
                rc = subprocess.run([str(mock)], cwd=folder, stdout=so, stderr=se).returncode
            wall = time.time() - t0
            size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
            try:
                gap = read_everything(folder) if rc == 0 else None
                status = f"gap {gap:.3f} eV (model)" if gap is not None else f"mock-vasp exit {rc}"
                failures += rc != 0
            except Exception as exc:  # report every folder, then the count
                status, failures = f"FAILED: {type(exc).__name__}: {exc}", failures + 1
            print(f"{study:32s} {folder.name:40s} {wall:7.1f} s {size:8.0f} MB  {status}", flush=True)
            for name in BULKY:
                (folder / name).unlink(missing_ok=True)
    print(f"{failures} failure(s)")
    if not args.out:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
