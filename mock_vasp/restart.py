"""WAVECAR-equivalent: mock-vasp's own restart file (JSON), named WAVECAR so workflows copy it as usual.

It records the k-points and eigenvalues of the run that wrote it.  ISTART >= 1 with a readable file
shortens the synthetic SCF history for the k-points it covers; k-points it does not cover start from
random wavefunctions (reported with a VASP-like message), as VASP does with a WAVECAR of another mesh.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mock_vasp import MARK

HEADER = f"{MARK} WAVECAR (model restart file, not VASP's binary format)"


def write_wavecar(path: Path, kpts: np.ndarray, nbands: int, ispin: int, eig: np.ndarray, encut: float) -> None:
    data = {
        "format": HEADER,
        "nbands": nbands,
        "ispin": ispin,
        "encut": encut,
        "kpoints": np.round(kpts, 8).tolist(),
        "eigenvalues_first_band": np.round(eig[:, :, 0], 6).tolist(),
    }
    path.write_text(json.dumps(data))


def read_wavecar(path: Path, kpts: np.ndarray) -> tuple[bool, int, str]:
    """(usable, number of matching k-points, message) for a restart from `path`."""
    if not path.is_file() or path.stat().st_size == 0:
        return False, 0, " WAVECAR not read (file missing or empty): starting from random wavefunctions"
    try:
        data = json.loads(path.read_text())
        assert data.get("format", "").startswith(MARK)
    except (ValueError, AssertionError, UnicodeDecodeError):
        return False, 0, " WARNING: WAVECAR was not written by mock-vasp: starting from random wavefunctions"
    old = np.array(data["kpoints"], float)
    matched = 0
    for k in kpts:
        if len(old) and np.any(np.all(np.abs(old - k) < 1e-6, axis=1)):
            matched += 1
    if matched == len(kpts):
        return True, matched, " reading WAVECAR: all k-points found, restarting from the stored wavefunctions"
    return (
        matched > 0,
        matched,
        (
            f" WARNING: WAVECAR holds a different k-point set: wavefunctions for "
            f"{len(kpts) - matched} of {len(kpts)} k-points are initialised randomly"
        ),
    )
