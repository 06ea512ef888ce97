"""Byte-level reader for the big array blocks of a vasprun.xml (helper of :mod:`dftflow.vasp.vasprun_fast`).

Why: in a 256-atom hybrid run with LORBIT = 11 almost all bytes of vasprun.xml are ``<r>`` rows inside
``<eigenvalues>``, ``<dos>`` and ``<projected>``. lxml turns every row into an element (hundreds of bytes
each) before pymatgen converts it, so pymatgen's Vasprun needs ~5-7x the file size in memory. Here those
blocks are cut out of the byte stream in pieces of ~4 MB, which a pool of threads converts in bulk while
this thread reads on (:func:`~dftflow.vasp.vasprun_numbers.fixed_width_rows`, integer arithmetic on the
bytes of VASP's fixed-width rows; ``numpy.loadtxt``'s C tokenizer for anything else), and the rest of the
document is handed on unchanged for pymatgen's own parser. No piece is copied: a piece is (buffer, start,
end) of an immutable chunk. For an uncompressed file the threads write straight into one array per block,
allocated for as many rows as the rest of the file could hold (virtual memory: only the pages written
become resident) and shrunk in place at the end; each piece learns its first row from the piece before
it. A compressed file's pieces are appended to an array that grows by copying.

:class:`BlockStream` is a read-only file object for ``lxml.etree.iterparse``. While it is read it
collects, for the *last* block of each kind (as pymatgen keeps the last one), the ``<r>`` rows in file
order as flat float64 arrays (rows, fields), which ``FastVasprun`` shapes with the run's header:

- ``eigenvalues``: rows of (eigenvalue, occupation), spin > kpoint > band;
- ``dos``: ``efermi``, ``total`` rows (energy, total, integrated), spin > gridpoint; ``partial`` rows
  (energy, orbitals...), ion > spin > gridpoint, or None; ``partial_fields``;
- ``projected``: rows of orbital weights, spin > kpoint > band > ion, with ``projections="full"``, or
  each row's sum over orbitals (rows,) with ``projections="atom"`` - reduced piece by piece, so the
  full array never exists; ``projected_fields``. With ``projections=None`` the projections are skipped
  unread (the block's copy of the eigenvalues is still read: pymatgen uses that copy).

A block that ends early, has rows of the wrong width or unreadable numbers raises
:class:`VasprunCorruptedError`. KPOINTS_OPT blocks (``<eigenvalues_kpoints_opt>``,
``<projected_kpoints_opt>``, ``<dos comment="kpoints_opt">``) are passed through unchanged for pymatgen
to parse as usual (not accelerated).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import deque
from concurrent.futures import Future

import numpy as np

from dftflow.errors import InputError
from dftflow.vasp.vasprun_numbers import FixedWidthRows, fixed_width_rows, l_columns, reduced_shape, sums_into

CHUNK = 1 << 22  # bytes read at a time; also the size of the pieces converted in parallel
_BLOCK = re.compile(rb"<(eigenvalues|projected|dos|eigenvalues_kpoints_opt|projected_kpoints_opt)[\s>]")
_LOOKBEHIND = 32  # a block start tag cut by the end of the buffer starts within this many bytes of it
_FIELD = re.compile(rb"<field[^>]*>([^<]*)</field>")
_FIRST_I = re.compile(rb"<i[\s>][^>]*>([^<]*)</i>")
_ROW = re.compile(rb"<r>([^<]*)</r>")
_SET_TAG = re.compile(rb"</?set[^>]*>")
_BLANK_TAGS = bytes.maketrans(b"<>/r", b"    ")  # <r> rows -> numbers, <set ...> and </set> -> 'set ...'


class VasprunCorruptedError(InputError):
    """vasprun.xml is truncated (a run that was killed or is still running) or corrupted."""


class BlockStream:
    """File-like view of vasprun.xml without its big array blocks, which it parses while it is read."""

    def __init__(self, raw, projections: str | None = "atom", name: str = "vasprun.xml", pool=None):
        """`pool`: a concurrent.futures executor converting the pieces of the arrays (None: this thread)."""
        self.raw, self.projections, self.name, self.pool = raw, projections, name, pool
        self.buf, self.pos, self.eof = b"", 0, False
        self.next_block = None  # cached search for the next block start tag in buf (None: not searched)
        self.until: bytes | None = None  # end tag of a block passed through unchanged (KPOINTS_OPT)
        self.blocks: dict = {}

    # ---- file interface used by lxml ----
    def read(self, n: int = -1) -> bytes:
        n = n if n and n > 0 else 1 << 16
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                return b""
            if self.until is not None:
                out = self._pass_until(n)
            else:
                if self.next_block is None:
                    self.next_block = _BLOCK.search(self.buf, self.pos) or False
                m = self.next_block
                if m and m.start() == self.pos:
                    self.next_block = None
                    self._block(m.group(1).decode())
                    continue
                end = m.start() if m else len(self.buf) - (0 if self.eof else _LOOKBEHIND)
                out = self.buf[self.pos : min(end, self.pos + n)]
                if not out and not self._fill():  # a possible partial start tag at the end, and no more data
                    out = self.buf[self.pos : self.pos + n]
            if out:
                self.pos += len(out)
                return out

    def _pass_until(self, n: int) -> bytes:
        i = self.buf.find(self.until, self.pos)
        end = i + len(self.until) if i >= 0 else len(self.buf) - len(self.until)
        out = self.buf[self.pos : min(end, self.pos + n)] if end > self.pos else b""
        if i >= 0 and self.pos + len(out) == end:
            self.until = None
        elif not out and not self._fill():
            self._truncated(f"a block (no {self.until.decode()})")
        return out

    # ---- buffer primitives (positions are only valid until the next _fill) ----
    def _fill(self) -> bool:
        """Append the next chunk of the file to the buffer (dropping what was consumed); False at EOF."""
        if self.eof:
            return False
        data = self.raw.read(CHUNK)
        rest = self.buf[self.pos :] if self.pos < len(self.buf) else b""
        self.buf, self.pos, self.next_block = rest + data if rest else data, 0, None
        self.eof = not data
        return bool(data)

    def _truncated(self, where: str):
        raise VasprunCorruptedError(f"{self.name}: file ends inside {where}: the run is incomplete or corrupted")

    def _corrupted(self, what: str):
        raise VasprunCorruptedError(f"{self.name}: {what}: the file is incomplete or corrupted")

    def _find(self, token: bytes, skip: int = 0) -> int:
        """Offset from pos of the first token at or after pos + skip, reading more as needed."""
        while (i := self.buf.find(token, self.pos + skip)) < 0:
            skip = max(len(self.buf) - self.pos - len(token) + 1, skip)
            if not self._fill():
                self._truncated(f"a block (no {token.decode()!r})")
        return i - self.pos

    def _take_before(self, token: bytes) -> bytes:
        i = self._find(token)
        out, self.pos = self.buf[self.pos : self.pos + i], self.pos + i
        return out

    def _expect(self, *tags: bytes) -> bytes:
        """Consume the next tag, which must start with one of tags; only whitespace may come before it."""
        lt = self._find(b"<")
        gt = self._find(b">", lt)
        before, tag = self.buf[self.pos : self.pos + lt], self.buf[self.pos + lt : self.pos + gt + 1]
        if before.strip() or not tag.startswith(tags):
            found = (before.strip() or tag)[:60].decode(errors="replace")
            self._corrupted(f"expected {' or '.join(t.decode() for t in tags)}, found {found!r}")
        self.pos += gt + 1
        return tag

    def _pieces_before(self, token: bytes):
        """Yield (buffer, start, end) of the bytes up to token in newline-aligned pieces of about CHUNK
        bytes (no copy: the buffer is immutable, so a piece stays valid while a thread converts it)."""
        while True:
            i = self._find_in_buffer(token)
            if i >= 0:
                if i > self.pos:
                    yield self.buf, self.pos, i
                self.pos = i
                return
            cut = self.buf.rfind(b"\n", self.pos)
            if cut >= self.pos:
                yield self.buf, self.pos, cut + 1
                self.pos = cut + 1
            joint = self._next_buffer(token)
            if joint:
                yield joint, 0, len(joint)

    def _next_buffer(self, token: bytes) -> bytes | None:
        """Read the next chunk inside an array. The line cut by the end of the buffer, completed from the
        new chunk, is returned as a piece of its own, so that the chunk becomes the buffer as it is
        (joining the two would copy the chunk); None when the rest of the buffer was joined instead."""
        rest = self.buf[self.pos :]
        data = self.raw.read(CHUNK) if not self.eof else b""
        if not data:
            self.eof = True
            self._truncated(f"an array (no {token.decode()})")
        nl = data.find(b"\n", 0, 1 << 16)
        if rest and nl >= 0 and len(rest) < 1 << 16 and token not in (joint := rest + data[: nl + 1]):
            self.buf, self.pos, self.next_block = data, nl + 1, None
            return joint
        self.buf, self.pos, self.next_block = rest + data if rest else data, 0, None
        return None

    def _find_in_buffer(self, token: bytes) -> int:
        """buf.find(token, pos); '</array>' by its 'y', which no row or <set> line has: a memchr search,
        several times faster than bytes.find of a token that starts with the '<' of every row."""
        if token != b"</array>":
            return self.buf.find(token, self.pos)
        start = self.pos + 6
        while (y := self.buf.find(b"y", start)) >= 0:
            if self.buf[y - 6 : y + 2] == token:
                return y - 6
            start = y + 1
        return -1

    # ---- blocks ----
    def _block(self, name: str):
        gt = self._find(b">")
        if name.endswith("_kpoints_opt") or b"kpoints_opt" in self.buf[self.pos : self.pos + gt]:
            self.until = f"</{name}>".encode()  # KPOINTS_OPT: passed through unchanged, pymatgen parses it
            return
        self.pos += gt + 1
        if name == "eigenvalues":
            self.blocks["eigenvalues"] = self._eigenvalues()
        elif name == "dos":
            self.blocks["dos"] = self._dos()
        else:  # <projected>: its own copy of the eigenvalues, which pymatgen keeps (the last one read; VASP's
            self._expect(b"<eigenvalues>")  # two copies can differ in the occupations' last digit)
            self.blocks["eigenvalues"] = self._eigenvalues()
            if self.projections is None:
                for _ in self._pieces_before(b"</projected>"):
                    pass
                self.pos += len(b"</projected>")
                return
            fields, data = self._array(projected=True)
            self._expect(b"</projected>")
            self.blocks["projected"], self.blocks["projected_fields"] = data, fields

    def _eigenvalues(self) -> np.ndarray:
        _, data = self._array()
        self._expect(b"</eigenvalues>")
        return data

    def _dos(self) -> dict:
        head = self._take_before(b"<total>")
        efermi = _FIRST_I.search(head)
        if efermi is None:
            self._corrupted("<dos> without efermi")
        self._expect(b"<total>")
        _, total = self._array()
        self._expect(b"</total>")
        partial, fields = None, []
        if self._expect(b"<partial>", b"</dos>") == b"<partial>":
            fields, partial = self._array()
            self._expect(b"</partial>")
            self._expect(b"</dos>")
        return {"efermi": float(efermi.group(1)), "total": total, "partial": partial, "partial_fields": fields}

    def _array(self, projected: bool = False) -> tuple[list[str], np.ndarray]:
        """One <array>: (field names, rows (n, nfields) float64); for <projected> with projections "atom"
        each row's sum (n,), with "l" its sum and its sums by l (n, 1 + l channels).

        The rows stay flat: :class:`~dftflow.vasp.vasprun_fast.FastVasprun` shapes them from the header
        (ISPIN, k-points, atoms), which is cheaper than counting the <set> tags of a GB-sized block. The
        pool converts the pieces while this thread reads on; at most 2 per thread are in flight.
        """
        self._expect(b"<array")
        fields = [f.strip().decode() for f in _FIELD.findall(self._take_before(b"<set"))]
        everything = tuple(range(len(fields)))
        reduce_rows = {"atom": (everything,), "l": (everything, *map(tuple, l_columns(len(fields))))}
        reduce_rows = reduce_rows.get(self.projections) if projected else None
        bytes_left = self._bytes_left()
        if bytes_left is not None:
            data = self._array_in_place(bytes_left, len(fields), reduce_rows)
            self.pos += len(b"</array>")
            if not len(data):
                self._corrupted("empty <array>")
            return fields, data
        rows, pending = _Rows(len(fields), reduce_rows), deque()
        limit = 2 * getattr(self.pool, "_max_workers", 1)
        for piece in self._pieces_before(b"</array>"):
            if self.pool is None:
                rows.add(convert_rows(*piece, len(fields), reduce_rows, self.name))
                continue
            pending.append(self.pool.submit(convert_rows, *piece, len(fields), reduce_rows, self.name))
            while len(pending) >= limit:
                rows.add(pending.popleft().result())
        while pending:
            rows.add(pending.popleft().result())
        self.pos += len(b"</array>")
        if not rows.n:
            self._corrupted("empty <array>")
        return fields, rows.array()

    def _array_in_place(self, bytes_left: int, ncols: int, reduce_rows: tuple | None) -> np.ndarray:
        """The rows converted straight into one array allocated for as many rows as the bytes left in the
        file could hold (virtual memory: only the pages written become resident) and shrunk in place at the
        end. Each piece learns where its rows go from the piece before it (a chain of futures)."""
        out = np.empty((bytes_left // (8 + 2 * ncols) + 1, *reduced_shape(ncols, reduce_rows)))
        before, pending = None, deque()
        limit = 2 * getattr(self.pool, "_max_workers", 1)
        for piece in self._pieces_before(b"</array>"):
            after = Future()
            task = (*piece, ncols, self.name, out, before, after, reduce_rows)
            if self.pool is None:
                convert_in_place(*task)
            else:
                pending.append(self.pool.submit(convert_in_place, *task))
            before = after
            while len(pending) >= limit:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
        out.resize((before.result() if before is not None else 0, *out.shape[1:]), refcheck=False)  # no views left
        return out

    def _bytes_left(self) -> int | None:
        """Bytes from pos to the end of an uncompressed file (None for a compressed one)."""
        if not isinstance(self.raw, io.BufferedReader):
            return None
        try:
            return os.fstat(self.raw.fileno()).st_size - self.raw.tell() + len(self.buf) - self.pos
        except (OSError, ValueError):
            return None


class _Rows:
    """Converted pieces of a compressed file appended in order into one array that grows by copying."""

    def __init__(self, ncols: int, reduce_rows: tuple | None):
        self.tail = reduced_shape(ncols, reduce_rows)
        self.data, self.n = np.empty((1 << 12, *self.tail)), 0

    def add(self, part: np.ndarray) -> None:
        if self.n + len(part) > len(self.data):
            grown = np.empty((2 * (self.n + len(part)), *self.tail))
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : self.n + len(part)] = part
        self.n += len(part)

    def array(self) -> np.ndarray:
        self.data.resize((self.n, *self.tail), refcheck=False)  # in place: realloc to a smaller size
        return self.data


def convert_in_place(buf, start: int, end: int, ncols: int, name: str, out, before: Future | None, after: Future,
                     reduce_rows: tuple | None = None):  # fmt: skip
    """Converts the rows of buf[start:end] into out (rows, ncols), or their sums (groups of columns
    `reduce_rows`) into out, from the row where the piece before ends (`before`); tells the next piece
    where this one ends (`after`)."""
    try:
        rows = FixedWidthRows.of(buf, ncols, start, end)
        parsed = _rows(buf[start:end], ncols, name) if rows is None else None
        n = rows.n if rows is not None else len(parsed)
        first = before.result() if before is not None else 0
        if first + n > len(out):  # not reached: out has room for the shortest possible rows
            raise ValueError(f"{name}: more rows than bytes")
        after.set_result(first + n)
    except BaseException as exc:
        after.set_exception(exc)  # the pieces after this one fail too, instead of waiting
        raise
    dest = out[first : first + n]
    if rows is not None and not rows.convert_into(dest, reduce_rows):
        parsed = _rows(buf[start:end], ncols, name)  # a line the fast path refuses: all of it by loadtxt
        if len(parsed) != n:
            _corrupted(name, f"{len(parsed)} array rows in {n} lines")
    if parsed is not None:
        if reduce_rows is None:
            dest[...] = parsed
        else:
            sums_into(parsed, reduce_rows, dest)


def convert_rows(buf, start: int, end: int, ncols: int, reduce_rows: tuple | None, name: str) -> np.ndarray:
    """The <r> rows of buf[start:end] (whole lines) as (n, ncols) float64, or their sums (groups of columns).

    Fixed-width rows (VASP writes no others) go through
    :func:`~dftflow.vasp.vasprun_numbers.fixed_width_rows`; anything else through numpy.loadtxt and, for
    what that refuses, pymatgen's per-number conversion."""
    rows = fixed_width_rows(buf, ncols, reduce_rows, start, end)
    if rows is not None:
        return rows
    rows = _rows(buf[start:end], ncols, name)
    return (
        rows
        if reduce_rows is None
        else sums_into(rows, reduce_rows, np.empty((len(rows), *reduced_shape(ncols, reduce_rows))))
    )


def _corrupted(name: str, what: str):
    raise VasprunCorruptedError(f"{name}: {what}: the file is incomplete or corrupted")


def _rows(piece: bytes, ncols: int, name: str) -> np.ndarray:
    """The <r> rows of a piece as (n, ncols) float64 by numpy.loadtxt.

    One bytes.translate blanks '<', '>', '/' and 'r', so that <r> rows are bare numbers (also when glued to
    their tags) and <set ...> lines start with 's', the comment character for numpy's C tokenizer (a
    longer comment string would send every line through Python). It refuses (ValueError) VASP's '*****'
    overflows and anything irregular; those pieces get pymatgen's per-number conversion.
    """
    text = piece.translate(_BLANK_TAGS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data" for a piece of <set> lines only
            rows = np.loadtxt(io.BytesIO(text), comments="s", ndmin=2, encoding="latin1")  # 1.7x the default
    except ValueError:
        rows = _rows_slow(piece, ncols, name)
    if rows.size == 0:
        rows = rows.reshape(0, ncols)
    if rows.shape[1] != ncols:
        _corrupted(name, f"array rows of {rows.shape[1]} numbers where its header has {ncols} fields")
    return rows


def _rows_slow(piece: bytes, ncols: int, name: str) -> np.ndarray:
    """As pymatgen does: VASP's '*****' overflow becomes nan (with pymatgen's warning); others raise."""
    from pymatgen.io.vasp.outputs import _vasprun_float

    if _SET_TAG.sub(b"", _ROW.sub(b"", piece)).strip():
        _corrupted(name, "unexpected content between array rows")
    try:
        values = [[_vasprun_float(t.decode()) for t in row.split()] for row in _ROW.findall(piece)]
    except ValueError as exc:
        _corrupted(name, f"unreadable number in an array ({exc})")
    if any(len(v) != ncols for v in values):
        _corrupted(name, f"array row without {ncols} numbers")
    return np.array(values, dtype=float).reshape(-1, ncols)
