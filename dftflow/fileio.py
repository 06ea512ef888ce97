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


GZIP_MEMBER = 32 << 20  # bytes of input per gzip member (pigz compresses 128 kB blocks; fewer, larger here)


def gzip_outputs(directory: str | Path, names=BULKY_OUTPUTS, level: int = 1) -> list[Path]:
    """gzip the bulky VASP outputs of a stored run (atomate's practice; pymatgen reads the .gz files).

    CONTCAR and WAVECAR stay plain: the next calculation starts from them. Each file is compressed to a
    temporary name and renamed before the original is removed, so a kill never leaves neither.
    """
    done = []
    for name in names:
        source = Path(directory) / name
        if not source.is_file():
            continue
        target = source.with_name(f"{name}.gz")
        tmp = source.with_name(f".{name}.gz.tmp")
        gzip_file(source, tmp, level)
        os.replace(tmp, target)
        source.unlink()
        done.append(target)
    return done


def gzip_file(source: str | Path, target: str | Path, level: int = 1, threads: int | None = None) -> Path:
    """Compress `source` into `target` as a multi-member gzip file, the layout pigz writes: the input is cut
    into GZIP_MEMBER pieces, each compressed into a complete gzip member on its own thread (zlib releases
    the GIL), and the members are written in order. gzip -d, zcat, Python's gzip module and pymatgen's
    zopen read the members as one stream (RFC 1952 section 2.2). A 256-atom band structure writes ~7 GB of
    vasprun.xml and PROCAR; one zlib stream would use one core of the machine for all of it."""
    import zlib
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def member(data: bytes) -> bytes:
        packer = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip header and trailer
        return packer.compress(data) + packer.flush()

    from dftflow.cores import usable_cores

    workers = threads or min(4, usable_cores())
    with open(source, "rb") as fin, open(target, "wb") as fout, ThreadPoolExecutor(workers) as pool:
        pending = deque()
        while chunk := fin.read(GZIP_MEMBER):
            pending.append(pool.submit(member, chunk))
            if len(pending) > 2 * workers:  # bounded memory: a few members in flight
                fout.write(pending.popleft().result())
        if not pending:  # nothing was read: an empty file is still one (empty) gzip member
            pending.append(pool.submit(member, b""))
        while pending:
            fout.write(pending.popleft().result())
    return Path(target)
