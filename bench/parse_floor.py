"""The floor of reading a vasprun.xml on this machine (helper of bench/parse.py --floor).

floor = time to read the file's bytes from the page cache + its numbers / the best conversion rate
measured here. Both are measured now, on this machine, in this process:

- read: the whole file in 4 MB reads into one reused buffer, best of 3 (the page cache is warm);
- conversion rates, on 4 MB pieces of the file's own <projected> and <dos><partial> rows: Python's
  float() on each number (correctly rounded, what pymatgen uses), numpy.loadtxt, dftflow's fixed-width
  conversion on one thread, and on two threads at once (two pieces, the aggregate rate);
- the number of numbers in the file's array blocks, from the shapes FastVasprun reads.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

PIECE = 1 << 22


def read_seconds(path: Path) -> float:
    buf = memoryview(bytearray(PIECE))
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        with open(path, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
        best = min(best, time.perf_counter() - t)
    return best


def _piece(path: Path, tag: bytes) -> bytes:
    """Up to 4 MB of whole row lines of the first block with this start tag."""
    with open(path, "rb") as fh:
        offset = 0
        while chunk := fh.read(1 << 26):
            if (i := chunk.find(tag)) >= 0:
                fh.seek(offset + i)
                data = fh.read(PIECE + (1 << 16))
                start = data.rindex(b"\n", 0, data.index(b"<r>")) + 1
                end = min(data.find(b"</array>", start) % (len(data) + 1), start + PIECE)
                return data[start : data.rindex(b"\n", start, end) + 1]
            offset += len(chunk) - len(tag)
            fh.seek(offset)
    raise ValueError(f"{path}: no {tag.decode()}")


def _rate(fn, numbers: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return numbers / best


def conversion_rates(path: Path) -> dict[str, float]:
    """numbers per second, by method, on the file's <projected> and <dos> rows."""
    import numpy as np

    from dftflow.vasp.vasprun_arrays import _rows
    from dftflow.vasp.vasprun_numbers import fixed_width_rows

    rates = {}
    for block, tag, ncols in (("projected", b"<projected>", None), ("dos", b"<partial>", None)):
        piece = _piece(path, tag)
        first = piece[piece.index(b"<r>") : piece.index(b"</r>")]
        ncols = len(first[3:].split())
        numbers = len(_rows(piece, ncols, "piece")) * ncols
        tokens = [t for line in piece.splitlines() if b"<r>" in line for t in line[line.index(b">") + 1 :].split()[:-1]]
        rates[f"float() per number, {block}"] = _rate(lambda: [float(t) for t in tokens], numbers, 2)  # noqa: B023
        rates[f"numpy.loadtxt, {block}"] = _rate(lambda: _rows(piece, ncols, "piece"), numbers, 3)  # noqa: B023
        rates[f"fixed-width, 1 thread, {block}"] = _rate(lambda: fixed_width_rows(piece, ncols), numbers)  # noqa: B023

        def two():
            threads = [threading.Thread(target=fixed_width_rows, args=(piece, ncols)) for _ in range(2)]  # noqa: B023
            [th.start() for th in threads]
            [th.join() for th in threads]

        rates[f"fixed-width, 2 threads, {block}"] = _rate(two, 2 * numbers)
        assert np.array_equal(fixed_width_rows(piece, ncols), _rows(piece, ncols, "piece"))
    return rates


def number_count(path: Path) -> int:
    """Numbers in the array blocks: eigenvalues (twice with projections), DOS, projections."""
    import warnings

    from dftflow.vasp.vasprun_fast import FastVasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = FastVasprun(path, projections="atom")
    eig = sum(a.size for a in v.eigenvalues.values())
    ncomp = v.atom_projections.shape[0] if v.atom_projections is not None else len(v.eigenvalues)
    n = eig * (2 if v.atom_projections is not None else 1)
    n += 3 * len(v.tdos.energies) * ncomp
    n += sum((1 + len(p)) * len(v.tdos.energies) * ncomp for p in v.pdos)
    if v.atom_projections is not None:
        n += v.atom_projections.size * len(v.projection_orbitals)
    return n


def floor(path: Path) -> dict:
    rates = conversion_rates(path)
    best = max(rates, key=rates.get)
    read, numbers = read_seconds(path), number_count(path)
    return {"read_s": read, "numbers": numbers, "rates": rates, "best": best,
            "floor_s": read + numbers / rates[best]}  # fmt: skip
