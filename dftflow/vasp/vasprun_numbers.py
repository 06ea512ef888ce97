"""The ``<r>`` rows of a vasprun.xml array block -> float64, exactly as ``float()`` reads them (helper of
:mod:`dftflow.vasp.vasprun_arrays`).

Why: in a 256-atom hybrid run with LORBIT = 11 almost all of vasprun.xml is ``<r>`` rows, ~60 million
numbers in a 645.6 MB file. ``numpy.loadtxt`` converts ~20-40 million numbers a second here; the
fixed-width layout VASP writes can be converted several times faster by integer arithmetic on the bytes.

How (:func:`fixed_width_rows`): VASP writes every row of a block with one Fortran format, e.g.
``<r>  0.2275  0.0010 ...</r>`` (f8.4) in ``<projected>`` or ``<r>   -69.0000     0.0000 ...</r>`` (f11.4)
in ``<dos>``, so a run of rows between two ``<set>`` lines is a byte matrix (rows, line width) seen by
numpy without a copy. The last 8 characters of each field, read as a little-endian uint64, become their
digits in three multiply-shift-mask steps (the classic SWAR 8-digit parse); the integer mantissa is
exact, so mantissa / 10**decimals is the correctly rounded double, which is what ``float()`` of the text
gives (and a '-' gives -0.0 for "-0.0000" as float() does). Every character is checked: the line
prefix and suffix against the first row, the characters before the last 8 of a field must be blanks,
and the last 8 must read ``blanks, an optional '-', digits, '.', the block's number of decimals``.
Anything else (VASP's '*****' overflow, exponents, a damaged row, a number of 1000 or more in an f11.4
field) makes :func:`fixed_width_rows` return None for that sub-block, and the caller converts it with
``numpy.loadtxt`` instead. numpy releases the GIL in these bulk operations, so two threads convert two
pieces at once.
"""

from __future__ import annotations

import numpy as np

SUB_ROWS = 4096  # rows converted at a time: the uint64 temporaries stay in the core's L2 cache, and each
# numpy call works long enough (~10 us) that the threads seldom wait for the GIL, even on a loaded machine
_U = np.uint64
_ASCII0 = _U(0x3030303030303030)
_LOW_NIBBLES = _U(0x0F0F0F0F0F0F0F0F)
_SPACES_X = _U(0x1010101010101010)  # ' ' ^ '0' in every byte
_MINUS_X = _U(0x0D0D0D0D0D0D0D0D)  # ('-' ^ '0') ^ (' ' ^ '0') in every byte
_NOT_DIGIT_ADD, _HIGH_BITS = _U(0x7676767676767676), _U(0x8080808080808080)
_S8, _S7, _S16, _S32 = _U(8), _U(7), _U(16), _U(32)
_M1, _M2, _M3 = _U(0x00FF00FF00FF00FF), _U(0x0000FFFF0000FFFF), _U(0x00000000FFFFFFFF)
_ALL_INT = 0xFFFFFFFFFFFFFFFF
_ALL, _ALL_BLANK = _U(_ALL_INT), _U(0x2020202020202020)
_BYTE = [_U(0xFF << (8 * k)) for k in range(8)]


class _Layout:
    """Constants for an 8-character window whose decimal point is character `point` (1..6)."""

    def __init__(self, point: int):
        self.point, self.decimals = point, 7 - point
        self.scale = 10.0**self.decimals
        below = sum(_BYTE[k] for k in range(point))  # integer part: characters 0 .. point-1
        self.integer, self.fraction = _U(below), _U(sum(_BYTE[k] for k in range(point + 1, 8)))
        self.dot_mask, self.dot = _BYTE[point], _U(0x1E << (8 * point))  # '.' ^ '0' = 0x1E
        self.sign_region = _U(sum(_BYTE[k] for k in range(point - 1)) & int(_HIGH_BITS))  # may hold ' ', '-'
        self.digit_region = _U(int(_HIGH_BITS) & ~int(self.sign_region))  # characters point-1 .. 7
        self.dot_flag = _U(0x80 << (8 * point))
        self.last_step = _U((1000 if point == 3 else 10000) << 32 | 1)  # see _mantissa_over_scale
        # the usual number: blanks before its one integer digit (e.g. '  0.2275'), as characters ^ '0'
        fixed = sum(_BYTE[k] for k in range(point - 1)) | int(self.dot_mask)  # bytes that must be 0 after ^
        self.template_add = _U((0x7F7F7F7F7F7F7F7F & fixed) | (int(_NOT_DIGIT_ADD) & ~fixed))
        template = (int(_SPACES_X) & sum(_BYTE[k] for k in range(point - 1))) | int(self.dot)
        self.template_text = _U(template ^ int(_ASCII0))  # its characters


_LAYOUTS = {p: _Layout(p) for p in range(1, 7)}
_NONE = np.zeros(64, bool)  # no odd column (read only)
_NONE.flags.writeable = False


def fixed_width_rows(
    buf: bytes, ncols: int, groups: tuple | None = None, start: int = 0, end: int | None = None
) -> np.ndarray | None:
    """The <r> rows of buf[start:end] (whole lines; <set> lines anywhere) as (rows, ncols) float64, or with
    `groups` their sums over groups of columns (see :func:`sums_into`); None when they are not in one
    fixed-width layout (the caller then uses numpy.loadtxt)."""
    rows = FixedWidthRows.of(buf, ncols, start, len(buf) if end is None else end)
    if rows is None:
        return None
    out = np.empty((rows.n, *reduced_shape(ncols, groups)))
    return out if rows.convert_into(out, groups) else None


def reduced_shape(ncols: int, groups: tuple | None) -> tuple:
    """The shape of a row after :func:`sums_into`: (ncols,) unreduced, () for one group, else (groups,)."""
    return (ncols,) if groups is None else () if len(groups) == 1 else (len(groups),)


def sums_into(rows: np.ndarray, groups: tuple, out: np.ndarray) -> np.ndarray:
    """Sums of each row over each group of columns, as numpy sums them (``rows[:, group].sum(axis=1)``,
    bit for bit): out (n,) for one group, else (n, groups)."""
    for j, group in enumerate(groups):
        part = rows if len(group) == rows.shape[1] else np.ascontiguousarray(rows[:, list(group)])
        row_sums(part, out if len(groups) == 1 else out[:, j])
    return out


def l_columns(n_orbitals: int) -> list[list[int]]:
    """Orbital columns of each l (s, p, d[, f]): lm-decomposed (LORBIT 11/12: s, py, pz, px, dxy, ...) or
    l-decomposed (LORBIT 10: s, p, d[, f]), as pydefect tells them apart (more than 5 columns: lm)."""
    if n_orbitals > 5:
        return [[0], [1, 2, 3], [4, 5, 6, 7, 8], list(range(9, n_orbitals))][: 3 if n_orbitals <= 9 else 4]
    return [[i] for i in range(n_orbitals)]


class FixedWidthRows:
    """The row lines of a piece, all in the layout of the first one; ``n`` of them."""

    @classmethod
    def of(cls, buf, ncols: int, start: int, end: int) -> FixedWidthRows | None:
        """None when the lines are not all of one width, indentation and number of fields."""
        runs = _row_runs(buf, start, end)
        if runs is None:
            return None
        if not runs:
            return cls(b"", 0, 1, 0, 8, ncols, _LAYOUTS[3], False)
        first = bytes(buf[runs[0][0] : buf.index(b"\n", runs[0][0]) + 1])
        layout = _row_layout(first, ncols)
        if layout is None:
            return None
        width, c0, field, window = layout
        view = memoryview(buf)
        text = b"".join(view[a:b] for a, b in runs) if len(runs) > 1 else view[runs[0][0] : runs[0][1]]
        if len(text) % width or not _Frame(first, c0, c0 + field * ncols).matches(text, 0, len(text) // width):
            return None
        return cls(text, len(text) // width, width, c0, field, ncols, window, buf.find(b"-", start, end) >= 0)

    def __init__(self, text, n, width, c0, field, ncols, layout, signed):
        self.text, self.n, self.width, self.c0, self.field = text, n, width, c0, field
        self.ncols, self.layout, self.signed = ncols, layout, signed

    def convert_into(self, out: np.ndarray, groups: tuple | None = None) -> bool:
        """The numbers into out (n, ncols), or with `groups` their sums (:func:`sums_into`); False (out
        partly written) if a character is off. Columns that are not all the usual number (see
        :func:`_convert`) are converted once more by the general check."""
        scratch = _Scratch((min(SUB_ROWS, self.n), self.ncols))
        for i in range(0, self.n, SUB_ROWS):
            n = min(SUB_ROWS, self.n - i)
            dest = scratch.values[:n] if groups is not None else out[i : i + n]
            here = _convert(self.text, i, n, self.width, self.c0, self.field, self.ncols, self.layout, scratch, dest)
            if here is None or (here.any() and not self._general_into(dest, scratch.f[:n], here)):
                return False
            if groups is not None:
                sums_into(dest, groups, out[i : i + n])
        return True

    def _general_into(self, dest, fields, columns) -> bool:
        """The given columns (bool) of fields (uint64, as read by :func:`_convert`) by the general check."""
        columns = np.flatnonzero(columns)
        values = _general(
            fields[:, columns], self.layout, self.signed, self.field == 8, np.empty((len(fields), len(columns)))
        )
        if values is None:
            return False
        dest[:, columns] = values
        return True


def row_sums(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """rows.sum(axis=1, out=out), bit for bit, by column additions: numpy's sum of a short row is ~20x
    dearer than the additions. numpy adds a row of n < 8 numbers in order to 0.0, and one of 8 <= n < 128
    in 8 partial sums, 0.0 + ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)), the rest added in order.
    Checked once per width against numpy itself (negative zeros included); numpy's sum is used if a numpy
    version adds otherwise."""
    ncols = rows.shape[1]
    if ncols not in _SUMS_AS_NUMPY:
        sample = np.random.default_rng(0).random((257, ncols)) * 10.0 ** np.arange(-4, ncols - 4)
        sample[::3, :] = -0.0
        _SUMS_AS_NUMPY[ncols] = _column_sums(sample, np.empty(257)).tobytes() == sample.sum(axis=1).tobytes()
    return _column_sums(rows, out) if _SUMS_AS_NUMPY[ncols] else rows.sum(axis=1, out=out)


_SUMS_AS_NUMPY: dict[int, bool] = {}


def _column_sums(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    ncols = rows.shape[1]
    if ncols < 8 or ncols >= 128:
        if ncols >= 128:
            return rows.sum(axis=1, out=out)
        out.fill(0.0)  # numpy starts from 0.0 (which turns a sum of -0.0 into 0.0)
        for j in range(ncols):
            out += rows[:, j]
        return out
    part = [rows[:, j].copy() for j in range(8)]
    blocks = ncols - ncols % 8
    for i in range(8, blocks, 8):
        for j in range(8):
            part[j] += rows[:, i + j]
    for a, b in ((0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (4, 6), (0, 4)):
        part[a] += part[b]
    np.add(part[0], 0.0, out=out)
    for j in range(blocks, ncols):
        out += rows[:, j]
    return out


def _row_runs(buf, start: int, end: int) -> list[tuple[int, int]] | None:
    """(start, end) byte ranges of the row lines between <set ...> / </set> lines; None if a line with an
    'e' (only set lines have one: 'set', 'comment') is not a set line."""
    runs = []
    while (e := buf.find(b"e", start, end)) >= 0:
        line = buf.rfind(b"\n", start, e) + 1 or start
        stop = buf.find(b"\n", e, end) + 1 or end
        if buf.find(b"set", line, stop) < 0:
            return None
        if line > start:
            runs.append((start, line))
        start = stop
    while end > start and buf[end - 1] in b" \t":  # the last piece of an array ends with the indentation of </array>
        end -= 1
    if end > start:
        runs.append((start, end))
    return runs


def _row_layout(first: bytes, ncols: int):
    """(line width, first field column, field width, point layout) of a row line like the first one."""
    c0 = first.find(b"<r>") + 3
    c1 = first.rfind(b"</r>")
    if c0 < 3 or c1 < c0 or not first.endswith(b"\n") or not 0 < ncols <= len(_NONE):
        return None
    c1 = len(first[:c1].rstrip(b" "))  # fields end at the last digit; the blanks before </r> are suffix
    span = c1 - c0
    if span <= 0 or span % ncols:
        return None
    field = span // ncols
    if not 8 <= field <= 16 or (field > 8 and c0 + field < 16):  # the blanks before the last 8: one word
        return None
    window = first[c0 + field - 8 : c0 + field]
    point = window.find(b".")
    if point not in _LAYOUTS:
        return None
    return len(first), c0, field, _LAYOUTS[point]


class _Frame:
    """The bytes around the fields of a row line (indentation, <r>, </r>, newline), compared as 8-byte words
    (read unaligned, one per line) with those of the first row."""

    def __init__(self, first: bytes, c0: int, c1: int):
        self.width = len(first)
        starts = list(range(0, c0 - 8, 8)) + [c0 - 8] if c0 >= 8 else []
        self.words = [(o, _ALL, int.from_bytes(first[o : o + 8], "little")) for o in starts]
        tail = self.width - 8  # the last word: end of the last field (masked out) and the suffix
        keep = _U((1 << 64) - (1 << (8 * (c1 - tail)))) if c1 > tail else _ALL
        self.words.append((tail, keep, int.from_bytes(first[tail:], "little") & int(keep)))
        self.short_prefix = first[:c0] if c0 < 8 else None

    def matches(self, text, first_line: int, n: int) -> bool:
        base = first_line * self.width
        if self.short_prefix is not None:
            lines = np.frombuffer(text, np.uint8, n * self.width, base).reshape(n, self.width)
            if not (lines[:, : len(self.short_prefix)] == np.frombuffer(self.short_prefix, np.uint8)).all():
                return False
        for offset, keep, expected in self.words:
            words = np.ndarray((n,), "<u8", text, base + offset, (self.width,))
            if ((words & keep) != _U(expected)).any():
                return False
        return True


class _Scratch:
    """uint64 work arrays for one sub-block (allocated once per piece: no allocation per operation)."""

    def __init__(self, shape):
        self.f, self.v, self.t, self.x = (np.empty(shape, _U) for _ in range(4))
        self.values = np.empty(shape)


def _convert(text, line0: int, n: int, width: int, c0: int, field: int, ncols: int, layout: _Layout, scratch, dest):
    """The fields of the n row lines of text from line line0 as the usual number (e.g. '  0.2275': blanks,
    one integer digit, the point, the decimals) -> dest (n, ncols) float64. Returns the columns (bool) where
    a field is not that (their values in dest are wrong: the caller converts them again by the general
    check), or None if a field is not even blanks followed by its last 8 characters. A field's last 8
    characters are one (unaligned) uint64 of the text."""
    base = line0 * width
    f, t, x = scratch.f[:n], scratch.t[:n], scratch.x[:n]
    f[...] = np.ndarray((n, ncols), "<u8", text, base + c0 + field - 8, (width, field))
    if field > 8:  # the characters before the last 8 are blanks (the 8 bytes before those, masked)
        np.copyto(x, np.ndarray((n, ncols), "<u8", text, base + c0 + field - 16, (width, field)))
        x &= layout_high(field)
        if (x != (_ALL_BLANK & layout_high(field))).any():
            return None
    np.bitwise_xor(f, layout.template_text, out=x)  # the digit values, 0 for the template's blanks and point
    np.add(x, layout.template_add, out=t)  # 0x80 set in a digit's byte above 9, in a blank's or point's above 0
    t |= x  # (and in any byte above 0x7F: a carry out of such a byte only sets more flags)
    t &= _HIGH_BITS
    odd = np.bitwise_or.reduce(t, axis=0) != 0 if t.any() else _NONE[:ncols]
    _mantissa_over_scale(x, t, layout, dest)
    return odd


def _general(f, layout: _Layout, signed: bool, first_blank: bool, dest):
    """Fields (uint64: their last 8 characters) -> dest, or None: blanks, an optional '-' and digits before
    the last integer digit, then the point and the decimals."""
    v = f ^ _ASCII0  # digits -> 0..9, ' ' -> 0x10, '-' -> 0x1D, '.' -> 0x1E
    t = v + _NOT_DIGIT_ADD
    t |= v
    t &= _HIGH_BITS  # 0x80 in every byte that is not a digit
    blanks = t & layout.sign_region
    blanks >>= _S7
    blanks *= _U(0xFF)  # 0xFF in the non-digits before the last integer digit: blanks and a '-'
    t &= layout.digit_region
    t ^= layout.dot_flag  # from the last integer digit on, exactly one non-digit: the point
    x = blanks + _U(1)
    x &= blanks
    t |= x  # the non-digits before the number are a prefix
    np.bitwise_or(blanks, layout.dot_mask, out=x)
    x &= v
    x ^= (blanks & _SPACES_X) | layout.dot  # 0 for a blank and for the point, 0x0D for a '-'
    negative = x != 0
    if signed:
        minus = blanks >> _S8
        minus ^= blanks
        minus &= _MINUS_X  # where a '-' may be: the last non-digit before the number
        x ^= minus
        x *= negative
    t |= x
    if first_blank:  # a field of 8 characters starts with a blank (else it is glued to the one before)
        t |= (v & _U(0xFF)) ^ _U(0x10)
    if t.any():
        return None
    np.bitwise_and(v, _LOW_NIBBLES & ~layout.dot_mask, out=x)  # digit values, blanks and the point -> 0
    blanks ^= _ALL
    x &= blanks  # and the '-'
    values = _mantissa_over_scale(x, t, layout, dest)
    np.negative(values, out=values, where=negative)
    return values


def _mantissa_over_scale(x, t, layout: _Layout, values):
    """x: digit values by character (0 in the point and blanks) -> the numbers (x and t are overwritten).

    Three multiply-shift-mask steps make pairs of digits, then groups of 4: with the point as character 3
    (VASP's 4 decimals) the first group is 10x the integer part, so the last step takes it 1000 times; a
    point elsewhere is first removed (the integer digits moved up over it)."""
    if layout.point != 3:
        np.bitwise_and(x, layout.integer, out=t)
        t *= _U(255)
        x += t  # the integer digits moved up by one byte, over the point: 8 digits with a leading 0
    x *= _U(2561)  # 10 << 8 | 1: pairs of digits
    x >>= _S8
    x &= _M1
    x *= _U(6553601)  # 100 << 16 | 1: groups of 4
    x >>= _S16
    x &= _M2
    x *= layout.last_step  # the mantissa, an exact integer < 10**7
    x >>= _S32
    np.divide(x.view(np.int64), layout.scale, out=values)  # exact integer / 10**decimals: correctly rounded
    return values


def layout_high(field: int):
    """Mask of the bytes of the uint64 that ends 8 characters before a field's end which are in the field."""
    return _U(_ALL_INT & ~((1 << (8 * (16 - field))) - 1)) if field < 16 else _ALL
