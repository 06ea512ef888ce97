"""Screened electrostatics of charged defects: Gaussian charges in a neutralising background.

The net charge of a cell, q = sum(ZVAL) - NELECT, is carried by its defect sites, found from the
geometry alone: W atoms with fewer than six O neighbours (weight = number of missing O) and every
H atom (weight 1).  Each site holds a Gaussian charge of width `sigma` (Angstrom); the cell is
neutralised by a uniform background and everything is screened by one dielectric constant
`eps_eff`.  With Gaussian charges the Ewald sum needs only its reciprocal-space part:

    phi(r) = (4 pi / (V eps)) sum_{G != 0} sum_d Q_d exp(-G^2 sigma^2 / 2) cos(G.(r - r_d)) / G^2

An electron at atom i feels U_i = -e phi(r_i) (VASP's sign convention for potentials: a positive
defect lowers the potential energy of electrons around it), which is added to every on-site energy of
that atom, and the defect charges interact with each other through
E_q = (2 pi / (V eps)) sum_G |S(G)|^2 exp(-G^2 sigma^2) / G^2 (self-energy and background included,
so charged cells show the finite-size dependence real codes have).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, erfcinv

COULOMB = 14.399645  # e^2 / (4 pi eps0) in eV * Angstrom


def defect_sites(lattice, frac, species, bond_cutoff: float) -> np.ndarray:
    """Weights of the defect sites: missing O neighbours of each W, 1 for each H, 0 elsewhere."""
    from mock_vasp.neighbours import all_pairs

    spec = np.array(species)
    pairs = all_pairs(lattice, frac, bond_cutoff)
    w = np.zeros(len(species))
    wo = (spec[pairs.i] == "W") & (spec[pairs.j] == "O")
    cn = np.bincount(pairs.i[wo], minlength=len(species))
    is_w = spec == "W"
    w[is_w] = np.clip(6 - cn[is_w], 0, None)
    w[spec == "H"] = 1.0
    return w


def gvectors(lattice: np.ndarray, sigma: float, tol: float = 1e-12) -> np.ndarray:
    """Integer (h, k, l) of the half sphere of G != 0 where exp(-G^2 sigma^2/2) > tol."""
    recip = 2 * np.pi * np.linalg.inv(lattice).T
    gmax = np.sqrt(-2.0 * np.log(tol)) / sigma
    nmax = np.ceil(gmax * np.linalg.norm(lattice, axis=1) / (2 * np.pi)).astype(int)
    rng = [np.arange(-n, n + 1) for n in nmax]
    hkl = np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3)
    # half sphere: keep the first nonzero component positive
    first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    hkl = hkl[first > 0]
    g = hkl @ recip
    return hkl[np.einsum("ij,ij->i", g, g) < gmax * gmax]


class DefectField:
    """Potential of the defect charges at arbitrary points, its gradients and the charge energy.

    Evaluated by an Ewald split of the Gaussian kernel f_s (s = sigma for the potential of a charge,
    s = sqrt(2) sigma for the energy between two charges) at the width ETA > s:

        f_s(r) = sum_T g(|r + T|) - 2 pi (ETA^2 - s^2) / V + sum_{G != 0} (4 pi / V) exp(-G^2 ETA^2 / 2) cos(G.r) / G^2
        g(R) = [erf(R / (sqrt2 s)) - erf(R / (sqrt2 ETA))] / R

    an exact identity for the G-space sums above (the real-space part is short-ranged, the G-space part
    needs few G), so the numbers are those of the plain G-space sum at a fraction of its cost.
    """

    ETA = 1.6  # Angstrom, Ewald splitting width
    TOL = 1e-12  # cut-off of exp(-G^2 ETA^2 / 2) and of erfc in real space

    def __init__(
        self,
        lattice,
        charges: np.ndarray,
        centres_frac: np.ndarray,
        sigma: float,
        eps: float,
        hkl: np.ndarray | None = None,
        electron_eps: np.ndarray | None = None,
        electron_sigma: np.ndarray | None = None,
    ):
        self.lattice = np.asarray(lattice, float)
        self.q = np.asarray(charges, float)
        # the charges as the electrons feel them: q_d eps / eps_d, in groups of one Gaussian width (a site's own
        # well: params.yaml defect_charge.electron_well); the charges' energy among themselves E_q keeps eps, sigma
        scale = 1.0 if electron_eps is None else eps / np.asarray(electron_eps, float)
        self.q_electron = self.q * scale
        widths = np.full(len(self.q), float(sigma)) if electron_sigma is None else np.asarray(electron_sigma, float)
        self.electron_groups = [(w, np.nonzero(widths == w)[0]) for w in np.unique(widths)]
        self.centres = np.asarray(centres_frac, float)
        self.sigma = sigma
        self.eps = eps
        self.hkl = gvectors(self.lattice, self.ETA, self.TOL) if hkl is None else hkl
        recip = 2 * np.pi * np.linalg.inv(self.lattice).T
        self.g = self.hkl @ recip
        self.g2 = np.einsum("ij,ij->i", self.g, self.g)
        self.volume = abs(np.linalg.det(self.lattice))
        self.active = len(self.q) > 0 and np.any(self.q != 0)
        widest = max([self.ETA, sigma] + [w for w, _ in self.electron_groups])
        self.r_cut = np.sqrt(2.0) * widest * erfcinv(self.TOL)
        self.images = _images(self.lattice, self.r_cut)

    # --------------------------------------------------------------------------- Ewald pieces
    def _real_pairs(self, points: np.ndarray, centres: np.ndarray):
        """(point index, centre index, Cartesian separation r_point - r_centre + T) within r_cut."""
        ii, dd, vv = [], [], []
        tvec = self.images @ self.lattice
        for d, c in enumerate(centres):
            delta = points - c
            delta -= np.round(delta)
            vec = (delta @ self.lattice)[:, None, :] + tvec[None, :, :]  # (n, nT, 3)
            r2 = np.einsum("itc,itc->it", vec, vec)
            i, t = np.nonzero(r2 < self.r_cut**2)
            ii.append(i)
            dd.append(np.full(len(i), d))
            vv.append(vec[i, t])
        if not ii:
            return np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3))
        return np.concatenate(ii), np.concatenate(dd), np.concatenate(vv)

    def _g(self, r: np.ndarray, s: float, derivative: bool):
        """g(R) = [erf(R/sqrt2 s) - erf(R/sqrt2 ETA)] / R and dg/dR (its R -> 0 limit at R = 0)."""
        a, b = np.sqrt(2.0) * s, np.sqrt(2.0) * self.ETA
        small = r < 1e-8
        rs = np.where(small, 1.0, r)
        diff = erf(rs / a) - erf(rs / b)
        g = np.where(small, np.sqrt(2.0 / np.pi) * (1.0 / s - 1.0 / self.ETA), diff / rs)
        if not derivative:
            return g, None
        dg = (2.0 / np.sqrt(np.pi)) * (np.exp(-((rs / a) ** 2)) / a - np.exp(-((rs / b) ** 2)) / b) / rs - diff / rs**2
        return g, np.where(small, 0.0, dg)

    def _phases(self, frac: np.ndarray) -> np.ndarray:
        return np.exp(2j * np.pi * (np.asarray(frac, float) @ self.hkl.T))  # e^{iG.r}, (n, nG)

    def _kernel_g(self) -> np.ndarray:
        return 4 * np.pi / self.volume * np.exp(-0.5 * self.g2 * self.ETA**2) / self.g2  # half sphere

    def interaction(self, points, w_points, centres, w_centres, s: float, derivatives: bool = True):
        """E = sum_i sum_d w_i w_d f_s(r_i - r_d) (no 1/eps), dE/dr_i (n, 3), dE/dr_d (nd, 3) and the
        virial dE/d(strain) (3, 3) at fixed fractional coordinates; Ewald split as in the class doc."""
        points, centres = np.asarray(points, float), np.asarray(centres, float)
        w_points, w_centres = np.asarray(w_points, float), np.asarray(w_centres, float)
        i, d, vec = self._real_pairs(points, centres)
        r = np.sqrt(np.einsum("pc,pc->p", vec, vec))
        g, dg = self._g(r, s, derivatives)
        ww = w_points[i] * w_centres[d]
        const = -2 * np.pi * (self.ETA**2 - s**2) / self.volume
        kern = self._kernel_g()
        a_sf = self._phases(points).T @ w_points  # A(G) = sum_i w_i e^{iG.r_i}
        b_sf = self._phases(centres).T @ w_centres
        cross = (a_sf * np.conj(b_sf)).real
        energy = float(np.sum(ww * g)) + const * w_points.sum() * w_centres.sum() + 2.0 * float(kern @ cross)
        if not derivatives:
            return energy, None, None, None
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = np.where(r[:, None] > 1e-8, vec / np.where(r > 1e-8, r, 1.0)[:, None], 0.0)
        pair = (ww * dg)[:, None] * unit  # d(term)/d r_i
        grad_p = np.zeros((len(points), 3))
        grad_c = np.zeros((len(centres), 3))
        np.add.at(grad_p, i, pair)
        np.add.at(grad_c, d, -pair)
        ep = self._phases(points)
        ec = self._phases(centres)
        grad_p += -2.0 * w_points[:, None] * ((ep * np.conj(b_sf)[None, :]).imag * kern) @ self.g
        grad_c += 2.0 * w_centres[:, None] * ((a_sf[None, :] * np.conj(ec)).imag * kern) @ self.g
        virial = np.einsum("p,pa,pb->ab", ww * dg * np.where(r > 1e-8, 1.0 / np.where(r > 1e-8, r, 1.0), 0.0), vec, vec)
        virial -= const * w_points.sum() * w_centres.sum() * np.eye(3)
        shape = 2.0 * kern * cross
        virial += -np.sum(shape) * np.eye(3) + np.einsum(
            "g,ga,gb->ab", shape * (self.ETA**2 + 2.0 / self.g2), self.g, self.g
        )
        return energy, grad_p, grad_c, virial

    # ----------------------------------------------------------------------------------- API
    def electron_potential(self, points_frac: np.ndarray) -> np.ndarray:
        """U(r) = -e phi(r) in eV at the given fractional points (each group of centres with its width)."""
        points = np.asarray(points_frac, float)
        if not self.active:
            return np.zeros(len(points))
        phi = np.zeros(len(points))
        phases, kernel = self._phases(points), self._kernel_g()  # shared by every group
        for width, idx in self.electron_groups:
            centres, q = self.centres[idx], self.q_electron[idx]
            i, d, vec = self._real_pairs(points, centres)
            g, _ = self._g(np.sqrt(np.einsum("pc,pc->p", vec, vec)), width, False)
            phi += np.bincount(i, weights=g * q[d], minlength=len(points))
            phi += -2 * np.pi * (self.ETA**2 - width**2) / self.volume * q.sum()
            b_sf = self._phases(centres).T @ q
            phi += 2.0 * ((phases * np.conj(b_sf)[None, :]).real @ kernel)
        return -COULOMB / self.eps * phi

    def electron_energy(self, points_frac: np.ndarray, dq: np.ndarray):
        """E = sum_i dq_i U_i with its gradients (points (n, 3), charge centres (nd, 3)) and virial."""
        n = len(points_frac)
        if not self.active:
            return 0.0, np.zeros((n, 3)), np.zeros((len(self.q), 3)), np.zeros((3, 3))
        e, gp, gc, vir = 0.0, np.zeros((n, 3)), np.zeros((len(self.q), 3)), np.zeros((3, 3))
        for width, idx in self.electron_groups:
            ei, gpi, gci, viri = self.interaction(points_frac, dq, self.centres[idx], self.q_electron[idx], width)
            e, gp, vir = e + ei, gp + gpi, vir + viri
            gc[idx] += gci
        f = -COULOMB / self.eps
        return f * e, f * gp, f * gc, f * vir

    def charge_energy(self):
        """E_q (self/background energy of the charges), its gradient (nd, 3) and virial (3, 3)."""
        if not self.active:
            return 0.0, np.zeros((len(self.q), 3)), np.zeros((3, 3))
        e, gp, gc, vir = self.interaction(self.centres, self.q, self.centres, self.q, np.sqrt(2.0) * self.sigma)
        f = 0.5 * COULOMB / self.eps
        return f * e, f * (gp + gc), f * vir


def _images(lattice: np.ndarray, r_cut: float) -> np.ndarray:
    """Integer lattice translations that can bring a (wrapped) separation within r_cut."""
    recip = np.linalg.inv(lattice).T
    nmax = np.ceil(r_cut * np.linalg.norm(recip, axis=1)).astype(int) + 1
    rng = [np.arange(-n, n + 1) for n in nmax]
    return np.stack(np.meshgrid(*rng, indexing="ij"), axis=-1).reshape(-1, 3).astype(float)
