"""The arrays of a finished run, as blob contents: eigenvalues, DOS, near-gap projections, LOCPOT averages.

They are stored beside the task document (GridFS or files), never inside it: a 256-atom hybrid run's
arrays are far beyond MongoDB's 16 MB document limit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pymatgen.electronic_structure.core import Spin

from dftflow.vasp.outputs import find_file

PROJECTION_WINDOW = 3.0  # eV beyond the band edges whose per-atom projections are kept for defect analysis
FAR_SIDE = 6.0  # eV kept above the highest occupied and below the lowest empty state, whichever reaches further


def run_arrays(vasprun, directory: Path) -> dict[str, dict]:
    """Eigenvalues, DOS, near-gap projections (and LOCPOT planar averages) as blob contents; a run without
    eigenvalues (machine-learned MD, BSE, ...) has none of the first three."""
    spins = [Spin.up, Spin.down] if vasprun.is_spin else [Spin.up]
    if not vasprun.eigenvalues:
        return _locpot_arrays(directory)
    eig = np.array([vasprun.eigenvalues[s][..., 0] for s in spins])
    occ = np.array([vasprun.eigenvalues[s][..., 1] for s in spins])
    kpts = np.array(vasprun.actual_kpoints)
    weights = np.array(vasprun.actual_kpoints_weights)
    labels = _kpoint_labels(directory, len(kpts))
    arrays = {
        "eigenvalues": {
            "arrays": {"eigenvalues": eig, "occupations": occ, "kpoints": kpts, "weights": weights},
            "meta": {
                "efermi": vasprun.efermi,
                "labels": labels,
                "reciprocal_lattice": vasprun.final_structure.lattice.reciprocal_lattice.matrix,
            },
        },
    }
    dos = _dos_arrays(vasprun, spins)
    if dos is not None:
        arrays["dos"] = dos
    projections = projection_window(vasprun, spins, eig, occ, weights)
    if projections is not None:
        arrays["projections"] = projections
    return {**arrays, **_locpot_arrays(directory)}


def _locpot_arrays(directory: Path) -> dict:
    """The planar averages of LOCPOT along a, b, c (the Freysoldt correction's input), if the run wrote one."""
    locpot = find_file(directory, "LOCPOT", required=False)
    if locpot is None:
        return {}
    from pymatgen.io.vasp import Locpot

    pot = Locpot.from_file(str(locpot))
    return {
        "locpot": {
            "arrays": {f"axis{i}": np.array(pot.get_average_along_axis(i)) for i in range(3)},
            "meta": {"lattice": pot.structure.lattice.matrix},
        }
    }


def _dos_arrays(vasprun, spins: list) -> dict | None:
    """Energies, total DOS and the element/orbital-type sums of the partial DOS, exactly as pymatgen's
    ``complete_dos.get_element_spd_dos`` gives them (same additions in the same order), but from the run's
    ``tdos`` and ``pdos`` directly: building the CompleteDos of a 256-atom cell costs ~20,000 Site
    comparisons (its dict of sites) for nothing the task document needs."""
    tdos, pdos = getattr(vasprun, "tdos", None), getattr(vasprun, "pdos", None)
    if tdos is None or pdos is None:  # pymatgen's own path (and its errors) for anything unusual
        dos = vasprun.complete_dos
        tdos, pdos = dos, list(dos.pdos.values())
    if tdos is None or not len(tdos.energies):
        return None
    arrays = {"energies": np.array(tdos.energies), "total": np.array([tdos.densities[s] for s in spins])}
    structure = vasprun.final_structure
    for element in structure.composition.elements if pdos else []:
        by_type: dict = {}  # as CompleteDos.get_element_spd_dos: sites in order, orbitals in order
        for site, atom_dos in zip(structure, pdos, strict=True):
            if site.specie == element:
                for orbital, densities in atom_dos.items():
                    kind = getattr(orbital, "orbital_type", orbital)  # Orbital -> OrbitalType
                    if kind not in by_type:
                        by_type[kind] = densities
                    else:  # pymatgen's add_densities
                        by_type[kind] = {s: np.array(by_type[kind][s]) + np.array(densities[s]) for s in by_type[kind]}
        for kind, densities in by_type.items():
            arrays[f"{element.symbol}_{kind.name}"] = np.array([densities[s] for s in spins])
    meta = {"efermi": tdos.efermi}
    if pdos:  # per site and orbital (atom, orbital, spin, grid): what rebuilds the run's CompleteDos
        orbitals = list(pdos[0])
        partial = getattr(vasprun, "partial_dos", None)
        if partial is not None and partial.shape[1] == len(spins):  # the reader's own array, as a view
            arrays["pdos"] = partial[..., 1:].transpose(0, 3, 1, 2)
        else:
            arrays["pdos"] = np.array([[[site[o][s] for s in spins] for o in orbitals] for site in pdos])
        meta["orbitals"] = [o.name for o in orbitals]
        meta["orbital_kind"] = "lm" if hasattr(orbitals[0], "orbital_type") else "l"
    return {"arrays": arrays, "meta": meta}


def projection_window(vasprun, spins, eig, occ, weights) -> dict | None:
    """Projections of the bands within PROJECTION_WINDOW of the gap, as blob contents: per-atom sums
    (spin, k, band, atom) and, when the run was read with its orbitals, per-element sums for l = s, p, d, f
    (spin, k, band, element, 4): what pydefect's orbital character is made of."""
    full = vasprun.projected_eigenvalues  # {Spin: (k, band, atom, orbital)} when read with projections="full"
    l_sums = getattr(vasprun, "l_projections", None)  # (spin, k, band, atom, l): FastVasprun(projections="l")
    per_atom = getattr(vasprun, "atom_projections", None)  # (spin, k, band, atom), summed over orbitals
    if per_atom is None and full:  # a plain pymatgen Vasprun
        per_atom = np.array([full[s].sum(axis=3) for s in spins])
    if per_atom is None:
        return None
    lo, hi = _window(eig, occ, weights)
    arrays = {"weights": per_atom[:, :, lo:hi, :].astype(np.float32)}
    meta = {"first_band": lo}
    if full or l_sums is not None:
        structure = vasprun.final_structure
        elements = sorted(structure.symbol_set)
        if l_sums is not None:  # the same sums (numpy's, bit for bit), made while reading
            by_l = l_sums[:, :, lo:hi]
        else:
            window = np.stack([full[s][:, lo:hi] for s in spins])  # (spin, k, band, atom, orbital)
            by_l = np.stack([window[..., idx].sum(axis=-1) for idx in _l_columns(window.shape[-1])], axis=-1)
        by_l = np.concatenate([by_l, np.zeros((*by_l.shape[:-1], 4 - by_l.shape[-1]))], axis=-1)
        arrays["orbitals"] = np.stack(
            [by_l[:, :, :, structure.indices_from_symbol(el), :].sum(axis=3) for el in elements], axis=3
        )
        meta["elements"] = elements
    return {"arrays": arrays, "meta": meta}


def _l_columns(n_orbitals: int) -> list[list[int]]:
    """Orbital columns of each l (s, p, d[, f]), as FastVasprun(projections="l") groups them."""
    from dftflow.vasp.vasprun_numbers import l_columns

    return l_columns(n_orbitals)


def _window(eig: np.ndarray, occ: np.ndarray, weights: np.ndarray) -> tuple[int, int]:
    """Band index range from PROJECTION_WINDOW below the highest occupied state to PROJECTION_WINDOW above
    the lowest empty one, widened to FAR_SIDE above the highest occupied and below the lowest empty state:
    in a defect cell the lowest empty state may be a hole at the VBM (or the highest occupied one an
    electron in the conduction band), and both host band edges must still be inside. Occupied and
    empty are told apart on the weighted (SCF) points only: on the zero-weight points of a band-structure
    run VASP derives occupations from the mesh's Fermi level, so valence states there can look empty."""
    use = weights > 0 if (weights > 0).any() else np.ones(len(weights), dtype=bool)
    e, o = eig[:, use], occ[:, use]
    occupied, empty = e[o > 0.5], e[o <= 0.5]
    vbm = occupied.max() if occupied.size else eig.min()
    cbm = empty.min() if empty.size else eig.max()
    low, top = min(vbm - PROJECTION_WINDOW, cbm - FAR_SIDE), max(cbm + PROJECTION_WINDOW, vbm + FAR_SIDE)
    near = np.any((eig >= low) & (eig <= top), axis=(0, 1))
    idx = np.nonzero(near)[0]
    return (int(idx.min()), int(idx.max()) + 1) if len(idx) else (0, eig.shape[2])


def _kpoint_labels(directory: Path, nkpts: int) -> list[str | None]:
    """Labels of an explicit KPOINTS list (band-structure runs), else all None."""
    path = find_file(directory, "KPOINTS", required=False)
    if path is None:
        return [None] * nkpts
    from pymatgen.io.vasp import Kpoints

    try:
        kpoints = Kpoints.from_file(str(path))
    except Exception:
        return [None] * nkpts
    labels = list(kpoints.labels or [])
    return labels if len(labels) == nkpts else [None] * nkpts
