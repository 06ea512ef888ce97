"""Byte-level reader for the big array blocks of a vasprun.xml (helper of :mod:`dftflow.vasp.vasprun_fast`).

Why: in a 256-atom hybrid run with LORBIT = 11 almost all bytes of vasprun.xml are ``<r>`` rows inside
``<eigenvalues>``, ``<dos>`` and ``<projected>``. lxml turns every row into an element (hundreds of bytes
each) before pymatgen converts it, so pymatgen's Vasprun needs ~5-7x the file size in memory. Here those
blocks are cut out of the byte stream and converted in bulk, ~16 MB at a time - by ``numpy.loadtxt``'s
C tokenizer, or for the fixed-width rows of ``<projected>`` by integer arithmetic on the bytes
(:func:`_rows_fixed8`) - and the rest of the document is handed on unchanged for pymatgen's own parser.

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
import re
import warnings

import numpy as np

from dftflow.errors import InputError

CHUNK = 1 << 24  # bytes read at a time; also the size of the pieces handed to numpy.loadtxt
_BLOCK = re.compile(rb"<(eigenvalues|projected|dos|eigenvalues_kpoints_opt|projected_kpoints_opt)[\s>]")
_LOOKBEHIND = 32  # a block start tag cut by the end of the buffer starts within this many bytes of it
_FIELD = re.compile(rb"<field[^>]*>([^<]*)</field>")
_FIRST_I = re.compile(rb"<i[\s>][^>]*>([^<]*)</i>")
_ROW = re.compile(rb"<r>([^<]*)</r>")
_SET_TAG = re.compile(rb"</?set[^>]*>")
_BLANK_TAGS = bytes.maketrans(b"<>/r", b"    ")  # <r> rows -> numbers, <set ...> and </set> -> 'set ...'
_U64 = np.uint64


class VasprunCorruptedError(InputError):
    """vasprun.xml is truncated (a run that was killed or is still running) or corrupted."""


class BlockStream:
    """File-like view of vasprun.xml without its big array blocks, which it parses while it is read."""

    def __init__(self, raw, projections: str | None = "atom", name: str = "vasprun.xml"):
        self.raw, self.projections, self.name = raw, projections, name
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
        """Yield the bytes up to token in newline-aligned pieces of about CHUNK bytes; stop at token."""
        while True:
            i = self.buf.find(token, self.pos)
            if i >= 0:
                if i > self.pos:
                    yield self.buf[self.pos : i]
                self.pos = i
                return
            cut = self.buf.rfind(b"\n", self.pos)
            if cut >= self.pos:
                piece, self.pos = self.buf[self.pos : cut + 1], cut + 1
                yield piece
            if not self._fill():
                self._truncated(f"an array (no {token.decode()})")

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
            fields, data = self._array(reduce_rows=self.projections == "atom", fixed8=True)
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

    def _array(self, reduce_rows: bool = False, fixed8: bool = False) -> tuple[list[str], np.ndarray]:
        """One <array>: (field names, rows (n, nfields) float64, or their sums (n,) with reduce_rows).

        The rows stay flat: :class:`~dftflow.vasp.vasprun_fast.FastVasprun` shapes them from the header
        (ISPIN, k-points, atoms), which is cheaper than counting the <set> tags of a GB-sized block.
        """
        self._expect(b"<array")
        fields = [f.strip().decode() for f in _FIELD.findall(self._take_before(b"<set"))]
        parts = []
        for piece in self._pieces_before(b"</array>"):
            rows = _rows_fixed8(piece, len(fields)) if fixed8 else None
            fixed8 = rows is not None  # a layout that does not fit is not tried again in this array
            rows = self._rows(piece, len(fields)) if rows is None else rows
            parts.append(rows.sum(axis=1) if reduce_rows else rows)
        self.pos += len(b"</array>")
        if not parts or not sum(len(p) for p in parts):
            self._corrupted("empty <array>")
        return fields, np.concatenate(parts)

    def _rows(self, piece: bytes, ncols: int) -> np.ndarray:
        """The <r> rows of a piece as (n, ncols) float64.

        Fast path: one bytes.translate blanks '<', '>', '/' and 'r', so that <r> rows are bare numbers (also
        when glued to their tags) and <set ...> lines start with 's', the comment character for numpy's C
        tokenizer (a longer comment string would send every line through Python). It refuses (ValueError)
        VASP's '*****' overflows and anything irregular; those pieces get pymatgen's per-number conversion.
        """
        text = piece.translate(_BLANK_TAGS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "input contained no data" for a piece of <set> lines only
                rows = np.loadtxt(io.BytesIO(text), comments="s", ndmin=2, encoding="latin1")  # 1.7x the default
        except ValueError:
            rows = self._rows_slow(piece, ncols)
        if rows.size == 0:
            rows = rows.reshape(0, ncols)
        if rows.shape[1] != ncols:
            self._corrupted(f"array rows of {rows.shape[1]} numbers where its header has {ncols} fields")
        return rows

    def _rows_slow(self, piece: bytes, ncols: int) -> np.ndarray:
        """As pymatgen does: VASP's '*****' overflow becomes nan (with pymatgen's warning); others raise."""
        from pymatgen.io.vasp.outputs import _vasprun_float

        if _SET_TAG.sub(b"", _ROW.sub(b"", piece)).strip():
            self._corrupted("unexpected content between array rows")
        try:
            values = [[_vasprun_float(t.decode()) for t in row.split()] for row in _ROW.findall(piece)]
        except ValueError as exc:
            self._corrupted(f"unreadable number in an array ({exc})")
        if any(len(v) != ncols for v in values):
            self._corrupted(f"array row without {ncols} numbers")
        return np.array(values, dtype=float).reshape(-1, ncols)


def _rows_fixed8(piece: bytes, ncols: int) -> np.ndarray | None:
    """<r> rows in VASP's <projected> layout (non-negative fields of 8 characters, '.' then 4 digits, as
    '  0.2275'), or None if the piece is not exactly that (numpy.loadtxt reads it then).

    Why: this block is ~90 % of a big vasprun.xml. Each field, seen as a little-endian uint64, becomes its
    digits by three multiply-shift-mask steps (the classic SWAR 8-digit parse), ~2x numpy.loadtxt. The
    mantissa is an exact integer, so mantissa / 1e4 is the correctly rounded double, as float() gives.
    Every character is checked; a '-' (magnetisation components of non-collinear runs) means None.
    """
    if b"-" in piece:
        return None
    rows, start, view = [], 0, memoryview(piece)
    while (e := piece.find(b"e", start)) >= 0:  # 'e' occurs only in <set ...> and </set> lines (memchr)
        line, end = piece.rfind(b"\n", 0, e) + 1, piece.find(b"\n", e) + 1 or len(piece)
        if piece.find(b"set", line, end) < 0:
            return None
        rows.append(view[start:line])
        start = end
    rows.append(view[start:])
    text = b"".join(rows).rstrip(b" \t")  # the last piece ends with the indentation of </array>
    width = text.find(b"\n") + 1
    c0 = text.find(b"<r>", 0, width) + 3
    c1 = c0 + 8 * ncols
    if not text:
        return np.empty((0, ncols))
    if width <= 0 or c0 < 3 or c1 > width or len(text) % width:
        return None
    lines = np.frombuffer(text, np.uint8).reshape(-1, width)
    if not ((lines[:, :c0] == lines[0, :c0]).all() and (lines[:, c1:] == lines[0, c1:]).all()):
        return None  # lines of the same length, but not all rows with the same layout
    if lines[0, c1:].tobytes().strip() != b"</r>":
        return None
    f = np.ascontiguousarray(lines[:, c0:c1]).view("<u8")  # (rows, ncols); byte k = k-th character
    t = f ^ _U64(0x3030303030303030)  # digits -> 0..9, ' ' -> 0x10, '.' -> 0x1E
    digits = _U64(0xF0F0F0F0_00F00000)  # characters 2, 4, 5, 6, 7 must be digits,
    low, high = t & _U64(0x0F0F), t & _U64(0x1010)  # characters 0, 1 digits or ' ',
    if (
        (t & digits).any()
        or ((t + _U64(0x0606060606060606)) & digits).any()
        or ((t >> _U64(24)) & _U64(0xFF) != 0x1E).any()  # character 3 '.'
        or (t & _U64(0xE0E0)).any()
        or ((low + _U64(0x0606)) & _U64(0x1010)).any()
        or (low & ((high >> _U64(4)) * _U64(0x0F))).any()
        or ((high >> _U64(8)) & ~high).any()  # no ' ' after a digit
    ):
        return None
    x = f & _U64(0x0F0F0F0F_000F0F0F)  # digit values; ' ' and '.' -> 0
    x = (x * _U64(10) + (x >> _U64(8))) & _U64(0x00FF00FF00FF00FF)
    x = (x * _U64(100) + (x >> _U64(16))) & _U64(0x0000FFFF0000FFFF)
    x = (x * _U64(10000) + (x >> _U64(32))) & _U64(0x00000000FFFFFFFF)  # 8-digit integer, '.' read as a 0
    return (x - (x // _U64(100000)) * _U64(90000)).astype(np.float64) / 1e4  # drop that 0: the mantissa
