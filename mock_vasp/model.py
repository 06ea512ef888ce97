"""The model behind mock-vasp's numbers: energies, forces, stress and bands of one geometry.

    E = sum_k w_k sum_n f_nk e_nk (tight-binding bands)         band energy
        - sum_i U_i n_i^0                                        (defect potential acts on net charges)
        + E_q                                                    defect charges + background
        + E_pair                                                 Born-Mayer repulsion + dispersion
        + sum_i E_ref(species_i)                                 atomic reference energies
        - T S                                                    smearing (free energy, as VASP's TOTEN)

Semicore levels (W 5s/5p, O 2s) are flat, site-local states at fixed energies plus the local defect
potential; they are reported as bands and hold their electrons but are frozen cores for the energy.
Bands above the tight-binding manifold that NBANDS asks for are flat, projection-free padding levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_vasp.classical import bond_valence_energy, pair_energy
from mock_vasp.electrostatics import DefectField
from mock_vasp.occupations import entropy_term, fermi_level, occupation
from mock_vasp.tight_binding import TightBinding

EV_A3_TO_KBAR = 1602.1766208
# projection columns: s py pz px dxy dyz dz2 dxz x2-y2
COLUMN_OF_SHELL = {"s": [0], "p": [1, 2, 3], "d": [4, 5, 6, 7, 8]}


@dataclass
class Physics:
    """The INCAR values the model uses."""

    nelect: float
    nbands: int
    ispin: int = 1
    nupdown: float | None = None
    ismear: int = 0
    sigma: float = 0.05
    lhfcalc: bool = False
    aexx: float = 0.25
    hfscreen: float = 0.0
    gga: str = "PE"
    want_projections: bool = False


@dataclass
class LevelTable:
    """Flat levels (semicore below, padding above) appended to the tight-binding bands."""

    energies: np.ndarray  # (n,)
    atom: np.ndarray  # (n,), -1 for padding
    column: np.ndarray  # (n,), projection column, -1 for padding


@dataclass
class Result:
    """Everything the writers need from one evaluation."""

    energy_free: float
    energy_no_entropy: float
    energy_sigma0: float
    components: dict
    forces: np.ndarray
    stress_kbar: np.ndarray
    eigenvalues: np.ndarray  # (ispin, nk, nbands)
    occupations: np.ndarray  # (ispin, nk, nbands), 0..1 per spin channel (0..2 when ispin 1... see writers)
    efermi: float
    projections: np.ndarray | None  # (ispin, nk, nbands, natoms, 9) float32, or None
    populations: np.ndarray  # (natoms, 3) s p d electrons
    magnetization: np.ndarray  # (natoms, 3) s p d moments
    electron_potential: np.ndarray  # U_i at every atom (eV)
    total_magnetization: float = 0.0
    extra: dict = field(default_factory=dict)


def defect_charges(weights: np.ndarray, net_charge: float, model: str) -> np.ndarray:
    """Charges on the defect sites.

    "formal": every defect site carries its bare donor charge whatever NELECT says (+1 per missing W-O
    bond, so +2 per O vacancy; +1 per H, the proton), and the electrons a neutral defect releases fill
    the bands it pulls down: a neutral H binds its electron in a state below the CBM, as a screened
    donor does. "net": only the cell's net charge q = sum(ZVAL) - NELECT, spread over the sites in
    proportion to their weights (neutral defects then have no potential at all).
    """
    if len(weights) == 0:
        return np.zeros(0)
    if model == "formal":
        return np.asarray(weights, float)
    if model == "net":
        return net_charge * weights / weights.sum()
    raise ValueError(f"defect_charge.model must be 'formal' or 'net', got {model!r}")


class Model:
    """One run's model: parameters, the atoms' species and the defect charges of the input geometry."""

    def __init__(
        self,
        params: dict,
        species: list[str],
        semicore: list[tuple[str, ...]],
        physics: Physics,
        defect_weights: np.ndarray,
        net_charge: float,
    ):
        self.p = params
        self.species = list(species)
        self.semicore = semicore
        self.phys = physics
        self.natoms = len(species)
        self.net_charge = net_charge
        self.defect_atoms = np.nonzero(defect_weights > 0)[0]
        es = params["defect_charge"]
        self.defect_charges = defect_charges(defect_weights[self.defect_atoms], net_charge, es.get("model", "net"))
        self.sigma_q = es["sigma"]
        self.eps = es["eps_eff"]
        ref = params["reference_population"]
        self.n0 = np.array([ref[s] for s in self.species], float)
        self.semicore_electrons = sum(2 if x == "s" else 6 for sc in semicore for x in sc)
        self.tb_electrons = physics.nelect - self.semicore_electrons

    # ------------------------------------------------------------------ on-site energies
    def exact_exchange_shift(self) -> float:
        """Rise of the W 5d level with the exact-exchange fraction (screened by HFSCREEN)."""
        ph = self.phys
        xx = self.p["exact_exchange"]
        shift = xx["gga_offsets"].get(ph.gga.upper(), xx["gga_offsets"]["default"])
        if ph.lhfcalc:
            mu_s = xx["screening_scale"]
            g = (1.0 + xx["reference_hfscreen"] / mu_s) / (1.0 + ph.hfscreen / mu_s)
            shift += xx["slope_W_d"] * ph.aexx * g
        return shift

    def onsite(self, tb: TightBinding, potential: np.ndarray) -> np.ndarray:
        on = self.p["tight_binding"]["onsite"]
        xx = self.exact_exchange_shift()
        values = {"W": on["W_d"] + xx, "O": on["O_p"], "H": on["H_s"]}
        per_atom = np.array([values[s] for s in self.species]) + potential
        return per_atom[tb.basis.atom_of_orbital]

    def flat_levels(self, potential: np.ndarray, n_tb: int, tb_top: float) -> LevelTable:
        """Semicore levels of every atom and the padding levels NBANDS needs."""
        sc = self.p["semicore"]
        e, atom, col = [], [], []
        for a, shells in enumerate(self.semicore):
            for shell in shells:
                key = f"{self.species[a]}_{'5' if self.species[a] == 'W' else '2'}{shell}"
                level = sc[key] + potential[a]
                for c in COLUMN_OF_SHELL[shell]:
                    e.append(level)
                    atom.append(a)
                    col.append(c)
        n_pad = max(0, self.phys.nbands - len(e) - n_tb)
        pad = self.p["padding"]
        for m in range(n_pad):
            e.append(tb_top + pad["offset"] + pad["spacing"] * m ** (2.0 / 3.0))
            atom.append(-1)
            col.append(-1)
        return LevelTable(np.array(e, float), np.array(atom, int), np.array(col, int))

    # ---------------------------------------------------------------------- evaluation
    def field(self, lattice, frac) -> DefectField:
        return DefectField(lattice, self.defect_charges, frac[self.defect_atoms], self.sigma_q, self.eps)

    def evaluate(self, lattice, frac, kpts: np.ndarray, weights: np.ndarray, want_forces: bool = True) -> Result:
        lattice = np.asarray(lattice, float)
        frac = np.asarray(frac, float)
        ph = self.phys
        fld = self.field(lattice, frac)
        potential = fld.electron_potential(frac)
        tb = TightBinding(lattice, frac, self.species, self.p["tight_binding"])
        onsite = self.onsite(tb, potential)
        n_tb = tb.basis.size
        nk = len(kpts)
        eig_tb = np.empty((nk, n_tb))
        vecs = []
        for ik, k in enumerate(kpts):
            w, v = np.linalg.eigh(tb.hamiltonian(np.asarray(k, float), onsite))
            eig_tb[ik] = w
            vecs.append(v.astype(np.complex64))
        flat = self.flat_levels(potential, n_tb, float(eig_tb.max()))
        nb = ph.nbands
        n_flat_below = int(np.sum(flat.atom >= 0))
        # combined bands: semicore (flat, below), tight-binding, padding (flat, above)
        all_e = np.concatenate(
            [
                np.repeat(flat.energies[None, :n_flat_below], nk, 0),
                eig_tb,
                np.repeat(flat.energies[None, n_flat_below:], nk, 0),
            ],
            axis=1,
        )
        order = np.argsort(all_e, axis=1, kind="stable")[:, :nb]
        eig = np.take_along_axis(all_e, order, axis=1)

        # d-weight per atom for every band (exchange splitting) and occupations
        spins = ph.ispin
        sigma = max(ph.sigma, 1e-4)
        capacity = 2.0 if spins == 1 else 1.0
        if spins == 1:
            channels = [ph.nelect]
        else:
            moment = ph.nupdown if ph.nupdown is not None and ph.nupdown >= 0 else round(ph.nelect) % 2
            channels = [(ph.nelect + moment) / 2.0, (ph.nelect - moment) / 2.0]
        occ = np.zeros((spins, nk, nb))
        mus = []
        for s, n_el in enumerate(channels):
            mu = fermi_level(eig, weights, n_el, sigma, ph.ismear, capacity)
            occ[s] = occupation((eig - mu) / sigma, ph.ismear)
            mus.append(mu)
        eig_spin = np.repeat(eig[None], spins, axis=0)
        tb_index = order - n_flat_below  # index into the TB eigenvectors when 0 <= idx < n_tb
        is_tb = (tb_index >= 0) & (tb_index < n_tb)
        d_orbital = np.array([tb.basis.shell[a] == "d" for a in tb.basis.atom_of_orbital])
        if spins == 2 and abs(channels[0] - channels[1]) > 1e-9:
            eig_spin, occ, mus = self._exchange_split(
                tb, vecs, eig, order, is_tb, tb_index, occ, weights, channels, sigma, capacity, d_orbital
            )

        # free energy pieces
        scale = 2.0 if spins == 1 else 1.0
        wk = weights[None, :, None]
        occ_tb = np.where(is_tb[None], occ, 0.0) * scale
        band_energy = float(np.sum(wk * occ_tb * np.repeat(eig[None], spins, 0)))
        ent = 0.0
        for s in range(spins):
            ent += (
                scale
                * sigma
                * float(np.sum(weights[:, None] * entropy_term((eig_spin[s] - mus[s]) / sigma, ph.ismear)))
            )
        # density matrices for populations and forces
        pops_orb = np.zeros(n_tb)
        density = None
        f_tb_total = np.zeros((nk, n_tb))
        for ik in range(nk):
            sel = is_tb[ik]
            f_tb_total[ik, tb_index[ik, sel]] = occ_tb[:, ik, sel].sum(axis=0)
        for ik in range(nk):
            v = vecs[ik]
            f = f_tb_total[ik]
            keep = f > 1e-12
            vk = v[:, keep].astype(complex)
            pops_orb += weights[ik] * np.einsum("im,m->i", np.abs(vk) ** 2, f[keep])
            if want_forces:
                dens = tb.bond_density(vk, f[keep], np.asarray(kpts[ik], float), weights[ik])
                density = dens if density is None else [a + b for a, b in zip(density, dens, strict=True)]
        n_atom = np.bincount(tb.basis.atom_of_orbital, weights=pops_orb, minlength=self.natoms)
        dq = n_atom - self.n0
        e_u0 = -float(np.sum(potential * self.n0))
        e_q, grad_q = fld.charge_energy()
        e_pair, f_pair, vir_pair = pair_energy(lattice, frac, self.species, self.p["pair_potential"])
        e_bv, f_bv, vir_bv = bond_valence_energy(lattice, frac, self.species, self.p["bond_valence"])
        e_pair += e_bv
        f_pair = f_pair + f_bv
        vir_pair = vir_pair + vir_bv
        e_ref = float(sum(self.p["reference_energies"][s] for s in self.species))
        e_wo = band_energy + e_u0 + e_q + e_pair + e_ref
        e_free = e_wo + ent
        comps = {
            "band": band_energy,
            "defect_core": e_u0,
            "defect_charges": e_q,
            "pair": e_pair,
            "reference": e_ref,
            "entropy": ent,
        }

        forces = np.zeros((self.natoms, 3))
        virial = np.zeros((3, 3))
        if want_forces and density is not None:
            _, f_hop, vir_hop = tb.bond_energy_gradients(density)
            forces += f_hop + f_pair
            virial += vir_hop + vir_pair
            if fld.active:
                d_dri, d_drd = fld.electron_potential_gradients(frac)
                forces -= dq[:, None] * d_dri
                np.add.at(forces, self.defect_atoms, -np.einsum("i,idc->dc", dq, d_drd))
                np.add.at(forces, self.defect_atoms, -grad_q)
                virial += self._electrostatic_virial(lattice, frac, dq)
        volume = abs(np.linalg.det(lattice))
        stress = -0.5 * (virial + virial.T) / volume * EV_A3_TO_KBAR

        projections = None
        if self.phys.want_projections:
            projections = self._projections(tb, vecs, order, is_tb, tb_index, flat, n_flat_below)
        populations, magnet = self._atom_populations(
            tb, vecs, is_tb, tb_index, occ, weights, flat, order, n_flat_below, scale
        )
        efermi = max(mus)
        return Result(
            e_free,
            e_wo,
            e_free - 0.5 * ent,
            comps,
            forces,
            stress,
            eig_spin,
            occ,
            efermi,
            projections,
            populations,
            magnet,
            potential,
            float(magnet.sum()) if spins == 2 else 0.0,
            extra={"defect_field": fld, "mus": mus, "dq": dq},
        )

    # --------------------------------------------------------------------------- helpers
    def _exchange_split(
        self, tb, vecs, eig, order, is_tb, tb_index, occ, weights, channels, sigma, capacity, d_orbital
    ):
        """First-order Stoner splitting of the spin channels by the moments on W 5d (one shot)."""
        stoner = self.p["exchange_splitting"]["stoner_I"]
        nk, nb = eig.shape
        dweight = np.zeros((nk, nb, self.natoms))
        moment = np.zeros(self.natoms)
        for ik in range(nk):
            sel = is_tb[ik]
            v = vecs[ik][:, tb_index[ik, sel]]
            w_orb = (np.abs(v) ** 2) * d_orbital[:, None]
            per_atom = np.zeros((self.natoms, v.shape[1]))
            np.add.at(per_atom, tb.basis.atom_of_orbital, w_orb)
            dweight[ik][sel] = per_atom.T
            moment += weights[ik] * per_atom @ (occ[0, ik, sel] - occ[1, ik, sel])
        shift = 0.5 * stoner * np.einsum("kba,a->kb", dweight, moment)
        eig_spin = np.stack([eig - shift, eig + shift])
        new_occ = np.zeros_like(occ)
        mus = []
        for s in range(2):
            mu = fermi_level(eig_spin[s], weights, channels[s], sigma, self.phys.ismear, capacity)
            new_occ[s] = occupation((eig_spin[s] - mu) / sigma, self.phys.ismear)
            mus.append(mu)
        return eig_spin, new_occ, mus

    def _projections(self, tb, vecs, order, is_tb, tb_index, flat, n_flat_below):
        """|<orbital|band>|^2 per atom and lm column: (nk, nbands, natoms, 9) float32."""
        nk, nb = order.shape
        out = np.zeros((nk, nb, self.natoms, 9), np.float32)
        col_of_orb = np.concatenate([COLUMN_OF_SHELL[tb.basis.shell[a]] for a in range(self.natoms)])
        atom_of_orb = tb.basis.atom_of_orbital
        for ik in range(nk):
            sel = np.nonzero(is_tb[ik])[0]
            v = vecs[ik][:, tb_index[ik, sel]]
            w = (np.abs(v) ** 2).T  # (nsel, n_orb)
            out[ik][sel[:, None], atom_of_orb[None, :], col_of_orb[None, :]] = w
            flat_sel = np.nonzero(~is_tb[ik])[0]
            idx = order[ik, flat_sel]
            flat_idx = np.where(idx < n_flat_below, idx, idx - tb.basis.size)
            atoms = flat.atom[flat_idx]
            cols = flat.column[flat_idx]
            ok = atoms >= 0
            out[ik, flat_sel[ok], atoms[ok], cols[ok]] = 1.0
        return out

    def _atom_populations(self, tb, vecs, is_tb, tb_index, occ, weights, flat, order, n_flat_below, scale):
        """s/p/d electrons and moments per atom (OUTCAR 'total charge' / 'magnetization (x)')."""
        spins = occ.shape[0]
        pops = np.zeros((spins, self.natoms, 3))
        lcol = {"s": 0, "p": 1, "d": 2}
        l_of_orb = np.array([lcol[tb.basis.shell[a]] for a in tb.basis.atom_of_orbital])
        key = tb.basis.atom_of_orbital * 3 + l_of_orb
        sc_l = np.where(flat.column == 0, 0, 1)
        for ik in range(len(weights)):
            sel = np.nonzero(is_tb[ik])[0]
            w2 = np.abs(vecs[ik][:, tb_index[ik, sel]]) ** 2
            fl = np.nonzero(~is_tb[ik])[0]
            idx = order[ik, fl]
            fidx = np.where(idx < n_flat_below, idx, idx - tb.basis.size)
            ok = flat.atom[fidx] >= 0
            for s in range(spins):
                f = occ[s, ik] * scale * weights[ik]
                per = np.bincount(key, weights=w2 @ f[sel], minlength=3 * self.natoms).reshape(-1, 3)
                pops[s] += per
                np.add.at(pops[s], (flat.atom[fidx][ok], sc_l[fidx][ok]), f[fl][ok])
        total = pops.sum(axis=0)
        magnet = (pops[0] - pops[1]) if spins == 2 else np.zeros_like(total)
        return total, magnet

    def _electrostatic_virial(self, lattice, frac, dq, h: float = 1e-5) -> np.ndarray:
        """d(E_q + sum_i dq_i U_i)/d(strain) by central differences at fixed charges."""
        hkl = self.field(lattice, frac).hkl
        vir = np.zeros((3, 3))

        def energy(lat):
            fld = DefectField(lat, self.defect_charges, frac[self.defect_atoms], self.sigma_q, self.eps, hkl=hkl)
            return fld.charge_energy()[0] + float(np.sum(dq * fld.electron_potential(frac)))

        for a in range(3):
            for b in range(a, 3):
                eps = np.zeros((3, 3))
                eps[a, b] = eps[b, a] = h if a != b else h
                scale = 0.5 if a != b else 1.0
                ep = energy(lattice @ (np.eye(3) + eps))
                em = energy(lattice @ (np.eye(3) - eps))
                val = (ep - em) / (2 * h) * scale
                vir[a, b] = vir[b, a] = val
        return vir
