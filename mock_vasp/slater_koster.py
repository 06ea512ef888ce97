"""Two-centre Slater-Koster hopping blocks for s, p and d orbitals, written so they can be differentiated.

Orbital order follows VASP's lm-decomposed projections: s; py, pz, px; dxy, dyz, dz2, dxz, x2-y2.
Instead of the 14-line Slater-Koster table the blocks are built from rotation-invariant projectors
(sigma part = product of the two orbitals' values along the bond axis, pi part = the components
perpendicular to it, delta = the rest of the d-d block), which is algebraically the same table but
contains only polynomials of the bond direction. Every function here accepts complex bond vectors, so
forces come out exact to machine precision by complex-step differentiation (see `block_derivatives`).
"""

from __future__ import annotations

import numpy as np

SQ3 = np.sqrt(3.0)

# real d harmonics as quadratic forms y_a(u) = u^T Q_a u, order dxy, dyz, dz2, dxz, x2-y2
_Q = np.zeros((5, 3, 3))
_Q[0, 0, 1] = _Q[0, 1, 0] = SQ3 / 2  # xy
_Q[1, 1, 2] = _Q[1, 2, 1] = SQ3 / 2  # yz
_Q[2] = np.diag([-0.5, -0.5, 1.0])  # z2
_Q[3, 0, 2] = _Q[3, 2, 0] = SQ3 / 2  # xz
_Q[4] = np.diag([SQ3 / 2, -SQ3 / 2, 0.0])  # x2-y2
_P_ORDER = [1, 2, 0]  # p orbitals in VASP order py, pz, px as Cartesian indices

ORBITALS = {"s": ["s"], "p": ["py", "pz", "px"], "d": ["dxy", "dyz", "dz2", "dxz", "x2-y2"]}
NORB = {"s": 1, "p": 3, "d": 5}


def _d_values(u):
    """y_a(u) for the five d orbitals; u has shape (..., 3)."""
    return np.einsum("...i,aij,...j->...a", u, _Q, u)


def _d_pi_vectors(u):
    """(I - u u^T) Q_a u: the pi components of each d orbital, shape (..., 3, 5)."""
    qu = np.einsum("aij,...j->...ia", _Q, u)  # (..., 3, 5)
    proj = qu - u[..., :, None] * np.einsum("...i,...ia->...a", u, qu)[..., None, :]
    return proj


def _p_pi(u):
    """I - u u^T in Cartesian order, shape (..., 3, 3)."""
    eye = np.eye(3)
    return eye - u[..., :, None] * u[..., None, :]


def angular_blocks(la: str, lb: str, u):
    """Angular factors S_m(u) so that T_ab = sum_m V_m S_m; returns dict m -> array (..., na, nb).

    `u` is the unit vector from the atom carrying orbital a to the atom carrying orbital b.
    Blocks are only provided for la <= lb in the order s < p < d; the caller transposes.
    """
    out = {}
    if la == "s" and lb == "s":
        out["sigma"] = np.ones(u.shape[:-1] + (1, 1), dtype=u.dtype)
    elif la == "s" and lb == "p":
        out["sigma"] = u[..., None, _P_ORDER]
    elif la == "s" and lb == "d":
        out["sigma"] = _d_values(u)[..., None, :]
    elif la == "p" and lb == "p":
        uu = u[..., :, None] * u[..., None, :]
        out["sigma"] = uu[..., _P_ORDER, :][..., :, _P_ORDER]
        out["pi"] = _p_pi(u)[..., _P_ORDER, :][..., :, _P_ORDER]
    elif la == "p" and lb == "d":
        y = _d_values(u)
        out["sigma"] = (u[..., :, None] * y[..., None, :])[..., _P_ORDER, :]
        out["pi"] = (2.0 / SQ3) * _d_pi_vectors(u)[..., _P_ORDER, :]
    elif la == "d" and lb == "d":
        y = _d_values(u)
        sig = y[..., :, None] * y[..., None, :]
        v = _d_pi_vectors(u)  # (...,3,5)
        pi = (4.0 / 3.0) * np.einsum("...ia,...ib->...ab", v, v)
        out["sigma"] = sig
        out["pi"] = pi
        out["delta"] = np.eye(5) - sig - pi
    else:
        raise ValueError(f"no Slater-Koster block for {la}-{lb}")
    return out


def hopping_blocks(la: str, lb: str, d, radial):
    """Hopping blocks T(d) (shape (nb, na_orb, nb_orb)) for bond vectors d from atom a to atom b.

    `radial` maps "sigma"/"pi"/"delta" to a function V_m(r) that accepts complex r.
    Orbital a sits on the first atom of the bond.  Blocks with la > lb are obtained from the
    transposed pair using T_ab(d) = (-1)^(l_a + l_b) T_ba(d)^T.
    """
    order = {"s": 0, "p": 1, "d": 2}
    if order[la] > order[lb]:
        t = hopping_blocks(lb, la, d, radial)
        sign = (-1) ** (order[la] + order[lb])
        return sign * np.swapaxes(t, -1, -2)
    r = np.sqrt(np.sum(d * d, axis=-1))
    u = d / r[..., None]
    ang = angular_blocks(la, lb, u)
    total = None
    for m, s in ang.items():
        term = radial[m](r)[..., None, None] * s
        total = term if total is None else total + term
    return total


def block_derivatives(la: str, lb: str, d, radial, h: float = 1e-20):
    """Exact derivatives dT/dd_c (shape (nb, 3, na_orb, nb_orb)) by complex-step differentiation."""
    d = np.asarray(d, dtype=float)
    out = []
    for c in range(3):
        dc = d.astype(complex)
        dc[:, c] += 1j * h
        out.append(hopping_blocks(la, lb, dc, radial).imag / h)
    return np.stack(out, axis=1)
