"""Vectorised fixed-point formatting for the big arrays (DOS, projections, eigenvalues).

Formatting hundreds of millions of numbers with Python's '%' would dominate a 256-atom run, so the
digits are produced with integer arithmetic on whole numpy arrays and emitted as bytes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_DIGITS = np.frombuffer(b"0123456789", np.uint8)


def fixed(values, width: int, decimals: int) -> np.ndarray:
    """Right-aligned '%{width}.{decimals}f' of every value as a uint8 array of shape (n, width).

    Values that do not fit are written as asterisks, as Fortran does; a negative value that rounds to
    zero is written without its sign.  Digits come from lookup tables (integer parts up to 9999, all
    fractional parts), so formatting costs a few table gathers per number; larger integer parts take
    the digit-by-digit path below.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    signed = x * float(10**decimals)
    np.rint(signed, out=signed)
    if x.size and signed.max() <= SMALL and signed.min() >= -SMALL:  # two reductions, no temporaries
        index = signed.astype(np.int64)
        index += SMALL
        return _field_table(width, decimals)[index].view(np.uint8).reshape(-1, width)
    scaled = np.abs(signed).astype(np.int64)
    neg = (x < 0) & (scaled > 0)
    int_part, frac_part = np.divmod(scaled, 10**decimals)
    int_width = width - decimals - (1 if decimals > 0 else 0)
    out = np.empty((x.size, width), np.uint8)
    if decimals > 0:
        out[:, int_width] = ord(".")
        end = width
        while end > int_width + 1:  # fractional digits, four at a time from the right
            n = min(4, end - int_width - 1)
            frac_part, chunk = np.divmod(frac_part, 10**n)
            out[:, end - n : end] = _fraction_table(n)[chunk]
            end -= n
    if int_width <= 0:
        out[:] = ord("*")
        return out
    positive, negative, limit = _integer_tables(int_width)
    small = (int_part >= 0) & (int_part <= limit)
    ip = np.where(small, int_part, 0)
    out[:, :int_width] = np.where(neg[:, None], negative[ip], positive[ip])
    out[neg & small & (negative[ip, 0] == ord("*"))] = ord("*")
    big = np.nonzero(~small)[0]
    if len(big):
        out[big] = _fixed_digits(x[big], width, decimals)
    return out


SMALL = 20000  # |value| * 10**decimals up to this is formatted by one gather from a table of whole fields


@lru_cache(maxsize=16)
def _field_table(width: int, decimals: int) -> np.ndarray:
    """Whole fields for the values -SMALL .. SMALL (in units of 10**-decimals): (2 SMALL + 1, width)."""
    n = np.arange(-SMALL, SMALL + 1)
    table = np.ascontiguousarray(_fixed_digits(n / 10**decimals, width, decimals))
    return table.view(np.dtype((np.void, width))).ravel()  # one element per field: 1-D gathers are fast


@lru_cache(maxsize=8)
def _fraction_table(decimals: int) -> np.ndarray:
    """Zero-padded digits of 0 .. 10**decimals - 1 (decimals <= 4): (10**decimals, decimals)."""
    return np.frombuffer("".join(f"{i:0{decimals}d}" for i in range(10**decimals)).encode(), np.uint8).reshape(
        -1, decimals
    )


@lru_cache(maxsize=8)
def _integer_tables(int_width: int):
    """Right-aligned integer parts 0 .. limit with and without a minus sign (asterisks if it cannot fit)."""
    limit = min(9999, 10**int_width - 1)
    pos = "".join(f"{i:>{int_width}d}" for i in range(limit + 1))
    neg = "".join(
        f"{'-' + str(i):>{int_width}}" if len(str(i)) < int_width else "*" * int_width for i in range(limit + 1)
    )
    shape = (limit + 1, int_width)
    return (
        np.frombuffer(pos.encode(), np.uint8).reshape(shape),
        np.frombuffer(neg.encode(), np.uint8).reshape(shape),
        limit,
    )


def _fixed_digits(x: np.ndarray, width: int, decimals: int) -> np.ndarray:
    """Digit-by-digit '%{width}.{decimals}f' (any magnitude), asterisks when it does not fit."""
    scaled = np.rint(np.abs(x) * 10**decimals).astype(np.int64)
    neg = (x < 0) & (scaled > 0)
    out = np.full((x.size, width), ord(" "), np.uint8)
    frac_part = scaled % 10**decimals
    int_part = scaled // 10**decimals
    pos = width - 1
    for _ in range(decimals):
        out[:, pos] = _DIGITS[frac_part % 10]
        frac_part //= 10
        pos -= 1
    if decimals > 0:
        out[:, pos] = ord(".")
        pos -= 1
    ndig = np.maximum(1, np.floor(np.log10(np.maximum(int_part, 1))).astype(int) + 1)
    ip = int_part.copy()
    maxdig = int(ndig.max()) if x.size else 1
    for d in range(maxdig):
        col = pos - d
        if col < 0:
            break
        write = d < ndig
        out[write, col] = _DIGITS[ip[write] % 10]
        ip //= 10
    sign_col = pos - ndig
    ok_neg = neg & (sign_col >= 0)
    out[np.nonzero(ok_neg)[0], sign_col[ok_neg]] = ord("-")
    too_long = (ndig > pos + 1) | (neg & (ndig > pos))
    out[too_long] = ord("*")
    return out


def rows(matrix, width: int, decimals: int, prefix: bytes = b"", suffix: bytes = b"\n") -> bytes:
    """Lines 'prefix' + fixed fields + 'suffix' for every row of a 2-D array."""
    m = np.asarray(matrix)
    if m.ndim == 1:
        m = m[:, None]
    nrow, ncol = m.shape
    pre, suf = len(prefix), len(suffix)
    out = np.empty((nrow, pre + ncol * width + suf), np.uint8)
    if pre:
        out[:, :pre] = np.frombuffer(prefix, np.uint8)
    out[:, pre : pre + ncol * width] = fixed(m, width, decimals).reshape(nrow, ncol * width)
    if suf:
        out[:, pre + ncol * width :] = np.frombuffer(suffix, np.uint8)
    return out.tobytes()


def _mantissa_digits(value: float, decimals: int) -> tuple[int, int]:
    """|value| = 0.<digits> x 10**exp with `decimals` digits, rounded (a carry moves into the exponent)."""
    exp = int(np.floor(np.log10(abs(value)))) + 1
    digits = int(round(abs(value) / 10**exp * 10**decimals))
    if digits >= 10**decimals:
        digits //= 10
        exp += 1
    return digits, exp


def fortran_e(value: float, decimals: int = 8) -> str:
    """Fortran E format without a leading zero, e.g. -.20659772E+03 (as VASP writes OSZICAR)."""
    if value == 0:
        return "0." + "0" * decimals + "E+00"
    digits, exp = _mantissa_digits(value, decimals)
    sign = "-" if value < 0 else "0"
    return f"{sign}.{digits:0{decimals}d}E{exp:+03d}"


def fortran_e0(value: float, decimals: int = 12) -> str:
    """Fortran E with a leading '0.' mantissa, e.g. -0.206597721093E+03 (OSZICAR electronic lines)."""
    if value == 0:
        return "0." + "0" * decimals + "E+00"
    digits, exp = _mantissa_digits(value, decimals)
    sign = "-" if value < 0 else " "
    return f"{sign}0.{digits:0{decimals}d}E{exp:+03d}"


_POW10 = 10.0 ** np.arange(-140, 141, dtype=np.float64)


def fortran_e_array(values, decimals: int = 11) -> np.ndarray:
    """`fortran_e` of every value as a uint8 array (n, decimals + 6): '0.dddE+xx', '-.dddE+xx' (E17.11 for 11).

    Vectorised for the volumetric files (millions of values); exponents beyond two digits, which the
    model's fields never reach, are clipped to +-99.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    a = np.abs(x)
    nonzero = a > 0
    safe = np.where(nonzero, a, 1.0)
    exp = np.floor(np.log10(safe)).astype(np.int64) + 1
    np.clip(exp, -120, 120, out=exp)
    scale = _POW10[decimals - exp + 140]  # 10**(decimals - exp) from a table (no per-value pow)
    digits = np.rint(safe * scale).astype(np.int64)
    for _ in range(2):  # log10 rounding: bring digits into [10**(decimals-1), 10**decimals)
        over = digits >= 10**decimals
        under = digits < 10 ** (decimals - 1)
        fix = (over | under) & nonzero
        if not fix.any():
            break
        exp[fix] += np.where(over[fix], 1, -1)
        digits[fix] = np.rint(safe[fix] * _POW10[decimals - exp[fix] + 140]).astype(np.int64)
    digits[~nonzero] = 0
    exp[~nonzero] = 0
    exp = np.clip(exp, -99, 99)
    width = decimals + 6
    out = np.empty((x.size, width), np.uint8)
    out[:, 0] = np.where(x < 0, ord("-"), ord("0"))
    out[:, 1] = ord(".")
    end = 2 + decimals
    rest = digits
    while end > 2:
        n = min(4, end - 2)
        rest, chunk = np.divmod(rest, 10**n)
        out[:, end - n : end] = _fraction_table(n)[chunk]
        end -= n
    out[:, decimals + 2] = ord("E")
    out[:, decimals + 3] = np.where(exp < 0, ord("-"), ord("+"))
    out[:, decimals + 4 :] = _fraction_table(2)[np.abs(exp)]
    return out
