"""A finished VASP directory -> summary and task document (scalars) + arrays (stored as blobs).

Reads with pymatgen (Vasprun, Outcar, Locpot). The functional is recorded from the run's own
parameters as base GGA, LHFCALC, AEXX and HFSCREEN, never as pymatgen's run_type label, which calls
any 0.2 <= HFSCREEN <= 0.21 run "HSE06" (even HSEsol, even AEXX = 0.28). Works on any VASP directory,
including ones not made by dftflow; a missing or corrupted file is an InputError naming it.
"""

from __future__ import annotations

import datetime
import gzip
import json
import warnings
from pathlib import Path

import numpy as np
from pymatgen.electronic_structure.core import Spin

from dftflow import __version__
from dftflow.errors import InputError
from dftflow.vasp.parchg import parchg_arrays

MOCK_MARKER = "mock-vasp"
PROJECTION_WINDOW = 3.0  # eV beyond the band edges whose per-atom projections are kept for defect analysis
FAR_SIDE = 6.0  # eV kept above the highest occupied and below the lowest empty state, whichever reaches further
INPUTS_RECORD = "dftflow_inputs.json"  # written by dftflow next to the inputs: label, hash, study context


def find_file(directory: Path, name: str, required: bool = True) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    if required:
        raise InputError(f"{directory}: no {name} (or {name}.gz): not a finished VASP run directory")
    return None


def load_vasprun(directory: Path, projections: bool = True):
    """The run's vasprun.xml through dftflow's fast reader (a pymatgen Vasprun subclass with the same
    numbers, several times faster and a fraction of the memory on big hybrid runs; see vasprun_fast.py).
    With `projections`, the projections' per-atom sums (`atom_projections`) and per-atom sums by l
    (`l_projections`, what projection_window needs) are summed while reading: the full projections of a
    256-atom run would double the reader's memory."""
    from dftflow.vasp.vasprun_fast import FastVasprun, VasprunCorruptedError

    path = find_file(directory, "vasprun.xml")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unconverged-run warnings: reported in the summary instead
            return FastVasprun(str(path), projections="l" if projections else None)
    except VasprunCorruptedError:
        raise
    except Exception as exc:  # anything else a damaged file makes a parser raise
        raise InputError(
            f"{path}: cannot be parsed ({type(exc).__name__}: {exc}); the run is incomplete or corrupted"
        ) from exc


def load_outcar(directory: Path):
    from pymatgen.io.vasp import Outcar

    path = find_file(directory, "OUTCAR", required=False)
    if path is None:
        return None
    try:
        return Outcar(str(path))
    except Exception as exc:
        raise InputError(f"{path}: cannot be parsed ({type(exc).__name__}: {exc})") from exc


RELAX_DONE = "reached required accuracy"
SOFT_STOP = "soft stop encountered"


def read_text(directory: Path, name: str) -> str:
    import gzip

    for path, opener in ((directory / name, open), (directory / f"{name}.gz", gzip.open)):
        if path.is_file():
            with opener(path, "rt", errors="replace") as fh:
                return fh.read()
    return ""


def unfinished(directory: str | Path, incar: dict | None = None) -> str | None:
    """Why a run that custodian let through is still not a result, or None when it is.

    VASP stopped by STOPCAR (custodian's WalltimeHandler writes one before the scheduler's limit) exits
    cleanly, and pymatgen then calls a relaxation with fewer ionic steps than NSW "converged"; so a
    relaxation counts as finished only when VASP wrote "reached required accuracy"."""
    from pymatgen.io.vasp import Incar

    directory = Path(directory)
    if SOFT_STOP in read_text(directory, "vasp.out"):
        return "VASP was stopped by STOPCAR (walltime) before it finished; rerun to continue from CONTCAR"
    if incar is None:
        text = read_text(directory, "INCAR")
        incar = Incar.from_str(text) if text else {}
    if int(incar.get("NSW", 0)) > 0 and int(incar.get("IBRION", -1)) in (1, 2, 3):
        if RELAX_DONE not in read_text(directory, "OUTCAR"):
            return f"the relaxation did not reach its EDIFFG criterion within NSW = {incar.get('NSW')} steps"
    return None


def executor_of(vasprun, directory: Path) -> str:
    """'mock' when mock-vasp wrote the run (its generator / OUTCAR header say so), else 'vasp'."""
    if any(MOCK_MARKER in str(v) for v in (vasprun.generator or {}).values()):
        return "mock"
    outcar = find_file(directory, "OUTCAR", required=False)
    if outcar is not None:
        opener = gzip.open if outcar.suffix == ".gz" else open
        with opener(outcar, "rt", errors="replace") as fh:
            if MOCK_MARKER in fh.read(2000):
                return "mock"
    return "vasp"


def functional_of(parameters: dict) -> dict:
    """Base GGA, LHFCALC, AEXX, HFSCREEN and LDAU from the run's parameters, plus a truthful label."""
    gga = str(parameters.get("GGA", "PE") or "PE").strip().upper()
    gga = {"--": "PE"}.get(gga, gga)  # vasprun writes '--' for the POTCAR default (PBE POTCARs)
    hybrid = bool(parameters.get("LHFCALC", False))
    aexx = float(parameters.get("AEXX", 0.25 if hybrid else 0.0)) if hybrid else 0.0
    hfscreen = float(parameters.get("HFSCREEN", 0.0)) if hybrid else 0.0
    ldau = bool(parameters.get("LDAU", False))
    base = {"PE": "PBE", "PS": "PBEsol", "91": "PW91", "RP": "revPBE", "AM": "AM05"}.get(gga, f"GGA={gga}")
    if not hybrid:
        label = base
    elif hfscreen == 0:
        label = f"PBE0-type hybrid on {base}, AEXX={aexx:g}"
    elif abs(hfscreen - 0.2) < 0.011:
        name = {"PE": "HSE06", "PS": "HSEsol"}.get(gga, f"HSE on {base}")
        label = name if abs(aexx - 0.25) < 1e-6 else f"{name} (AEXX={aexx:g})"
    else:
        label = f"screened hybrid on {base}, AEXX={aexx:g}, HFSCREEN={hfscreen:g}"
    if ldau:
        label += "+U"
    return {"base_gga": gga, "lhfcalc": hybrid, "aexx": aexx, "hfscreen": hfscreen, "ldau": ldau, "label": label}


def band_edges(vasprun) -> dict:
    """Gap, VBM, CBM and directness as pymatgen computes them (eigenvalue_band_properties)."""
    gap, cbm, vbm, direct = vasprun.eigenvalue_band_properties
    return {
        "bandgap": float(gap),
        "cbm": float(cbm),
        "vbm": float(vbm),
        "is_gap_direct": bool(direct),
        "is_metal": bool(gap <= 0),
    }


def run_summary(directory: str | Path) -> dict:
    """What `dftflow parse` prints for any VASP run directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"not a directory: {directory}")
    vasprun = load_vasprun(directory, projections=False)
    params = vasprun.parameters
    return {
        "directory": str(directory),
        "executor": executor_of(vasprun, directory),
        "formula": vasprun.final_structure.composition.formula.replace(" ", ""),
        "nsites": len(vasprun.final_structure),
        "energy": float(vasprun.final_energy),
        "efermi": float(vasprun.efermi) if vasprun.efermi is not None else None,
        **band_edges(vasprun),
        "nelect": float(params.get("NELECT")),
        "ispin": int(params.get("ISPIN", 1)),
        "encut": _encut(vasprun),
        **{k: v for k, v in functional_of(params).items() if k != "lhfcalc"},
        "lhfcalc": bool(params.get("LHFCALC", False)),
        "nkpoints": len(vasprun.actual_kpoints),
        "nkpoints_zero_weight": int(sum(1 for w in vasprun.actual_kpoints_weights if w == 0)),
        "converged_electronic": bool(vasprun.converged_electronic),
        "converged_ionic": bool(vasprun.converged_ionic),
        "pymatgen_run_type": vasprun.run_type,
    }


def _encut(vasprun) -> float:
    """ENCUT as run: vasprun's parameters call it ENMAX; the INCAR echo has ENCUT."""
    return float(vasprun.incar.get("ENCUT") or vasprun.parameters.get("ENMAX") or vasprun.parameters.get("ENCUT") or 0)


def _inputs_record(directory: Path) -> dict:
    path = directory / INPUTS_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def task_document(directory: str | Path, context: dict | None = None) -> tuple[dict, dict]:
    """(document, arrays) for the results database. `context`: study, system, step, defect, ..."""
    directory = Path(directory)
    vasprun = load_vasprun(directory, projections=True)
    outcar = load_outcar(directory)
    params, record = vasprun.parameters, _inputs_record(directory)
    context = {**record.get("context", {}), **(context or {})}
    edges = band_edges(vasprun)
    structure = vasprun.final_structure
    forces = np.array(vasprun.ionic_steps[-1].get("forces", [[0, 0, 0]])) if vasprun.ionic_steps else np.zeros((1, 3))
    doc = {
        "task_label": record.get("label") or params.get("SYSTEM") or vasprun.incar.get("SYSTEM") or directory.name,
        **context,
        "state": "successful"
        if vasprun.converged_electronic and unfinished(directory, vasprun.incar) is None
        else "unconverged",
        "executor": executor_of(vasprun, directory),
        "executor_version": " ".join(str(v) for v in (vasprun.generator or {}).values()),
        "code_version": f"dftflow {__version__}",
        "dir_name": str(directory.resolve()),
        "completed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "formula": structure.composition.formula.replace(" ", ""),
        "nsites": len(structure),
        "structure": structure.as_dict(),
        "functional": functional_of(params),
        "input": {
            "hash": record.get("input_hash"),
            "incar": dict(vasprun.incar),
            "encut": _encut(vasprun),
            "nelect": float(params.get("NELECT")),
            "nbands": int(params.get("NBANDS", 0)),
            "ispin": int(params.get("ISPIN", 1)),
            "kpoints": {
                "n": len(vasprun.actual_kpoints),
                "n_zero_weight": int(sum(1 for w in vasprun.actual_kpoints_weights if w == 0)),
                "description": record.get("kpoints"),
            },
            "potcar_symbols": list(vasprun.potcar_symbols),
        },
        "output": {
            "energy": float(vasprun.final_energy),
            "energy_per_atom": float(vasprun.final_energy) / len(structure),
            "efermi": float(vasprun.efermi) if vasprun.efermi is not None else None,
            **edges,
            "ionic_steps": len(vasprun.ionic_steps),
            "max_force": float(np.linalg.norm(forces, axis=1).max()),
            "converged_electronic": bool(vasprun.converged_electronic),
            "converged_ionic": bool(vasprun.converged_ionic),
            "total_magnetization": float(outcar.total_mag)
            if outcar is not None and outcar.total_mag is not None
            else None,
            "core_potentials": [float(x) for x in (outcar.electrostatic_potential or [])] if outcar else [],
            "dielectric": dielectric_of(vasprun, outcar),
        },
    }
    arrays = run_arrays(vasprun, directory)
    parchg = parchg_arrays(directory, _defect_centre(context))
    if parchg is not None:
        arrays["parchg"] = parchg
        doc["output"]["parchg_files"] = parchg["meta"]["files"]
    return doc, arrays


def dielectric_of(vasprun, outcar) -> dict | None:
    """Dielectric tensors of a LEPSILON / LCALCEPS run (3x3, VASP's): electronic (ion-clamped, local fields
    in DFT), ionic (IBRION 5-8), and their sum, the static total that screens a relaxed defect; else None."""
    electronic = np.array(vasprun.epsilon_static or [], dtype=float)
    ionic = np.array(vasprun.epsilon_ionic or [], dtype=float)
    if electronic.size == 0 and outcar is not None:
        try:
            outcar.read_lepsilon()
            electronic = np.array(outcar.dielectric_tensor or [], dtype=float)
            outcar.read_lepsilon_ionic()
            ionic = np.array(outcar.dielectric_ionic_tensor or [], dtype=float)
        except Exception:  # not a LEPSILON OUTCAR: pymatgen's regex readers raise on missing blocks
            electronic = np.array([])
    if electronic.shape != (3, 3):
        return None
    ionic = ionic if ionic.shape == (3, 3) else np.zeros((3, 3))
    return {
        "electronic": electronic.tolist(),
        "ionic": ionic.tolist(),
        "total": (electronic + ionic).tolist(),
        "method": "LEPSILON" if vasprun.incar.get("LEPSILON") else "LCALCEPS",
    }


def _defect_centre(context: dict):
    """Fractional coordinates of the defects' centroid from the study context (None outside dftflow)."""
    sites = (context.get("defect") or {}).get("sites") or []
    coords = [s["frac_coords"] for s in sites if "frac_coords" in s]
    return np.mean(coords, axis=0) if coords else None


def run_arrays(vasprun, directory: Path) -> dict[str, dict]:
    """Eigenvalues, DOS, near-gap projections (and LOCPOT planar averages) as blob contents."""
    spins = [Spin.up, Spin.down] if vasprun.is_spin else [Spin.up]
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
    locpot = find_file(directory, "LOCPOT", required=False)
    if locpot is not None:
        from pymatgen.io.vasp import Locpot

        pot = Locpot.from_file(str(locpot))
        arrays["locpot"] = {
            "arrays": {f"axis{i}": np.array(pot.get_average_along_axis(i)) for i in range(3)},
            "meta": {"lattice": pot.structure.lattice.matrix},
        }
    return arrays


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
    return {"arrays": arrays, "meta": {"efermi": tdos.efermi}}


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
