"""Band-edge states of a defect cell, classified the way pydefect does (and doped, which uses its code).

pydefect's method (Kumagai et al., Phys. Rev. Mater. 5, 123803 (2021)), per spin channel:

1. The pristine supercell's band-edge states (VBM and CBM on its SCF mesh) give a reference energy and
   orbital character (element x l projections) at their k-points.
2. In the defect cell, at the same k-point, the VBM-like band is the highest band whose energy is below
   E_VBM + de and whose orbital character differs from the pristine VBM's by less than `orb`; the CBM-like
   band is the lowest band above E_CBM - de with a character within `orb` of the pristine CBM's. (With
   PARCHG files pydefect can also skip bands it finds localised; doped, and dftflow, do not.)
3. The bands strictly between them are the defect's in-gap orbitals. Electrons in the CBM-like band and
   above (holes in the VBM-like band and below) beyond 0.2 per spin make a perturbed host state: a shallow
   donor (acceptor) whose carrier sits in a host-like band.

dftflow follows this with these choices, each stated where it is made:

* Criteria as doped applies them: `orb` = 0.2 and de = max(0.25 eV, |dV| + 0.1 eV) first, then (0.35, 0.5 eV)
  and (0.5, 0.5 eV) if an edge is not found; the pair used is reported. As in doped (and pydefect without
  its optional eigenvalue_shift.yaml) the edge search compares the defect cell's eigenvalues with the
  pristine ones unshifted, and the potential alignment dV widens the energy criterion instead: in small
  cells dV from the core potentials is itself uncertain by about its size. The level table does apply
  dV (defect_levels.py).
* Localisation is measured, not used to classify: every state gets pydefect's P-ratio, the IPR and the
  half-weight radius of its atom-projected weights around the defect centre, and `localised` says whether
  that radius meets pydefect's PARCHG criterion (below 3 A and below 0.7 of a uniform distribution's).
  (Measured on the real GaN Mg_Ga cells: with atom weights placed at the nuclei, host-like N-p states next
  to Mg already pass it in a 32-atom cell, so it cannot stand in for PARCHG in the edge search.)
* Energies are compared like with like: a band's energy at the reference k-point for the edge search;
  for the level table, E(k) at every weighted k-point against the reference edges (k-mean, min, max).

Every threshold here is pydefect's or doped's default; none was fitted to any data dftflow is tested on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dftflow.analysis.orbitals import (
    half_weight_radius,
    ipr,
    orbital_character,
    orbital_difference,
    participation,
    uniform_half_radius,
)
from dftflow.errors import InputError

# (orbital-difference criterion, energy criterion in eV), tried in order (doped's ladder)
CRITERIA = ((0.2, 0.25), (0.35, 0.5), (0.5, 0.5))
OCCUPIED_THRESHOLD = 0.2  # pydefect's state_occupied_threshold: carriers per spin that make a PHS
LOCALISED_RADIUS = 3.0  # A, pydefect's localized_orbital_radius
LOCALISED_FRACTION = 0.7  # pydefect's localized_orbital_fraction_wrt_uniform
K_TOL = 1e-5  # pydefect's k-point match tolerance (sum of |dk|)


@dataclass
class HostEdge:
    """A pristine band-edge state: the reference one side of the defect cell's gap is compared with."""

    band: int  # 0-based
    spin: int
    kpoint: list[float]  # fractional, on the SCF mesh (where the orbital character is taken)
    energy: float  # at that k-point, pristine scale
    orbitals: dict[str, list[float]]


@dataclass
class StateInfo:
    """One band of one spin of the defect cell, averaged over the weighted k-points."""

    band: int  # 0-based
    spin: int
    energy: float  # k-weighted mean, host scale (defect eigenvalue - dV)
    energy_min: float
    energy_max: float
    occupation: float  # k-weighted mean (0..1 per spin channel)
    orbitals: dict[str, list[float]]  # k-weighted mean character
    orbital_diff: float  # to the nearer host edge (VBM for states below mid-gap, else CBM)
    p_ratio: float  # weight on the defect's neighbour atoms (pydefect)
    ipr: float
    radius: float  # half-weight radius around the defect centre, A
    localised: bool
    atoms: list[dict] = field(default_factory=list)  # top atoms: index, species, weight, distance


@dataclass
class SpinEdges:
    """pydefect's BandEdgeState for one spin: the host-like edge bands of the defect cell and what lies between."""

    spin: int
    vbm_band: int
    cbm_band: int
    vbm_orbital_diff: float
    cbm_orbital_diff: float
    vbm_holes: float  # holes in the VBM-like band and below
    cbm_electrons: float  # electrons in the CBM-like band and above
    criteria: tuple[float, float]  # (orbital, energy) criteria that found the edges

    @property
    def acceptor_phs(self) -> bool:
        return self.vbm_holes > OCCUPIED_THRESHOLD

    @property
    def donor_phs(self) -> bool:
        return self.cbm_electrons > OCCUPIED_THRESHOLD


@dataclass
class BandEdgeStates:
    spins: list[SpinEdges]
    states: dict[tuple[int, int], StateInfo]  # (spin, band) -> info, for every band of the projection window
    uniform_radius: float
    neighbours: list[int]  # defect-cell indices of the defect's neighbour atoms (P-ratio)
    notes: list[str] = field(default_factory=list)

    def in_gap(self, spin: int) -> list[StateInfo]:
        edges = self.spins[spin]
        return [self.states[(spin, b)] for b in range(edges.vbm_band + 1, edges.cbm_band) if (spin, b) in self.states]

    def as_dict(self) -> dict:
        return {
            "spins": [{**asdict(s), "acceptor_phs": s.acceptor_phs, "donor_phs": s.donor_phs} for s in self.spins],
            "uniform_radius": self.uniform_radius,
            "neighbours": self.neighbours,
            "notes": self.notes,
        }


def host_edges(pristine, weighted: np.ndarray) -> tuple[HostEdge, HostEdge]:
    """The pristine VBM and CBM states on the SCF mesh (pymatgen's occupation rule), with their character."""
    eig, occ = pristine.eigenvalues[:, weighted], pristine.occupations[:, weighted]
    kpts = pristine.kpoints[weighted]
    proj = pristine.projections()
    occupied = occ > 1e-8
    out = []
    for mask, pick in ((occupied, np.argmax), (~occupied, np.argmin)):
        values = np.where(mask, eig, -np.inf if pick is np.argmax else np.inf)
        s, k, b = np.unravel_index(pick(values), values.shape)
        orbitals = {}
        if proj is not None and proj.orbitals is not None and proj.first_band <= b < proj.first_band + proj.nbands:
            k_full = np.nonzero(weighted)[0][k]
            orbitals = orbital_character(proj.orbitals[s, k_full, b - proj.first_band], proj.elements)
        out.append(HostEdge(int(b), int(s), [float(x) for x in kpts[k]], float(eig[s, k, b]), orbitals))
    return out[0], out[1]


def classify(defect, pristine, dv: float, neighbours, distances) -> BandEdgeStates:
    """Band-edge states of `defect` (RunData) against `pristine`. dV is the potential alignment: the states'
    reported energies are on the host scale (E_defect - dV), and |dV| widens the energy criterion of the
    edge search; `distances`: defect cell atom -> nearest defect centre (A)."""
    weighted = defect.weights > 0 if (defect.weights > 0).any() else np.ones(len(defect.weights), dtype=bool)
    p_weighted = pristine.weights > 0 if (pristine.weights > 0).any() else np.ones(len(pristine.weights), dtype=bool)
    vbm_host, cbm_host = host_edges(pristine, p_weighted)
    proj = defect.projections()
    notes: list[str] = []
    eig = defect.eigenvalues  # the edge search compares unshifted eigenvalues (doped)
    occ = defect.occupations
    criteria = [(CRITERIA[0][0], max(CRITERIA[0][1], abs(dv) + 0.1)), *CRITERIA[1:]]
    w = defect.weights[weighted] / defect.weights[weighted].sum()
    uniform = uniform_half_radius(distances)
    states = _state_infos(defect, proj, eig - dv, occ, weighted, w, neighbours, distances, uniform, vbm_host, cbm_host)
    k_v = _k_index(defect.kpoints, weighted, vbm_host.kpoint, notes, "VBM")
    k_c = _k_index(defect.kpoints, weighted, cbm_host.kpoint, notes, "CBM")
    spins = []
    for spin in range(eig.shape[0]):
        edges = None
        for orb, de in criteria:
            vbm = _edge_band(defect, proj, eig, spin, k_v, vbm_host, orb, de, below=True)
            cbm = _edge_band(defect, proj, eig, spin, k_c, cbm_host, orb, de, below=False)
            if vbm is not None and cbm is not None and vbm[0] < cbm[0]:
                edges = (vbm, cbm, (orb, de))
                break
        if edges is None:
            raise InputError(
                f"{defect.label}: no host-like band edge found in spin {spin} within the criteria {criteria} "
                "(orbital difference, eV): the projections do not resemble the pristine cell's"
            )
        (vbm_band, vbm_diff), (cbm_band, cbm_diff), used = edges
        if used != criteria[0]:
            notes.append(f"spin {spin}: band edges found only with the wider criteria {used} (doped's fallback)")
        full_w = np.zeros(len(defect.weights))
        full_w[weighted] = w
        holes = float(np.einsum("kb,k->", 1 - occ[spin, :, : vbm_band + 1], full_w))
        electrons = float(np.einsum("kb,k->", occ[spin, :, cbm_band:], full_w))
        spins.append(SpinEdges(spin, vbm_band, cbm_band, vbm_diff, cbm_diff, holes, electrons, used))
    return BandEdgeStates(spins, states, uniform, list(neighbours), notes)


def state_weights(defect, spin: int, band: int) -> np.ndarray:
    """A state's atom weights (projections summed over orbitals), k-weighted over the weighted points."""
    proj = defect.projections()
    weighted = defect.weights > 0 if (defect.weights > 0).any() else np.ones(len(defect.weights), dtype=bool)
    w = defect.weights[weighted] / defect.weights[weighted].sum()
    return np.einsum("ka,k->a", proj.weights[spin, weighted, band - proj.first_band].astype(float), w)


def _k_index(kpoints, weighted, target, notes, what) -> int | None:
    for i in np.nonzero(weighted)[0]:
        if np.abs(kpoints[i] - np.asarray(target)).sum() < K_TOL:
            return int(i)
    notes.append(
        f"the pristine {what} k-point {target} is not on the defect cell's mesh: edge bands compared by their "
        "k-weighted mean energy and character instead"
    )
    return None


def _edge_band(defect, proj, eig, spin, k, host: HostEdge, orb, de, below: bool):
    """(band, orbital difference) of the defect cell's host-like VBM (below=True) or CBM, or None."""
    first, last = proj.first_band, proj.first_band + proj.nbands
    bands = range(last - 1, first - 1, -1) if below else range(first, last)
    for b in bands:
        energy = _energy_at(defect, eig, spin, k, b)
        if (below and energy - de < host.energy) or (not below and energy + de > host.energy):
            diff = orbital_difference(_character_at(defect, proj, spin, k, b), host.orbitals)
            if diff < orb:
                return b, diff
    return None


def _energy_at(defect, eig, spin, k, b) -> float:
    if k is not None:
        return float(eig[spin, k, b])
    weighted = defect.weights > 0
    return float(np.average(eig[spin, weighted, b], weights=defect.weights[weighted]))


def _character_at(defect, proj, spin, k, b) -> dict:
    local = b - proj.first_band
    if k is not None:
        return orbital_character(proj.orbitals[spin, k, local], proj.elements)
    weighted = defect.weights > 0
    mean = np.average(proj.orbitals[spin, weighted, local], axis=0, weights=defect.weights[weighted])
    return orbital_character(mean, proj.elements)


def _state_infos(defect, proj, eig, occ, weighted, w, neighbours, distances, uniform, vbm_host, cbm_host):
    mid = 0.5 * (vbm_host.energy + cbm_host.energy)
    symbols = [site.specie.symbol for site in defect.structure]
    out = {}
    for spin in range(eig.shape[0]):
        for local in range(proj.nbands):
            b = proj.first_band + local
            e_k = eig[spin, weighted, b]
            energy = float(np.dot(e_k, w))
            atom_w = np.einsum("ka,k->a", proj.weights[spin, weighted, local].astype(float), w)
            if atom_w.sum() <= 0:
                continue
            character = orbital_character(
                np.einsum("kel,k->el", proj.orbitals[spin, weighted, local], w), proj.elements
            )
            host = vbm_host if energy < mid else cbm_host
            radius = half_weight_radius(atom_w, distances)
            share = atom_w / atom_w.sum()
            top = np.argsort(-share)[:5]
            out[(spin, b)] = StateInfo(
                band=b,
                spin=spin,
                energy=energy,
                energy_min=float(e_k.min()),
                energy_max=float(e_k.max()),
                occupation=float(np.dot(occ[spin, weighted, b], w)),
                orbitals=character,
                orbital_diff=orbital_difference(character, host.orbitals),
                p_ratio=participation(atom_w, neighbours),
                ipr=ipr(atom_w),
                radius=radius,
                localised=bool(radius < LOCALISED_RADIUS and radius < LOCALISED_FRACTION * uniform),
                atoms=[
                    {"index": int(i), "species": symbols[i], "weight": float(share[i]), "distance": float(distances[i])}
                    for i in top
                ],
            )
    return out
