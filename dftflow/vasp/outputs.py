"""Reading a finished VASP directory: its files, whether it finished, who ran it, its functional and gap.

Reads with pymatgen (Vasprun through dftflow's fast reader, Outcar). The functional is recorded from the
run's own parameters as base GGA, LHFCALC, AEXX and HFSCREEN, never as pymatgen's run_type label, which
calls any 0.2 <= HFSCREEN <= 0.21 run "HSE06" (even HSEsol, even AEXX = 0.28). Works on any VASP
directory, including ones not made by dftflow; a missing or corrupted file is an InputError naming it.
The task document (task_document.py) and its arrays (run_arrays.py) are built from what these read.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from dftflow.errors import InputError

MOCK_MARKER = "mock-vasp"
INPUTS_RECORD = "dftflow_inputs.json"  # written by dftflow next to the inputs: label, hash, study context


COMPRESSED = ("", ".gz", ".bz2", ".xz")  # how VASP outputs are found: plain or compressed (custodian gzips)


def find_file(directory: Path, name: str, required: bool = True) -> Path | None:
    for suffix in COMPRESSED:
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    if required:
        raise InputError(f"{directory}: no {name} (nor .gz, .bz2, .xz): not a finished VASP run directory")
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
    """A text output of the run (plain or compressed), or "" when there is none."""
    from monty.io import zopen

    path = find_file(directory, name, required=False)
    if path is None:
        return ""
    with zopen(path, "rt", errors="replace") as fh:
        return fh.read()


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
        from monty.io import zopen

        with zopen(outcar, "rt", errors="replace") as fh:
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


NO_EIGENVALUES = {"bandgap": None, "cbm": None, "vbm": None, "is_gap_direct": None, "is_metal": None}


def band_edges(vasprun) -> dict:
    """Gap, VBM, CBM and directness as pymatgen computes them (eigenvalue_band_properties); all None for
    a run that wrote no eigenvalues (machine-learned MD, BSE, response-function runs). A hybrid band-structure
    run (weighted SCF points + zero-weight path points) classes bands occupied or empty on its weighted
    points, where VASP's occupations are self-consistent (analysis/band_edges.run_band_edges): pymatgen's
    rule counts a conduction state with the few-per-cent occupation VASP gives it on a path point as
    occupied and reports a gap of a few meV."""
    if not vasprun.eigenvalues:
        return dict(NO_EIGENVALUES)
    weights = vasprun.actual_kpoints_weights
    if any(w == 0 for w in weights) and any(w > 0 for w in weights):
        import numpy as np
        from pymatgen.electronic_structure.core import Spin

        from dftflow.analysis.band_edges import band_edges as edges_of

        spins = [Spin.up, Spin.down] if vasprun.is_spin else [Spin.up]
        eig = np.array([vasprun.eigenvalues[s][..., 0] for s in spins])
        occ = np.array([vasprun.eigenvalues[s][..., 1] for s in spins])
        mesh = np.asarray(weights) > 0
        occupied = np.broadcast_to((occ[:, mesh].mean(axis=1) > 0.5)[:, None, :], eig.shape)
        e = edges_of(eig, occ, np.array(vasprun.actual_kpoints), occupied=occupied)
        gap, cbm, vbm, direct = e.gap, e.cbm, e.vbm, e.is_direct
    else:
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
        "eigenvalues": bool(vasprun.eigenvalues),  # False for ML-MD, BSE, response-function runs: no gap
    }


def _encut(vasprun) -> float:
    """ENCUT as run: vasprun's parameters call it ENMAX; the INCAR echo has ENCUT."""
    return float(vasprun.incar.get("ENCUT") or vasprun.parameters.get("ENMAX") or vasprun.parameters.get("ENCUT") or 0)
