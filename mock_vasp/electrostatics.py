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
    """Potential of the defect charges at arbitrary points, its gradients and the charge energy."""

    def __init__(
        self,
        lattice,
        charges: np.ndarray,
        centres_frac: np.ndarray,
        sigma: float,
        eps: float,
        hkl: np.ndarray | None = None,
    ):
        self.lattice = np.asarray(lattice, float)
        self.q = np.asarray(charges, float)
        self.centres = np.asarray(centres_frac, float)
        self.sigma = sigma
        self.eps = eps
        self.hkl = gvectors(self.lattice, sigma) if hkl is None else hkl
        recip = 2 * np.pi * np.linalg.inv(self.lattice).T
        self.g = self.hkl @ recip
        self.g2 = np.einsum("ij,ij->i", self.g, self.g)
        self.volume = abs(np.linalg.det(self.lattice))
        self.active = len(self.q) > 0 and np.any(self.q != 0)

    def _structure_factor(self):
        phase = 2 * np.pi * (self.centres @ self.hkl.T)  # (nd, nG)
        return np.exp(1j * phase) * self.q[:, None]

    def electron_potential(self, points_frac: np.ndarray) -> np.ndarray:
        """U(r) = -e phi(r) in eV at the given fractional points (half-sphere sum doubled)."""
        if not self.active:
            return np.zeros(len(points_frac))
        s = self._structure_factor().sum(axis=0)  # sum_d Q_d e^{iG.r_d}
        kern = 2 * 4 * np.pi / (self.volume * self.eps) * np.exp(-0.5 * self.g2 * self.sigma**2) / self.g2
        phase = np.exp(-2j * np.pi * (points_frac @ self.hkl.T))  # e^{-iG.r}
        phi = COULOMB * (phase @ (kern * s)).real
        return -phi

    def electron_potential_gradients(self, points_frac: np.ndarray):
        """dU_i/dr_i (n, 3) and dU_i/dr_d (n, nd, 3) in eV/Angstrom."""
        n, nd = len(points_frac), len(self.q)
        if not self.active:
            return np.zeros((n, 3)), np.zeros((n, nd, 3))
        kern = 2 * 4 * np.pi / (self.volume * self.eps) * np.exp(-0.5 * self.g2 * self.sigma**2) / self.g2
        # U_i = -C sum_G kern sum_d Q_d cos(G.(r_i - r_d))
        arg = 2 * np.pi * (points_frac[:, None, :] - self.centres[None, :, :]) @ self.hkl.T  # (n, nd, nG)
        sin = np.sin(arg)
        # dU/dr_i = +C sum_G kern Q_d sin(arg) G
        term = COULOMB * self.q[None, :, None] * kern[None, None, :] * sin  # (n, nd, nG)
        d_dri = np.einsum("idg,gc->ic", term, self.g)
        d_drd = -np.einsum("idg,gc->idc", term, self.g)
        return d_dri, d_drd

    def charge_energy(self) -> tuple[float, np.ndarray]:
        """E_q and its gradient with respect to the charge centres (nd, 3)."""
        if not self.active:
            return 0.0, np.zeros((len(self.q), 3))
        sf = self._structure_factor()
        s = sf.sum(axis=0)
        kern = 2 * 2 * np.pi / (self.volume * self.eps) * np.exp(-self.g2 * self.sigma**2) / self.g2
        energy = COULOMB * float(np.sum(kern * np.abs(s) ** 2))
        # d|S|^2/dr_d = 2 Re[conj(S) * i G Q_d e^{iG.r_d}]
        grad = COULOMB * 2 * np.einsum("dg,gc->dc", (kern * (np.conj(s) * 1j * sf)).real, self.g)
        return energy, grad
