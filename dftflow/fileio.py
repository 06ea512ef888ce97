"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, data) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=1, default=str) + "\n")


BULKY_OUTPUTS = ("vasprun.xml", "PROCAR", "DOSCAR", "EIGENVAL", "LOCPOT", "CHGCAR", "OUTCAR", "XDATCAR", "PARCHG")


def gzip_outputs(directory: str | Path, names=BULKY_OUTPUTS, level: int = 1) -> list[Path]:
    """gzip the bulky VASP outputs of a stored run (atomate's practice; pymatgen reads the .gz files).

    CONTCAR and WAVECAR stay plain: the next calculation starts from them. Each file is compressed to a
    temporary name and renamed before the original is removed, so a kill never leaves neither.
    """
    import gzip
    import shutil

    done = []
    for name in names:
        source = Path(directory) / name
        if not source.is_file():
            continue
        target = source.with_name(f"{name}.gz")
        tmp = source.with_name(f".{name}.gz.tmp")
        with open(source, "rb") as fin, gzip.open(tmp, "wb", compresslevel=level) as fout:
            shutil.copyfileobj(fin, fout, length=1 << 20)
        os.replace(tmp, target)
        source.unlink()
        done.append(target)
    return done
