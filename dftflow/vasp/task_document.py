"""A finished VASP directory -> its task document (the typed model in dftflow/taskdoc.py) and arrays.

The document holds the scalars a user queries (dftflow results, the Python API, the ASE export) and
the provenance a referee asks for; the big arrays (eigenvalues, DOS, projections, LOCPOT averages,
partial charges, the relaxation trajectory) go to blobs beside it (run_arrays.py).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
from monty.json import jsanitize

from dftflow import __version__
from dftflow.taskdoc import SCHEMA_VERSION
from dftflow.vasp.outputs import (
    INPUTS_RECORD,
    _encut,
    band_edges,
    executor_of,
    functional_of,
    load_outcar,
    load_vasprun,
    unfinished,
)
from dftflow.vasp.parchg import parchg_arrays
from dftflow.vasp.provenance import magnetic_moments, path_points, potcar_spec, wavecar_read
from dftflow.vasp.run_arrays import run_arrays


def inputs_record(directory: Path) -> dict:
    """The inputs record dftflow wrote beside a run's inputs ({} where there is none)."""
    path = Path(directory) / INPUTS_RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def task_document(directory: str | Path, context: dict | None = None) -> tuple[dict, dict]:
    """(document, arrays) for the results database: the document as taskdoc.TaskDocument validates it.
    `context`: study, system, step, defect, ... (default: the inputs record dftflow wrote)."""
    directory = Path(directory)
    vasprun = load_vasprun(directory, projections=True)
    outcar = load_outcar(directory)
    params, record = vasprun.parameters, inputs_record(directory)
    context = {**record.get("context", {}), **(context or {})}
    structure = vasprun.final_structure
    last = vasprun.ionic_steps[-1] if vasprun.ionic_steps else {}
    has_forces = last.get("forces") is not None and len(last["forces"]) > 0
    forces = np.array(last["forces"], dtype=float) if has_forces else np.zeros((1, 3))
    arrays = run_arrays(vasprun, directory)
    labels = (arrays.get("eigenvalues") or {}).get("meta", {}).get("labels") or []
    doc = {
        "schema_version": SCHEMA_VERSION,
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
        "formula_pretty": structure.composition.reduced_formula,
        "composition": {el.symbol: float(n) for el, n in structure.composition.items()},
        "nsites": len(structure),
        "structure": structure.as_dict(),
        "functional": functional_of(params),
        "input": {
            "hash": record.get("input_hash"),
            "parent_hash": record.get("parent_input_hash"),
            "incar": dict(vasprun.incar),
            "parameters": jsanitize(dict(params)),
            "encut": _encut(vasprun),
            "nelect": float(params.get("NELECT")),
            "nbands": int(params.get("NBANDS", 0)),
            "ispin": int(params.get("ISPIN", 1)),
            "kpoints": {
                "n": len(vasprun.actual_kpoints),
                "n_zero_weight": int(sum(1 for w in vasprun.actual_kpoints_weights if w == 0)),
                "description": record.get("kpoints"),
                "path": path_points(labels, vasprun.actual_kpoints),
            },
            "nkpoints": len(vasprun.actual_kpoints),
            "potcar_spec": potcar_spec(directory, vasprun, record.get("potcar_functional")),
            "wavecar_read": wavecar_read(directory, params),
            "structure_provenance": record.get("provenance"),
        },
        "output": {
            "energy": float(vasprun.final_energy),
            "energy_per_atom": float(vasprun.final_energy) / len(structure),
            "efermi": float(vasprun.efermi) if vasprun.efermi is not None else None,
            **band_edges(vasprun),
            "ionic_steps": len(vasprun.ionic_steps),
            "max_force": float(np.linalg.norm(forces, axis=1).max()),
            "forces": forces.tolist() if has_forces else None,
            "stress": np.array(last["stress"], dtype=float).tolist() if last.get("stress") is not None else None,
            "converged_electronic": bool(vasprun.converged_electronic),
            "converged_ionic": bool(vasprun.converged_ionic),
            "total_magnetization": float(outcar.total_mag)
            if outcar is not None and outcar.total_mag is not None
            else None,
            "magnetization": magnetic_moments(outcar),
            "core_potentials": [float(x) for x in (outcar.electrostatic_potential or [])] if outcar else [],
            "dielectric": dielectric_of(vasprun, outcar),
        },
    }
    parchg = parchg_arrays(directory, _defect_centre(context))
    if parchg is not None:
        arrays["parchg"] = parchg
        doc["output"]["parchg_files"] = parchg["meta"]["files"]
    trajectory = trajectory_arrays(vasprun)
    if trajectory is not None:
        arrays["trajectory"] = trajectory
    return doc, arrays


def trajectory_arrays(vasprun) -> dict | None:
    """A relaxation's ionic steps as blob contents (what an ASE trajectory holds), or None for one step."""
    steps = vasprun.ionic_steps
    if len(steps) < 2:
        return None
    structures = [step["structure"] for step in steps]
    return {
        "arrays": {
            "positions": np.array([s.cart_coords for s in structures]),
            "cells": np.array([s.lattice.matrix for s in structures]),
            "energies": np.array([float(step.get("e_0_energy", step.get("e_fr_energy"))) for step in steps]),
            "free_energies": np.array([float(step.get("e_fr_energy")) for step in steps]),
            "forces": np.array([step.get("forces") for step in steps], dtype=float),
            "stress": np.array(
                [step["stress"] if step.get("stress") is not None else np.zeros((3, 3)) for step in steps], dtype=float
            ),
        },
        "meta": {"symbols": [site.specie.symbol for site in structures[0]]},
    }


def _tensor(value) -> np.ndarray:
    """A tensor as pymatgen (lists, [] when absent) or FastVasprun (arrays, None when absent) gives it."""
    return np.array([] if value is None else value, dtype=float)


def dielectric_of(vasprun, outcar) -> dict | None:
    """Dielectric tensors of a LEPSILON / LCALCEPS run (3x3, VASP's): electronic (ion-clamped, local fields
    in DFT), ionic (IBRION 5-8), and their sum, the static total that screens a relaxed defect; else None."""
    incar = vasprun.incar or {}
    if not (incar.get("LEPSILON") or incar.get("LCALCEPS")):
        return None  # pymatgen's LEPSILON readers would scan the whole OUTCAR (5 s on a 256-atom run) for nothing
    electronic, ionic = _tensor(vasprun.epsilon_static), _tensor(vasprun.epsilon_ionic)
    if electronic.size == 0 and outcar is not None:
        try:
            outcar.read_lepsilon()
            electronic = _tensor(outcar.dielectric_tensor)
            outcar.read_lepsilon_ionic()
            ionic = _tensor(outcar.dielectric_ionic_tensor)
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
