"""Classical short-range pair potential: Born-Mayer repulsion plus London dispersion.

    E_pair = sum_{i<j} [A exp(-r/rho) - C / r^6] * switch(r)

The band energy of the tight-binding model supplies the W-O bonding; this term supplies the
short-range repulsion that balances it (Born-Mayer form, as in Buckingham potentials).  The O-O
dispersion constant is the one of Catlow's O2- - O2- Buckingham potential; the repulsive prefactors
were fitted so that the model's forces and stress vanish near the input gamma-WO3 cell
(structures/WO3_P21n.cif) - see README.md, "Parameters".
"""

from __future__ import annotations

import numpy as np

from mock_vasp.neighbours import pairs_within, unique_bonds
from mock_vasp.tight_binding import switch


def pair_energy(lattice, frac, species, pair_params: dict):
    """Energy, forces (n, 3) and virial dE/d(strain) (3, 3) of the pair potential."""
    cutoff = max(p["r_off"] for p in pair_params.values())
    pairs = unique_bonds(pairs_within(np.asarray(lattice, float), frac, cutoff))
    spec = np.array(species)
    n = len(species)
    energy = 0.0
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    for key, p in pair_params.items():
        a, b = key.split("/")[0].split("-")  # "O-O/core": a second term for the same pair
        mask = ((spec[pairs.i] == a) & (spec[pairs.j] == b)) | ((spec[pairs.i] == b) & (spec[pairs.j] == a))
        sel = pairs.select(mask)
        if len(sel.i) == 0:
            continue
        r = sel.r
        s = switch(r, p["r_on"], p["r_off"])
        ds = _dswitch(r, p["r_on"], p["r_off"])
        if "r_in_off" in p:  # term absent below r_in_off (oxide-regime O-O terms inside an O2 molecule)
            inner = 1.0 - switch(r, p["r_in_off"], p["r_in_on"])
            ds = ds * inner - s * _dswitch(r, p["r_in_off"], p["r_in_on"])
            s = s * inner
        core = p["A"] * np.exp(-r / p["rho"]) - p.get("C", 0.0) / r**6
        dcore = -p["A"] / p["rho"] * np.exp(-r / p["rho"]) + 6 * p.get("C", 0.0) / r**7
        energy += float(np.sum(core * s))
        de_dr = dcore * s + core * ds
        grad = (de_dr / r)[:, None] * sel.d  # dE/dd
        np.add.at(forces, sel.j, -grad)
        np.add.at(forces, sel.i, grad)
        virial += grad.T @ sel.d
    return energy, forces, virial


def _dswitch(r, r_on, r_off):
    x = (r - r_on) / (r_off - r_on)
    inner = -0.5 * np.pi / (r_off - r_on) * np.sin(np.pi * x)
    return np.where((r > r_on) & (r < r_off), inner, 0.0)


def bond_valence_energy(lattice, frac, species, bv: dict):
    """Bond-valence-sum and octahedral-angle energy around every cation (a many-body stabiliser).

    For each W: E = S_W (V - V_W)^2 + K sum_{j<l} w_j w_l sin^2(2 theta_jl), with the bond valence
    V = sum_j w_j exp((R0 - r_j) / b) over its O neighbours (Brown's bond-valence model, W(VI)-O
    R0 = 1.917 A, b = 0.37 A) and w_j a smooth switch.  For each O: E = S_O (V - V_O)^2 over its W
    neighbours.  The angle term keeps the WO6 octahedra octahedral (90 and 180 degree O-W-O angles).
    Derivatives are exact (complex step on the bond vectors); returns energy, forces, virial.
    """
    pairs = pairs_within(np.asarray(lattice, float), frac, bv["r_off"])
    spec = np.array(species)
    n = len(species)
    energy = 0.0
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    for centre, partner, target, strength, k_ang in (
        ("W", "O", bv["V_W"], bv["S_W"], bv["K_angle"]),
        ("O", "W", bv["V_O"], bv["S_O"], 0.0),
    ):
        sel = pairs.select((spec[pairs.i] == centre) & (spec[pairs.j] == partner))
        if len(sel.i) == 0:
            continue
        centres, start = np.unique(sel.i, return_index=True)
        counts = np.diff(np.append(start, len(sel.i)))
        mmax = int(counts.max())
        nc = len(centres)
        dvec = np.zeros((nc, mmax, 3))
        valid = np.zeros((nc, mmax), bool)
        slot = np.arange(len(sel.i)) - np.repeat(start, counts)
        row = np.repeat(np.arange(nc), counts)
        dvec[row, slot] = sel.d
        valid[row, slot] = True
        dvec[~valid] = [10.0 * bv["r_off"], 0.0, 0.0]  # far away: switched off

        def e_of(d, strength=strength, target=target, k_ang=k_ang):
            r = np.sqrt(np.sum(d * d, axis=-1))
            w = switch(r, bv["r_on"], bv["r_off"])
            val = np.sum(w * np.exp((bv["R0"] - r) / bv["b"]), axis=1)
            e = strength * (val - target) ** 2
            if k_ang:
                u = d / r[..., None]
                cos = np.einsum("cjx,clx->cjl", u, u)
                sin2 = 4 * cos * cos * (1 - cos * cos)  # sin^2(2 theta)
                ww = w[:, :, None] * w[:, None, :]
                e = e + 0.5 * k_ang * np.sum(ww * sin2, axis=(1, 2))
            return e

        e_c = e_of(dvec.astype(complex)).real
        energy += float(np.sum(e_c))
        grad = np.zeros((nc, mmax, 3))
        h = 1e-20
        for m in range(mmax):
            for c in range(3):
                dc = dvec.astype(complex)
                dc[:, m, c] += 1j * h
                grad[:, m, c] = e_of(dc).imag / h
        g = grad[row, slot]  # dE/dd per bond
        np.add.at(forces, sel.j, -g)
        np.add.at(forces, sel.i, g)
        virial += g.T @ sel.d
    return energy, forces, virial
