"""Vectorised fixed-point formatting for the big arrays (DOS, projections, eigenvalues).

Formatting hundreds of millions of numbers with Python's '%' would dominate a 256-atom run, so the
digits are produced with integer arithmetic on whole numpy arrays and emitted as bytes.
"""

from __future__ import annotations

import numpy as np

_DIGITS = np.frombuffer(b"0123456789", np.uint8)


def fixed(values, width: int, decimals: int) -> np.ndarray:
    """Right-aligned '%{width}.{decimals}f' of every value as a uint8 array of shape (n, width).

    Values that do not fit are written as asterisks, as Fortran does.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
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
    over = (sign_col < 0) | ((sign_col < 0) & neg) | (neg & (sign_col < 0))
    ok_neg = neg & (sign_col >= 0)
    out[np.nonzero(ok_neg)[0], sign_col[ok_neg]] = ord("-")
    too_long = (ndig > pos + 1) | (neg & (ndig > pos))
    out[too_long | over & neg] = ord("*")
    return out


def rows(matrix, width: int, decimals: int, prefix: bytes = b"", suffix: bytes = b"\n") -> bytes:
    """Lines 'prefix' + fixed fields + 'suffix' for every row of a 2-D array."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    nrow, ncol = m.shape
    body = fixed(m, width, decimals).reshape(nrow, ncol * width)
    parts = []
    if prefix:
        parts.append(np.tile(np.frombuffer(prefix, np.uint8), (nrow, 1)))
    parts.append(body)
    if suffix:
        parts.append(np.tile(np.frombuffer(suffix, np.uint8), (nrow, 1)))
    return np.hstack(parts).tobytes()


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
