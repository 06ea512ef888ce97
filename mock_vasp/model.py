"""The model behind mock-vasp's numbers: energies, forces, stress and bands of one geometry.

    E = sum_k w_k sum_n f_nk e_nk (tight-binding bands)         band energy
        - sum_i U_i n_i^0                                        (defect potential acts on net charges)
        + E_q                                                    defect charges + background
        + E_pair                                                 Born-Mayer repulsion + bond valence
        - (1/4) sum_i I_i m_i^2                                  Stoner exchange (spin-polarised, M > 0)
        + sum_i E_ref(species_i)                                 atomic reference energies
        - T S                                                    smearing (free energy, as VASP's TOTEN)

Semicore levels (W 5s/5p, O 2s) are flat, site-local states at fixed energies plus the local defect
potential; they are reported as bands and hold their electrons but are frozen cores for the energy.
Bands above the tight-binding manifold that NBANDS asks for are flat, projection-free padding levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mock_vasp.band_filling import (
    COLUMN_OF_SHELL,
    FilledBands,
    Filling,
    LevelTable,
    atom_populations,
    fill,
    spin_channels,
    tb_occupation_total,
)
from mock_vasp.band_solver import density_matrix, parallel_map, solve
from mock_vasp.classical import bond_valence_energy, pair_energy
from mock_vasp.electrostatics import DefectField
from mock_vasp.neighbours import pairs_within
from mock_vasp.tight_binding import TightBinding

EV_A3_TO_KBAR = 1602.1766208


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
    magmom_sum: float = 0.0


@dataclass
class Result:
    """Everything the writers need from one evaluation."""

    energy_free: float
    energy_no_entropy: float
    energy_sigma0: float
    components: dict
    forces: np.ndarray
    stress_kbar: np.ndarray
    eigenvalues: np.ndarray  # (ispin, nk, nbands), in the (spin-independent) band order of `bands`
    occupations: np.ndarray  # (ispin, nk, nbands), 0..1 per spin channel
    efermi: float
    bands: FilledBands  # eigenvector data for projections and partial charges
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
        wells = es.get("electron_well", {})  # a site's own well as the electrons feel it (eps, sigma)
        own = [wells.get(self.species[a], {}) for a in self.defect_atoms]
        self.electron_eps = np.array([float(w.get("eps", self.eps)) for w in own])
        self.electron_sigma = np.array([float(w.get("sigma", self.sigma_q)) for w in own])
        ref = params["reference_population"]
        self.n0 = np.array([ref[s] for s in self.species], float)
        self.channels = None  # electrons per spin channel, fixed by the first evaluation
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
        n_below = len(e) - n_pad
        return LevelTable(np.array(e, float), np.array(atom, int), np.array(col, int), n_below)

    # ---------------------------------------------------------------------- evaluation
    def field(self, lattice, frac) -> DefectField:
        return DefectField(
            lattice,
            self.defect_charges,
            frac[self.defect_atoms],
            self.sigma_q,
            self.eps,
            electron_eps=self.electron_eps,
            electron_sigma=self.electron_sigma,
        )

    def stoner_parameters(self) -> np.ndarray:
        table = self.p["exchange_splitting"]["stoner_I"]
        return np.array([float(table.get(s, 0.0)) for s in self.species])

    def solve_bands(self, lattice, frac, kpts, weights, keep_zero_weight: bool = False):
        """Tight-binding bands of one geometry: (TightBinding, defect field, potential, FilledBands)."""
        fld = self.field(lattice, frac)
        potential = fld.electron_potential(frac)
        tb = TightBinding(lattice, frac, self.species, self.p["tight_binding"])
        onsite = self.onsite(tb, potential)
        keep = ["vectors" if w > 0 else ("squares" if keep_zero_weight else "values") for w in weights]
        kb = solve(tb, onsite, kpts, weights, keep)
        flat = self.flat_levels(potential, tb.basis.size, float(kb.eigenvalues.max()))
        return tb, fld, potential, FilledBands(kb, flat, tb.basis, self.phys.nbands)

    def choose_filling(self, bands: FilledBands) -> Filling:
        """Occupations of the spin configuration: at the first evaluation of a run the lowest free energy
        of M = M0, M0 + 2, ... (stopping at the first rise, at most |sum MAGMOM|); kept for the rest of
        the run, as VASP follows its moment from one ionic step to the next (so energies and forces stay
        continuous along a relaxation)."""
        ph = self.phys
        stoner = self.stoner_parameters()
        if self.channels is not None:
            return fill(bands, self.channels, self.natoms, stoner, ph.sigma, ph.ismear)
        best = None
        for channels in spin_channels(ph.nelect, ph.ispin, ph.nupdown, ph.magmom_sum):
            candidate = fill(bands, channels, self.natoms, stoner, ph.sigma, ph.ismear)
            if best is not None and candidate.free_energy >= best.free_energy - 1e-9:
                break
            best = candidate
        self.channels = best.channels
        return best

    def evaluate(
        self, lattice, frac, kpts: np.ndarray, weights: np.ndarray, want_forces: bool = True, keep_zero_weight=False
    ) -> Result:
        lattice = np.asarray(lattice, float)
        frac = np.asarray(frac, float)
        kpts = np.asarray(kpts, float)
        weights = np.asarray(weights, float)
        pairs_within(lattice, frac, self.largest_cutoff())  # one neighbour search for every term below
        tb, fld, potential, bands = self.solve_bands(lattice, frac, kpts, weights, keep_zero_weight)
        filling = self.choose_filling(bands)
        kb = bands.kb
        weighted = [ik for ik in range(len(kb)) if weights[ik] > 0]

        def per_k(ik):
            f = tb_occupation_total(bands, filling, ik)
            rho = density_matrix(kb.vectors[ik], f)
            dens = tb.bond_density(rho, kpts[ik], weights[ik]) if want_forces else None
            return weights[ik] * np.real(np.diag(rho)), dens

        parts = parallel_map(per_k, weighted)
        pops_orb = np.sum([p[0] for p in parts], axis=0) if parts else np.zeros(tb.basis.size)
        density = None
        if want_forces and parts:
            density = [np.sum([p[1][g] for p in parts], axis=0) for g in range(len(tb.groups))]
        n_atom = np.bincount(tb.basis.atom_of_orbital, weights=pops_orb, minlength=self.natoms)
        dq = n_atom - self.n0
        e_u0 = -float(np.sum(potential * self.n0))
        e_q, grad_q, vir_q = fld.charge_energy()
        e_pair, f_pair, vir_pair = pair_energy(lattice, frac, self.species, self.p["pair_potential"])
        e_bv, f_bv, vir_bv = bond_valence_energy(lattice, frac, self.species, self.p["bond_valence"])
        e_pair += e_bv
        f_pair = f_pair + f_bv
        vir_pair = vir_pair + vir_bv
        e_ref = float(sum(self.p["reference_energies"][s] for s in self.species))
        ent = filling.entropy
        e_wo = filling.band_energy + filling.exchange + e_u0 + e_q + e_pair + e_ref
        e_free = e_wo + ent
        comps = {
            "band": filling.band_energy,
            "exchange": filling.exchange,
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
            if fld.active:  # E = sum_i dq_i U_i + E_q at fixed net charges dq (Hellmann-Feynman)
                _, grad_atoms, grad_centres, vir_el = fld.electron_energy(frac, dq)
                forces -= grad_atoms
                np.add.at(forces, self.defect_atoms, -grad_centres - grad_q)
                virial += vir_el + vir_q
        volume = abs(np.linalg.det(lattice))
        stress = -0.5 * (virial + virial.T) / volume * EV_A3_TO_KBAR

        populations, magnet = atom_populations(bands, filling, self.natoms)
        return Result(
            e_free,
            e_wo,
            e_free - 0.5 * ent,
            comps,
            forces,
            stress,
            filling.eig_spin,
            filling.occ,
            max(filling.mus),
            bands,
            populations,
            magnet,
            potential,
            float(magnet.sum()) if self.phys.ispin == 2 else 0.0,
            extra={"defect_field": fld, "mus": filling.mus, "dq": dq, "tb": tb, "filling": filling},
        )

    def largest_cutoff(self) -> float:
        p = self.p
        return max(
            max(h["r_off"] for h in p["tight_binding"]["hopping"].values()),
            max(h["r_off"] for h in p["pair_potential"].values()),
            p["bond_valence"]["r_off"],
            p["core_potential"]["env_cutoff"],
        )
