"""Provenance a referee asks for, read from a finished run directory.

* POTCARs: symbol, TITEL and the md5 of each POTCAR block actually used (real POTCARs), or the symbols
  of POTCAR.spec for offline runs (no hash: no POTCAR was there);
* whether VASP read the WAVECAR it was given: ISTART as the run reports it (vasprun.xml parameters) and
  no warning in its output that it started from random wavefunctions or could not use the file;
* the labelled k-points of a band path, per-atom magnetic moments, the forces left at the end.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from dftflow.vasp.outputs import find_file, read_text

RANDOM_START = re.compile(r"random wavefunctions|WAVECAR not read|number of k-points has changed", re.IGNORECASE)


def potcar_spec(directory: Path, vasprun, functional: str | None = None) -> list[dict]:
    """[{symbol, titel, hash, functional}] of the POTCARs in the run directory."""
    potcar = find_file(directory, "POTCAR", required=False)
    if potcar is not None:
        from pymatgen.io.vasp import Potcar

        try:
            blocks = Potcar.from_file(str(potcar))
        except Exception:  # an unreadable POTCAR: fall back to the symbols the run reports
            blocks = None
        if blocks is not None:
            return [
                {
                    "symbol": p.symbol,
                    "titel": p.TITEL,
                    "hash": hashlib.md5(p.data.encode()).hexdigest(),
                    "functional": functional,
                }
                for p in blocks
            ]
    spec = directory / "POTCAR.spec"
    symbols = spec.read_text().split() if spec.is_file() else list(vasprun.potcar_symbols)
    return [{"symbol": s.split()[-1], "titel": None, "hash": None, "functional": functional} for s in symbols]


def wavecar_read(directory: Path, parameters: dict) -> bool:
    """True when the run started from the WAVECAR it was given."""
    if int(parameters.get("ISTART", 0) or 0) < 1:
        return False
    return not RANDOM_START.search(read_text(directory, "vasp.out") + read_text(directory, "OUTCAR")[:200_000])


def path_points(labels: list, kpoints) -> list[dict] | None:
    """The labelled k-points of a band-structure run: [{label, frac_coords}], or None for a mesh."""
    points = [
        {"label": lab, "frac_coords": [float(x) for x in k]} for lab, k in zip(labels, kpoints, strict=False) if lab
    ]
    return points or None


def magnetic_moments(outcar) -> list[float] | None:
    """Per-atom total moments of the run (OUTCAR's magnetization block), or None."""
    if outcar is None or not getattr(outcar, "magnetization", None):
        return None
    return [float(m.get("tot", 0.0)) for m in outcar.magnetization]
