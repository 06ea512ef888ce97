"""Slater-Koster tight-binding Hamiltonian of W 5d, O 2p and H 1s orbitals on a periodic cell.

The Hamiltonian is built from the atoms present: a missing O simply removes its three p orbitals
and every hopping to them, so vacancy states are whatever the remaining bonds and the on-site
potentials make of them.  Hoppings decay as (r0/r)^eta (Harrison's exponents) and are switched off
smoothly between r_on and r_off so that energies and forces stay continuous during relaxations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_vasp.neighbours import PairList, pairs_within, unique_bonds
from mock_vasp.slater_koster import NORB, block_derivatives, hopping_blocks

SHELL_OF = {"W": "d", "O": "p", "H": "s"}


def is_time_reversal_invariant(kfrac, tol: float = 1e-9) -> bool:
    """True when k = -k modulo a reciprocal lattice vector (H(k) is then real in the lattice gauge)."""
    twice = 2.0 * np.asarray(kfrac, float)
    return bool(np.all(np.abs(twice - np.rint(twice)) < tol))


def switch(r, r_on: float, r_off: float):
    """Smooth cosine cut-off (1 below r_on, 0 above r_off); accepts complex r for complex steps."""
    x = (r - r_on) / (r_off - r_on)
    inner = 0.5 * (1.0 + np.cos(np.pi * x))
    return np.where(r.real <= r_on, 1.0 + 0 * r, np.where(r.real >= r_off, 0 * r, inner))


def inner_switch(r, r_in_off: float | None, r_in_on: float | None):
    """1 - switch: 0 below r_in_off, 1 above r_in_on (a term that exists only beyond a distance)."""
    if r_in_off is None:
        return 1.0 + 0 * r
    return 1.0 - switch(r, r_in_off, r_in_on)


def radial_function(
    v0: float, r0: float, eta: float, r_on: float, r_off: float, form: str = "power", inner=(None, None)
):
    """The distance dependence of one Slater-Koster integral, times the cut-off switch:

    "power" (Harrison): V(r) = v0 (r0/r)^eta; "exponential": V(r) = v0 exp(-eta (r - r0) / r0), the same
    value and slope at r0 but finite at r -> 0, so that the short-range repulsion always wins for the H
    bonds (a power law lets the H-W or H-O hopping energy diverge and the H fall into the atom).
    `inner` = (r_in_off, r_in_on) switches the term off below a distance (the O-O terms of the oxide
    regime, which must not act inside an O2 molecule).
    """
    if form == "power":

        def f(r):
            return v0 * (r0 / r) ** eta * switch(r, r_on, r_off) * inner_switch(r, *inner)

    elif form == "exponential":

        def f(r):
            return v0 * np.exp(-eta * (r - r0) / r0) * switch(r, r_on, r_off) * inner_switch(r, *inner)

    else:
        raise ValueError(f"unknown radial form {form!r} (power or exponential)")
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
        pairs = unique_bonds(pairs_within(self.lattice, self.frac, cutoff))
        spec = np.array(self.species)
        for key, p in hop.items():
            a, b = key.split("/")[0].split("-")  # "O-O/molecule": a second term for the same pair
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
            form = p.get("form", "power")
            radial = {
                m: radial_function(
                    v, p["r0"], p["eta"], p["r_on"], p["r_off"], form, (p.get("r_in_off"), p.get("r_in_on"))
                )
                for m, v in p["integrals"].items()
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
        self._assemble_index()

    def _assemble_index(self) -> None:
        """One flat list of every hopping-matrix element: target index, value and lattice image."""
        n = self.basis.size
        idx, val, img = [], [], []
        for g in self.groups:
            per_bond = g.blocks.shape[1] * g.blocks.shape[2]
            idx.append((g.rows * n + g.cols).ravel())
            val.append(g.blocks.ravel())
            img.append(np.repeat(g.pairs.image, per_bond, axis=0))
        self._idx = np.concatenate(idx) if idx else np.zeros(0, int)
        self._val = np.concatenate(val) if val else np.zeros(0)
        self._idx = self._idx.astype(np.int64)
        self._img = np.concatenate(img).astype(float) if img else np.zeros((0, 3))

    def hamiltonian(self, kfrac: np.ndarray, onsite: np.ndarray) -> np.ndarray:
        """H(k) in the lattice gauge: H_ij = sum_T t_ij(r_j + T - r_i) exp(2 pi i k.T).

        At time-reversal-invariant k (every 2k_i an integer: Gamma, zone-boundary centres) all phases are
        +-1 and H is returned as a REAL symmetric matrix, which diagonalises about six times faster.
        """
        n = self.basis.size
        kfrac = np.asarray(kfrac, float)
        if is_time_reversal_invariant(kfrac):
            parity = np.rint(self._img @ (2.0 * kfrac)).astype(np.int64) % 2
            vals = np.where(parity == 0, self._val, -self._val)
            h = np.bincount(self._idx, weights=vals, minlength=n * n).astype(float).reshape(n, n)
        else:
            phase = np.exp(2j * np.pi * (self._img @ kfrac))
            vals = self._val * phase
            h = np.bincount(self._idx, weights=vals.real, minlength=n * n) + 1j * np.bincount(
                self._idx, weights=vals.imag, minlength=n * n
            ).astype(float)
            h = h.reshape(n, n)
        h = h + h.conj().T
        h[np.diag_indices(n)] += onsite
        return h

    def bond_density(self, rho: np.ndarray, kfrac: np.ndarray, weight: float) -> list:
        """Per bond group, w_k * 2 Re[rho_{j b, i a}(k) e^{2 pi i k.T}] from the density matrix rho = V f V^+."""
        out = []
        for g in self.groups:
            block = rho[g.cols, g.rows]  # rho_{j,i} arranged (nb, na, nbo)
            if np.iscomplexobj(block):
                phase = np.exp(2j * np.pi * (g.pairs.image @ kfrac))
                out.append(2.0 * weight * (block * phase[:, None, None]).real)
            else:
                sign = np.where(np.rint(g.pairs.image @ (2.0 * kfrac)).astype(np.int64) % 2 == 0, 1.0, -1.0)
                out.append(2.0 * weight * block * sign[:, None, None])
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
