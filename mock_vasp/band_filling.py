"""From tight-binding eigenvalues to VASP's bands: flat levels, spin channels, occupations, projections.

The reported bands at each k-point are the tight-binding states plus flat, site-local levels
(semicore below, projection-free padding above), the lowest NBANDS of them.  The electrons fill them
per spin channel with the smearing of ISMEAR/SIGMA.

Spin (ISPIN = 2): the total moment M is NUPDOWN when set; otherwise the lowest free energy among
M = NELECT mod 2, M + 2, ... up to |sum MAGMOM| (so MAGMOM = 1 1 on an O2 molecule can reach the
triplet, while small starting moments keep the lowest spin).  For M > 0 a first-order Stoner splitting
separates the channels: the levels move by -/+ (1/2) sum_i I_i m_i w_ni (m_i the moment in atom i's
tight-binding shell, w_ni the band's weight there, I_i the Stoner parameter of the species) and the
exchange energy -(1/4) sum_i I_i m_i^2 enters the total energy (not the forces).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mock_vasp.band_solver import KBands
from mock_vasp.occupations import entropy_term, fermi_level, occupation

# projection columns: s py pz px dxy dyz dz2 dxz x2-y2
COLUMN_OF_SHELL = {"s": [0], "p": [1, 2, 3], "d": [4, 5, 6, 7, 8]}
L_OF_SHELL = {"s": 0, "p": 1, "d": 2}


@dataclass
class LevelTable:
    """Flat levels (semicore below, padding above) appended to the tight-binding bands."""

    energies: np.ndarray  # (n,)
    atom: np.ndarray  # (n,), -1 for padding
    column: np.ndarray  # (n,), projection column, -1 for padding
    n_below: int  # how many of them are semicore (below the tight-binding states)


class FilledBands:
    """The NBANDS lowest levels at every k-point with their spin-resolved energies and occupations."""

    def __init__(self, kb: KBands, flat: LevelTable, basis, nbands: int):
        self.kb = kb
        self.flat = flat
        self.basis = basis
        nk, n_tb = kb.eigenvalues.shape
        nb_lo = flat.n_below
        all_e = np.concatenate(
            [
                np.repeat(flat.energies[None, :nb_lo], nk, 0),
                kb.eigenvalues,
                np.repeat(flat.energies[None, nb_lo:], nk, 0),
            ],
            axis=1,
        )
        self.order = np.argsort(all_e, axis=1, kind="stable")[:, :nbands]
        self.energies = np.take_along_axis(all_e, self.order, axis=1)  # (nk, nb) spin-independent
        self.tb_index = self.order - nb_lo
        self.is_tb = (self.tb_index >= 0) & (self.tb_index < n_tb)
        flat_index = np.where(self.order < nb_lo, self.order, self.order - n_tb)
        self.flat_index = np.where(self.is_tb, -1, flat_index)
        cols = np.concatenate([COLUMN_OF_SHELL[basis.shell[a]] for a in range(len(basis.species))])
        self.column_of_orbital = np.asarray(cols, int)
        ls = np.array([L_OF_SHELL[basis.shell[a]] for a in basis.atom_of_orbital], int)
        self.l_of_orbital = ls

    # ---------------------------------------------------------------- per-k weights of the bands
    def tb_weights(self, ik: int) -> np.ndarray:
        """|c|^2 of the reported tight-binding bands at k-point ik: (n_orb, n_selected) for is_tb bands."""
        sq = self.kb.squares_at(ik)
        return sq[:, self.tb_index[ik, self.is_tb[ik]]]

    def shell_weights(self, ik: int, natoms: int) -> np.ndarray:
        """Weight of every reported band on every atom's tight-binding shell: (nb, natoms)."""
        out = np.zeros((self.energies.shape[1], natoms))
        w = self.tb_weights(ik)
        out[self.is_tb[ik]] = np.add.reduceat(w, self.basis.offset, axis=0).T
        return out

    def projections(self, ik: int, natoms: int) -> np.ndarray:
        """lm-projections of the reported bands (nb, natoms, 9) float32, in this object's band order."""
        nb = self.energies.shape[1]
        out = np.zeros((nb, natoms, 9), np.float32)
        sel = np.nonzero(self.is_tb[ik])[0]
        w = self.tb_weights(ik).T  # (nsel, n_orb)
        out[sel[:, None], self.basis.atom_of_orbital[None, :], self.column_of_orbital[None, :]] = w
        fl = np.nonzero(~self.is_tb[ik])[0]
        idx = self.flat_index[ik, fl]
        atoms, cols = self.flat.atom[idx], self.flat.column[idx]
        ok = atoms >= 0
        out[fl[ok], atoms[ok], cols[ok]] = 1.0
        return out


def spin_channels(nelect: float, ispin: int, nupdown: float | None, magmom_sum: float) -> list[tuple[float, ...]]:
    """Candidate electron counts per spin channel (one entry for ISPIN = 1)."""
    if ispin == 1:
        return [(nelect,)]
    if nupdown is not None and nupdown >= 0:
        moments = [float(nupdown)]
    else:
        lowest = float(round(nelect) % 2)
        highest = max(lowest, float(np.floor(abs(magmom_sum) + 1e-6)))
        moments = list(np.arange(lowest, highest + 1e-9, 2.0))
        moments = [m for m in moments if m <= nelect]
    return [((nelect + m) / 2.0, (nelect - m) / 2.0) for m in moments]


@dataclass
class Filling:
    """Occupations of one spin configuration and its free-energy pieces."""

    channels: tuple[float, ...]
    eig_spin: np.ndarray  # (ispin, nk, nb)
    occ: np.ndarray  # (ispin, nk, nb) 0..1
    mus: list
    band_energy: float  # sum w f e (unshifted levels, tight-binding states only)
    entropy: float  # -T S
    exchange: float  # -(1/4) sum I m^2
    moments: np.ndarray  # (natoms,) shell moments (zeros for ISPIN 1)

    @property
    def free_energy(self) -> float:
        return self.band_energy + self.entropy + self.exchange


def fill(bands: FilledBands, channels, natoms: int, stoner: np.ndarray, sigma: float, ismear: int) -> Filling:
    """Occupations for the given channel counts (with the Stoner splitting when the channels differ)."""
    kb = bands.kb
    w = kb.weights
    spins = len(channels)
    capacity = 2.0 if spins == 1 else 1.0
    sigma = max(sigma, 1e-4)
    eig = bands.energies
    eig_spin = np.repeat(eig[None], spins, axis=0)
    occ, mus = _occupy(eig_spin, w, channels, sigma, ismear, capacity)
    moments = np.zeros(natoms)
    exchange = 0.0
    if spins == 2 and abs(channels[0] - channels[1]) > 1e-9 and np.any(stoner > 0):
        weighted = [ik for ik in range(len(kb)) if w[ik] > 0]
        shell = {ik: bands.shell_weights(ik, natoms) for ik in weighted}
        for ik in weighted:
            moments += w[ik] * shell[ik].T @ (occ[0, ik] - occ[1, ik])
        exchange = -0.25 * float(np.sum(stoner * moments**2))
        coupling = 0.5 * stoner * moments
        for ik in range(len(kb)):
            sw = shell[ik] if ik in shell else bands.shell_weights(ik, natoms)
            shift = sw @ coupling
            eig_spin[0, ik] = eig[ik] - shift
            eig_spin[1, ik] = eig[ik] + shift
        occ, mus = _occupy(eig_spin, w, channels, sigma, ismear, capacity)
    scale = 2.0 if spins == 1 else 1.0
    tb_occ = np.where(bands.is_tb[None], occ, 0.0) * scale
    band_energy = float(np.sum(w[None, :, None] * tb_occ * eig[None]))
    entropy = 0.0
    for s in range(spins):
        x = (eig_spin[s] - mus[s]) / sigma
        entropy += scale * sigma * float(np.sum(w[:, None] * entropy_term(x, ismear)))
    return Filling(tuple(channels), eig_spin, occ, mus, band_energy, entropy, exchange, moments)


def _occupy(eig_spin, weights, channels, sigma, ismear, capacity):
    occ = np.zeros_like(eig_spin)
    mus = []
    for s, n_el in enumerate(channels):
        mu = fermi_level(eig_spin[s], weights, n_el, sigma, ismear, capacity)
        occ[s] = occupation((eig_spin[s] - mu) / sigma, ismear)
        mus.append(mu)
    return occ, mus


def atom_populations(bands: FilledBands, filling: Filling, natoms: int) -> tuple[np.ndarray, np.ndarray]:
    """s/p/d electrons and moments per atom (OUTCAR 'total charge' / 'magnetization (x)')."""
    kb = bands.kb
    spins = filling.occ.shape[0]
    scale = 2.0 if spins == 1 else 1.0
    pops = np.zeros((spins, natoms, 3))
    key = bands.basis.atom_of_orbital * 3 + bands.l_of_orbital
    flat = bands.flat
    sc_l = np.where(flat.column == 0, 0, 1)
    for ik in range(len(kb)):
        if kb.weights[ik] <= 0:
            continue
        w2 = bands.tb_weights(ik)
        sel = bands.is_tb[ik]
        fl = np.nonzero(~sel)[0]
        fidx = bands.flat_index[ik, fl]
        ok = flat.atom[fidx] >= 0
        for s in range(spins):
            f = filling.occ[s, ik] * scale * kb.weights[ik]
            pops[s] += np.bincount(key, weights=w2 @ f[sel], minlength=3 * natoms).reshape(-1, 3)
            np.add.at(pops[s], (flat.atom[fidx][ok], sc_l[fidx][ok]), f[fl][ok])
    total = pops.sum(axis=0)
    magnet = (pops[0] - pops[1]) if spins == 2 else np.zeros_like(total)
    return total, magnet


def tb_occupation_total(bands: FilledBands, filling: Filling, ik: int) -> np.ndarray:
    """Electrons in each tight-binding eigenstate at k-point ik, summed over spin (index = TB state)."""
    n_tb = bands.kb.eigenvalues.shape[1]
    spins = filling.occ.shape[0]
    scale = 2.0 if spins == 1 else 1.0
    f = np.zeros(n_tb)
    sel = bands.is_tb[ik]
    f[bands.tb_index[ik, sel]] = filling.occ[:, ik, sel].sum(axis=0) * scale
    return f
