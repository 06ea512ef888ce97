"""Slater-Koster tight-binding Hamiltonian of W 5d, O 2p and H 1s orbitals on a periodic cell.

The Hamiltonian is built from the atoms present: a missing O simply removes its three p orbitals
and every hopping to them, so vacancy states are whatever the remaining bonds and the on-site
potentials make of them.  Hoppings decay as (r0/r)^eta (Harrison's exponents) and are switched off
smoothly between r_on and r_off so that energies and forces stay continuous during relaxations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_vasp.neighbours import PairList, all_pairs, unique_bonds
from mock_vasp.slater_koster import NORB, block_derivatives, hopping_blocks

SHELL_OF = {"W": "d", "O": "p", "H": "s"}


def switch(r, r_on: float, r_off: float):
    """Smooth cosine cut-off (1 below r_on, 0 above r_off); accepts complex r for complex steps."""
    x = (r - r_on) / (r_off - r_on)
    inner = 0.5 * (1.0 + np.cos(np.pi * x))
    return np.where(r.real <= r_on, 1.0 + 0 * r, np.where(r.real >= r_off, 0 * r, inner))


def radial_function(v0: float, r0: float, eta: float, r_on: float, r_off: float):
    """V(r) = v0 (r0/r)^eta * switch(r): the distance dependence of one Slater-Koster integral."""

    def f(r):
        return v0 * (r0 / r) ** eta * switch(r, r_on, r_off)

    return f


@dataclass
class Basis:
    """Tight-binding orbitals: which atom and which shell each belongs to."""

    species: list[str]
    shell: list[str]
    offset: np.ndarray
    norb: np.ndarray
    atom_of_orbital: np.ndarray
    size: int

    @classmethod
    def build(cls, species: list[str]) -> Basis:
        shell = [SHELL_OF[s] for s in species]
        norb = np.array([NORB[s] for s in shell])
        offset = np.concatenate([[0], np.cumsum(norb)[:-1]]).astype(int)
        atom_of = np.repeat(np.arange(len(species)), norb)
        return cls(species, shell, offset, norb, atom_of, int(norb.sum()))


@dataclass
class BondGroup:
    """All bonds between two species with the same Slater-Koster blocks (stored one direction only)."""

    pairs: PairList
    la: str
    lb: str
    radial: dict
    blocks: np.ndarray = field(default=None)  # (nb, na, nb_orb)
    rows: np.ndarray = field(default=None)  # flat orbital indices of each block element
    cols: np.ndarray = field(default=None)


class TightBinding:
    """The hopping part of the model for one geometry; on-site energies are supplied per call."""

    def __init__(self, lattice: np.ndarray, frac: np.ndarray, species: list[str], tb_params: dict):
        self.lattice = np.asarray(lattice, float)
        self.frac = np.asarray(frac, float)
        self.species = list(species)
        self.basis = Basis.build(self.species)
        self.groups: list[BondGroup] = []
        hop = tb_params["hopping"]
        cutoff = max(p["r_off"] for p in hop.values())
        pairs = unique_bonds(all_pairs(self.lattice, self.frac, cutoff))
        spec = np.array(self.species)
        for key, p in hop.items():
            a, b = key.split("-")
            if a == b:
                mask = (spec[pairs.i] == a) & (spec[pairs.j] == b)
                sel = pairs.select(mask & (pairs.r < p["r_off"]))
            else:
                fwd = (spec[pairs.i] == a) & (spec[pairs.j] == b)
                bwd = (spec[pairs.i] == b) & (spec[pairs.j] == a)
                sel_f = pairs.select(fwd & (pairs.r < p["r_off"]))
                sel_b = pairs.select(bwd & (pairs.r < p["r_off"]))
                sel = PairList(
                    np.concatenate([sel_f.i, sel_b.j]),
                    np.concatenate([sel_f.j, sel_b.i]),
                    np.concatenate([sel_f.image, -sel_b.image]),
                    np.concatenate([sel_f.d, -sel_b.d]),
                )
            if len(sel.i) == 0:
                continue
            radial = {
                m: radial_function(v, p["r0"], p["eta"], p["r_on"], p["r_off"]) for m, v in p["integrals"].items()
            }
            la, lb = SHELL_OF[a], SHELL_OF[b]
            grp = BondGroup(sel, la, lb, radial)
            grp.blocks = hopping_blocks(la, lb, sel.d, radial)
            na, nb = NORB[la], NORB[lb]
            oi = self.basis.offset[sel.i]
            oj = self.basis.offset[sel.j]
            grp.rows = (oi[:, None, None] + np.arange(na)[None, :, None]) + 0 * np.arange(nb)[None, None, :]
            grp.cols = (oj[:, None, None] + np.arange(nb)[None, None, :]) + 0 * np.arange(na)[None, :, None]
            self.groups.append(grp)

    def hamiltonian(self, kfrac: np.ndarray, onsite: np.ndarray) -> np.ndarray:
        """H(k) in the lattice gauge: H_ij = sum_T t_ij(r_j + T - r_i) exp(2 pi i k.T)."""
        n = self.basis.size
        flat = np.zeros(n * n, complex)
        for g in self.groups:
            phase = np.exp(2j * np.pi * (g.pairs.image @ kfrac))
            vals = (g.blocks * phase[:, None, None]).ravel()
            idx = (g.rows * n + g.cols).ravel()
            flat += np.bincount(idx, weights=vals.real, minlength=n * n) + 1j * np.bincount(
                idx, weights=vals.imag, minlength=n * n
            )
        h = flat.reshape(n, n)
        h = h + h.conj().T
        h[np.diag_indices(n)] += onsite
        return h

    def bond_density(self, vecs: np.ndarray, occ: np.ndarray, kfrac: np.ndarray, weight: float) -> list:
        """Per bond group, w_k * 2 Re[rho_{j b, i a}(k) e^{2 pi i k.T}] with rho = sum_n f_n c_n c_n^+."""
        out = []
        cw = vecs * occ[None, :]
        for g in self.groups:
            phase = np.exp(2j * np.pi * (g.pairs.image @ kfrac))
            ci = vecs[g.rows[:, :, 0]]  # (nb, na, M)
            cj = cw[g.cols[:, 0, :]]  # (nb, nbo, M)
            rho_ji = np.einsum("bjm,bim->bij", cj, ci.conj())  # rho_{j,i} arranged (nb, na, nbo)
            out.append(2.0 * weight * (rho_ji * phase[:, None, None]).real)
        return out

    def bond_energy_gradients(self, density: list) -> tuple[float, np.ndarray, np.ndarray]:
        """Hopping energy, dE/d(bond vector) per group, for forces and the virial."""
        energy = 0.0
        forces = np.zeros((len(self.species), 3))
        virial = np.zeros((3, 3))
        for g, p in zip(self.groups, density, strict=True):
            energy += float(np.sum(p * g.blocks))
            dt = block_derivatives(g.la, g.lb, g.pairs.d, g.radial)  # (nb, 3, na, nbo)
            grad = np.einsum("bij,bcij->bc", p, dt)  # dE/dd
            np.add.at(forces, g.pairs.j, -grad)
            np.add.at(forces, g.pairs.i, grad)
            virial += np.einsum("bc,bd->cd", grad, g.pairs.d)
        return energy, forces, virial
