"""Byte-level reader for the big array blocks of a vasprun.xml (helper of :mod:`dftflow.vasp.vasprun_fast`).

Why: in a 256-atom hybrid run with LORBIT = 11 almost all bytes of vasprun.xml are ``<r>`` rows inside
``<eigenvalues>``, ``<dos>`` and ``<projected>``. lxml turns every row into an element (hundreds of bytes
each) before pymatgen converts it, so pymatgen's Vasprun needs ~5-7x the file size in memory. Here those
blocks are cut out of the byte stream and converted in bulk, ~16 MB at a time, by ``numpy.loadtxt``
(C tokenizer); the rest of the document is handed on unchanged so that pymatgen's own parser reads it.

:class:`BlockStream` is a read-only file object for ``lxml.etree.iterparse``. While it is read it
collects, for the *last* block of each kind (as pymatgen keeps the last one):

- ``eigenvalues``: float64 array (spin, kpoint, band, 2) of eigenvalue and occupation;
- ``dos``: ``efermi``, ``total`` (spin, gridpoint, 3), ``partial`` (ion, spin, gridpoint, 1 + norb) or
  None, ``partial_fields`` (the ``<field>`` names);
- ``projected``: (spin, kpoint, band, ion, norb) float64 with ``projections="full"``, or its sum over
  orbitals (spin, kpoint, band, ion) float64 with ``projections="atom"`` (reduced piece by piece, so the
  full array never exists); ``projected_fields``. With ``projections=None`` the block is skipped unread.

Spin sets are taken in file order (1, 2, ... as VASP writes them) instead of being matched by their
comment text; shapes come from counting the ``<set comment="...">`` tags of each dimension, and every
array must be complete and regular, else :class:`VasprunCorruptedError`. KPOINTS_OPT blocks
(``<eigenvalues_kpoints_opt>``, ``<projected_kpoints_opt>``, ``<dos comment="kpoints_opt">``) are passed
through unchanged, for pymatgen to parse as usual (not accelerated).
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
_DIM = re.compile(rb'<dimension\s+dim="(\d+)"\s*>\s*([^<\s]+)\s*</dimension>')
_FIELD = re.compile(rb"<field[^>]*>([^<]*)</field>")
_FIRST_I = re.compile(rb"<i[\s>][^>]*>([^<]*)</i>")
_ROW = re.compile(rb"<r>([^<]*)</r>")
_SET_TAG = re.compile(rb"</?set[^>]*>")


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
            self._truncated(self.until.decode())
        return out

    # ---- buffer primitives (positions are only valid until the next _fill) ----
    def _fill(self) -> bool:
        """Append the next chunk of the file to the buffer (dropping what was consumed); False at EOF."""
        if self.eof:
            return False
        data = self.raw.read(CHUNK)
        self.buf, self.pos, self.next_block = self.buf[self.pos :] + data, 0, None
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
        elif self.projections is None:
            for _ in self._pieces_before(b"</projected>"):
                pass
            self.pos += len(b"</projected>")
        else:
            self._expect(b"<eigenvalues>")
            self.blocks["eigenvalues"] = self._eigenvalues()  # pymatgen keeps this copy (the last one)
            fields, data = self._array(reduce_rows=self.projections == "atom")
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

    def _array(self, reduce_rows: bool = False) -> tuple[list[str], np.ndarray]:
        """One <array>: (field names, data shaped (*outer dimensions, rows[, fields]))."""
        self._expect(b"<array")
        head = self._take_before(b"<set")
        names = [name for _, name in sorted(_DIM.findall(head), key=lambda d: int(d[0]))]
        fields = [f.strip().decode() for f in _FIELD.findall(head)]
        outer = names[:0:-1]  # set nesting, outermost first, e.g. spin, kpoint (dim 1 is the rows)
        counts = dict.fromkeys(outer, 0)
        parts, nrows = [], 0
        for piece in self._pieces_before(b"</array>"):
            for name in outer:
                counts[name] += piece.count(b'comment="' + name)
            rows = self._rows(piece, len(fields))
            nrows += len(rows)
            parts.append(rows.sum(axis=1) if reduce_rows else rows)
        self.pos += len(b"</array>")
        data = np.concatenate(parts) if parts else np.empty((0,) if reduce_rows else (0, len(fields)))
        return fields, data.reshape(self._shape(outer, counts, nrows) + data.shape[1:])

    def _shape(self, outer: list[bytes], counts: dict, nrows: int) -> tuple[int, ...]:
        shape, total = [], 1
        for name in outer:  # counts are cumulative: spin sets, then kpoint sets in all spins, ...
            if counts[name] == 0 or counts[name] % total:
                self._corrupted(f"irregular <set> structure ({counts[name]} {name.decode()} sets)")
            shape.append(counts[name] // total)
            total = counts[name]
        if nrows == 0 or nrows % total:
            self._corrupted(f"{nrows} rows do not fill {total} sets evenly")
        return (*shape, nrows // total)

    def _rows(self, piece: bytes, ncols: int) -> np.ndarray:
        """<r> rows of a piece as (n, ncols) float64: numpy's C tokenizer; per-token fallback if it refuses."""
        nrows = piece.count(b"<r>")
        if nrows == 0:
            rows = np.empty((0, ncols))
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rows = np.loadtxt(io.BytesIO(piece), comments=("<set", "</set"), usecols=range(1, ncols + 1),
                                      ndmin=2)  # fmt: skip
            except ValueError:  # '*****' overflows, tags glued to numbers, or garbage
                rows = self._rows_slow(piece, ncols)
        if rows.shape != (nrows, ncols):
            self._corrupted(f"array rows of unexpected shape {rows.shape} (expected ({nrows}, {ncols}))")
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
