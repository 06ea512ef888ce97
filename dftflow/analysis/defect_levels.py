"""Defect levels: the defect cell's band-edge and in-gap states, classified and placed against the host.

1. Locate the defect by matching the defect cell to the pristine supercell (locate.py).
2. Potential alignment: dV = mean over the farther half of the atoms of V_core(defect) - V_core(pristine)
   (OUTCAR's "average (electrostatic) potential at core"); E_host = E_defect - dV.
3. Reference edges (host scale): the pristine supercell's VBM and CBM over its SCF mesh AND, when given,
   its band-structure run (weighted points and zero-weight path: Gamma included, where the SCF mesh of a
   Monkhorst-Pack grid may have no point). The table reports where each edge was found.
4. Band-edge states (band_edge_states.py, pydefect's method): per spin, the defect cell's host-like VBM and
   CBM bands; the bands between them are in-gap orbitals; carriers in the host-like bands are perturbed
   host states (shallow donor / acceptor).
5. Classes: an in-gap orbital whose k-mean energy lies inside the reference gap is a *localised in-gap*
   level (the table's rows); one whose k-mean lies beyond a reference edge is *resonant*; the host-like
   edge bands, and host-like bands beyond them within the energy criterion of those, are *perturbed host*
   states (they hold the defect's carriers when it is shallow). Resonant and perturbed-host states are reported in
   their own sections, never as levels.

Energies are compared like with like: each level's E_CBM - e(k) and e(k) - E_VBM at every weighted k-point
of the defect cell against the one reference edge, reported as the k-weighted mean with min and max.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dftflow.analysis import band_edge_states as bes
from dftflow.analysis.band_edges import band_edges, run_band_edges
from dftflow.analysis.locate import distances_to_defects, locate_defects
from dftflow.analysis.orbitals import ipr
from dftflow.analysis.spatial import extent

DISPERSION_FLAG = 0.1  # eV: a level dispersing more than this interacts with its periodic images
NEIGHBOUR_FACTOR = 1.3  # pydefect/doped: neighbours lie within 1.3 x the shortest interatomic distance of the defect
LEVEL = "localised in-gap"
RESONANT = "resonant"
PERTURBED = "perturbed host"


@dataclass
class Level:
    kind: str  # LEVEL, RESONANT or PERTURBED
    band: int  # 1-based, as VASP numbers bands
    spin: str  # "up", "down", or "up+down" for a spin-degenerate pair
    occupation: float  # k-weighted mean, per spin channel (0..1)
    below_cbm: float  # E_CBM - e, k-weighted mean
    below_cbm_min: float
    below_cbm_max: float
    above_vbm: float  # e - E_VBM, k-weighted mean
    above_vbm_min: float
    above_vbm_max: float
    dispersion: float  # max - min of e(k) over the weighted k-points
    dispersive: bool  # dispersion > DISPERSION_FLAG
    p_ratio: float  # weight on the defect's neighbour atoms (pydefect's P-ratio)
    ipr_ratio: float  # IPR relative to the pristine band edge it lies nearer to
    radius: float  # half-weight radius around the defect centre, A
    localised: bool  # pydefect's radius criterion on the atom weights
    orbital_diff: float  # to the nearer pristine edge state (doped's normalised pydefect difference)
    atoms: list[dict] = field(default_factory=list)
    extent: dict | None = None  # spatial.Extent of a localised in-gap level (its shape and size)


@dataclass
class DefectLevels:
    label: str
    defect: str  # e.g. "V_O", "V_O + V_O", "H_i"
    alignment: float  # dV, eV
    alignment_spread: float  # std of the far-atom differences, eV
    reference_vbm: float  # host scale, aligned into the defect cell by adding dV
    reference_cbm: float
    reference_source: str  # where the reference edges were found
    host_gap: (
        float | None
    )  # defect cell: host-like VBM band to host-like CBM band, defect states excluded (None: unclassified)
    ks_gap: float  # defect cell: highest occupied to lowest unoccupied state (defect states included)
    highest_occupied: float  # defect cell scale
    metallic: bool
    donor_phs: bool
    acceptor_phs: bool
    criteria: list = field(default_factory=list)  # per spin: (orbital, energy) criteria used
    thresholds: dict = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    resonant: list[Level] = field(default_factory=list)
    perturbed_host: list[Level] = field(default_factory=list)
    highlighted: list[tuple[int, int]] = field(default_factory=list)  # (spin, 0-based band) of the levels
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def potential_alignment(defect_run, pristine_run, sites) -> tuple[float, float, list[str]]:
    v_def = defect_run.task.output.core_potentials
    v_pri = pristine_run.task.output.core_potentials
    if not v_def or not v_pri or not sites.pairs:
        return 0.0, 0.0, ["no core potentials: band edges not aligned (dV = 0)"]
    dist = distances_to_defects(defect_run.structure, sites.centers)
    pairs = [(i, j) for i, j in sites.pairs if i < len(v_def) and j < len(v_pri)]
    far = sorted(pairs, key=lambda p: -dist[p[0]])[: max(1, len(pairs) // 2)]
    diffs = np.array([v_def[i] - v_pri[j] for i, j in far])
    return float(diffs.mean()), float(diffs.std()), []


def reference_edges(pristine, pristine_bands=None) -> tuple[float, float, str]:
    """Pristine VBM and CBM over the SCF mesh and, when given, the band-structure run; and where each is."""
    mesh = run_band_edges(pristine)["all"]
    vbm, cbm = (mesh.vbm, "SCF mesh"), (mesh.cbm, "SCF mesh")
    if pristine_bands is not None:
        both = run_band_edges(pristine_bands)["all"]
        where = "band-structure run"
        if both.vbm > vbm[0]:
            vbm = (both.vbm, f"{where} at {_k_text(both.vbm_label, both.vbm_kpoint)}")
        if both.cbm < cbm[0]:
            cbm = (both.cbm, f"{where} at {_k_text(both.cbm_label, both.cbm_kpoint)}")
    return vbm[0], cbm[0], f"VBM: {vbm[1]}; CBM: {cbm[1]}"


def _k_text(label, kpoint) -> str:
    from dftflow.vasp.kpoints import GAMMA_LABELS

    if label in GAMMA_LABELS:
        return "Γ"
    return label or "(" + ", ".join(f"{0.0 if abs(x) < 5e-4 else x:.3g}" for x in kpoint) + ")"


def neighbour_atoms(structure, centers: np.ndarray) -> list[int]:
    """pydefect's neighbours: atoms within 1.3 x the shortest interatomic distance of a defect centre."""
    dm = structure.distance_matrix
    shortest = float(dm[dm > 0.5].min())
    dist = distances_to_defects(structure, centers)
    return [int(i) for i in np.nonzero(dist <= NEIGHBOUR_FACTOR * shortest)[0]]


def defect_levels(
    defect_run, pristine_run, pristine_bands=None, defect_bands=None, supercell=(1, 1, 1)
) -> DefectLevels:
    """Classified band-edge and in-gap states of a defect cell's hybrid static (see the module docstring).

    `pristine_bands`: the pristine supercell's band-structure run (reference edges including the path);
    `defect_bands`: the defect cell's own band-structure run (host and KS gaps including its path);
    `supercell`: the cell's multiples of the unit cell (the lattice a level's plane is indexed in)."""
    sites = locate_defects(defect_run.structure, pristine_run.structure)
    dv, spread, notes = potential_alignment(defect_run, pristine_run, sites)
    ref_vbm, ref_cbm, source = reference_edges(pristine_run, pristine_bands)
    highest, ks_gap, is_metal = _occupied_edges(defect_run, defect_bands)
    out = DefectLevels(
        label=defect_run.label,
        defect=sites.summary(),
        alignment=dv,
        alignment_spread=spread,
        reference_vbm=ref_vbm + dv,
        reference_cbm=ref_cbm + dv,
        reference_source=source,
        host_gap=None,
        ks_gap=ks_gap,
        highest_occupied=highest,
        metallic=bool(is_metal or highest > ref_cbm + dv + 0.05),
        donor_phs=False,
        acceptor_phs=False,
        thresholds={
            "criteria (orbital difference, energy eV)": list(bes.CRITERIA),
            "perturbed-host carriers per spin": bes.OCCUPIED_THRESHOLD,
            "localised: half-weight radius below (A)": bes.LOCALISED_RADIUS,
            "localised: and below this fraction of the uniform radius": bes.LOCALISED_FRACTION,
            "dispersion flag (eV)": DISPERSION_FLAG,
        },
        notes=notes,
    )
    if defect_run.projections() is None or pristine_run.projections() is None:
        out.notes.append("no projections stored: band-edge states cannot be classified, no levels reported")
        return out
    if defect_run.projections().orbitals is None or pristine_run.projections().orbitals is None:
        out.notes.append("no l-resolved projections stored: band-edge states cannot be classified")
        return out
    dist = distances_to_defects(defect_run.structure, sites.centers)
    neighbours = neighbour_atoms(defect_run.structure, sites.centers)
    states = bes.classify(defect_run, pristine_run, dv, neighbours, dist)
    out.notes += states.notes
    out.criteria = [list(s.criteria) for s in states.spins]
    out.donor_phs = any(s.donor_phs for s in states.spins)
    out.acceptor_phs = any(s.acceptor_phs for s in states.spins)
    out.host_gap = _host_gap(defect_run, defect_bands, states)
    out.thresholds["uniform half-weight radius (A)"] = states.uniform_radius
    out.thresholds["neighbour atoms (P-ratio)"] = len(neighbours)
    host_ipr = _host_iprs(pristine_run)
    rows: list[tuple[bes.StateInfo, str]] = []
    for spin_edges in states.spins:
        for st in states.in_gap(spin_edges.spin):
            rows.append((st, LEVEL if ref_vbm < st.energy < ref_cbm else RESONANT))
        rows += _perturbed(states, spin_edges)
    unit = defect_run.structure.lattice.matrix / np.asarray(supercell, dtype=float)[:, None]
    for st, kind, spin in _collapse_spins(rows):
        level = _level(st, kind, spin, ref_vbm, ref_cbm, host_ipr, 0.5 * (ref_vbm + ref_cbm))
        if kind == LEVEL:
            weights = bes.state_weights(defect_run, st.spin, st.band)
            level.extent = extent(weights, defect_run.structure, dist, unit).as_dict()
        {LEVEL: out.levels, RESONANT: out.resonant, PERTURBED: out.perturbed_host}[kind].append(level)
    out.highlighted = sorted((st.spin, st.band) for st, kind in rows if kind == LEVEL)
    for group in (out.levels, out.resonant, out.perturbed_host):
        group.sort(key=lambda lv: (lv.below_cbm, lv.band))
    return out


def _perturbed(states: bes.BandEdgeStates, edges: bes.SpinEdges):
    """Host-like states of one spin: its VBM-like and CBM-like bands and the host-like bands beyond them whose
    k-mean lies within the energy criterion of that edge band's (the top of the valence band and the bottom
    of the conduction band as the defect perturbs them)."""
    de = edges.criteria[1]
    vbm = states.states.get((edges.spin, edges.vbm_band))
    cbm = states.states.get((edges.spin, edges.cbm_band))
    out = []
    for (spin, band), st in sorted(states.states.items()):
        if spin != edges.spin:
            continue
        near_cbm = cbm is not None and band >= edges.cbm_band and st.energy < cbm.energy + de
        near_vbm = vbm is not None and band <= edges.vbm_band and st.energy > vbm.energy - de
        if near_cbm or near_vbm:
            out.append((st, PERTURBED))
    return out


def _collapse_spins(rows, tol: float = 1e-3):
    """(state, kind, spin text): a band whose two spins agree (energy within 1 meV, same occupation and class)
    is one row "up+down"; otherwise one row per spin."""
    out, used = [], set()
    for i, (st, kind) in enumerate(rows):
        if i in used:
            continue
        twin = next(
            (
                j
                for j, (other, other_kind) in enumerate(rows)
                if j not in used
                and j != i
                and other.band == st.band
                and other.spin != st.spin
                and other_kind == kind
                and abs(other.energy - st.energy) < tol
                and abs(other.occupation - st.occupation) < 0.01
            ),
            None,
        )
        used.add(i)
        if twin is not None:
            used.add(twin)
            out.append((st, kind, "up+down"))
        else:
            out.append((st, kind, "up" if st.spin == 0 else "down"))
    return out


def _level(st: bes.StateInfo, kind, spin, ref_vbm, ref_cbm, host_ipr, mid) -> Level:
    reference_ipr = host_ipr[1] if st.energy > mid else host_ipr[0]
    return Level(
        kind=kind,
        band=st.band + 1,
        spin=spin,
        occupation=st.occupation,
        below_cbm=ref_cbm - st.energy,
        below_cbm_min=ref_cbm - st.energy_max,
        below_cbm_max=ref_cbm - st.energy_min,
        above_vbm=st.energy - ref_vbm,
        above_vbm_min=st.energy_min - ref_vbm,
        above_vbm_max=st.energy_max - ref_vbm,
        dispersion=st.energy_max - st.energy_min,
        dispersive=bool(st.energy_max - st.energy_min > DISPERSION_FLAG),
        p_ratio=st.p_ratio,
        ipr_ratio=st.ipr / reference_ipr if reference_ipr > 0 else float("nan"),
        radius=st.radius,
        localised=st.localised,
        orbital_diff=st.orbital_diff,
        atoms=st.atoms,
    )


def _host_iprs(pristine) -> tuple[float, float]:
    """IPR of the pristine VBM and CBM states (the reference a state's localisation is quoted against)."""
    weighted = pristine.weights > 0 if (pristine.weights > 0).any() else np.ones(len(pristine.weights), dtype=bool)
    vbm, cbm = bes.host_edges(pristine, weighted)
    proj = pristine.projections()
    k_full = np.nonzero(weighted)[0]
    out = []
    for edge in (vbm, cbm):
        k = next(int(i) for i in k_full if np.abs(pristine.kpoints[i] - np.asarray(edge.kpoint)).sum() < bes.K_TOL)
        out.append(ipr(proj.weights[edge.spin, k, edge.band - proj.first_band].astype(float)))
    return out[0], out[1]


def _eigen_sets(defect_run, defect_bands):
    """The runs whose k-points the gaps are taken over: the static, and its band-structure run if any."""
    return [defect_run] if defect_bands is None else [defect_run, defect_bands]


def _occupied_edges(defect_run, defect_bands) -> tuple[float, float, bool]:
    """Highest occupied state, KS gap (highest occupied to lowest unoccupied state over the static's mesh and
    the band-structure run) and whether the cell is metallic there. A state counts as occupied above half
    filling (a smeared hole keeps a few per cent: pymatgen's 1e-8 rule would count it as filled); on the
    zero-weight path points a band's filling comes from the mesh (band_edges.run_band_edges)."""
    mesh = band_edges(
        defect_run.eigenvalues, defect_run.occupations, defect_run.kpoints, occupied=defect_run.occupations > 0.5
    )
    edges = [mesh] + ([run_band_edges(defect_bands)["all"]] if defect_bands is not None else [])
    vbm, cbm = max(e.vbm for e in edges), min(e.cbm for e in edges)
    return vbm, max(cbm - vbm, 0.0), any(e.is_metal for e in edges)


def _host_gap(defect_run, defect_bands, states: bes.BandEdgeStates) -> float:
    """Host-like VBM band maximum to host-like CBM band minimum over every k-point computed for the cell."""
    vbm, cbm = -np.inf, np.inf
    for run in _eigen_sets(defect_run, defect_bands):
        for edges in states.spins:
            if edges.spin < run.eigenvalues.shape[0]:
                vbm = max(vbm, float(run.eigenvalues[edges.spin, :, edges.vbm_band].max()))
                cbm = min(cbm, float(run.eigenvalues[edges.spin, :, edges.cbm_band].min()))
    return max(cbm - vbm, 0.0)
