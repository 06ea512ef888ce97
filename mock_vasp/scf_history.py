"""Electronic (SCF) step history: a deterministic, plausible convergence record.

The model's ground state is found by direct diagonalisation, so there is no real SCF loop; the
history VASP would print is synthesised from it.  The error of step n decays geometrically,
dE_n = A r^(n-1), from a start that depends on how good the initial wavefunctions are (random:
12 eV/atom above the result; WAVECAR restart or a previous ionic step: much less).  The ratio r depends
on ALGO.  The loop stops at the first step whose energy change is below EDIFF (and not before
NELMIN), or at NELM - then the run is electronically unconverged, as VASP would leave it.
A small deterministic wiggle (from a hash of the inputs) keeps the numbers from looking synthetic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass
class ScfStep:
    label: str
    energy: float
    de: float
    deps: float
    ncg: int
    rms: float
    rmsc: float | None


def algo_key(algo: str) -> str:
    a = (algo or "normal").strip().lower()
    if a.startswith("v"):
        return "veryfast"
    if a.startswith("f"):
        return "fast"
    if a.startswith("a") or a.startswith("c"):
        return "all"
    if a.startswith("d"):
        return "damped"
    return "normal"


def history(
    final_energy: float,
    start_offset: float,
    ediff: float,
    nelm: int,
    nelmin: int,
    algo: str,
    nbands: int,
    nkpts: int,
    seed_text: str,
    fresh: bool,
    nelmdl: int,
    force_nelm: bool,
    params: dict,
) -> list[ScfStep]:
    """The electronic steps of one ionic step, ending at `final_energy` unless NELM is hit."""
    key = algo_key(algo)
    ratio = params["ratio"].get(key, params["ratio"]["default"])
    if force_nelm:
        ratio = 0.97  # stalls: the fault 'nelm'
    seed = int(hashlib.sha256(seed_text.encode()).hexdigest()[:12], 16)
    rng = np.random.default_rng(seed)
    amp = max(abs(start_offset), 10 * ediff)
    nsteps = nelm
    for n in range(1, nelm + 1):
        if n >= max(nelmin, 2) and amp * ratio ** (n - 2) * (1 - ratio) < ediff and not force_nelm:
            nsteps = n
            break
    steps: list[ScfStep] = []
    prev = None
    label_of = {"normal": "DAV", "fast": "DAV", "veryfast": "RMM", "all": "SDA", "damped": "SDA"}
    for n in range(1, nsteps + 1):
        if n == nsteps and not force_nelm:
            err = 0.0
        else:
            wiggle = 1.0 + 0.15 * (rng.random() - 0.5)
            err = amp * ratio ** (n - 1) * wiggle
        energy = final_energy + err
        de = energy if prev is None else energy - prev
        if n == nsteps and not force_nelm and prev is not None and abs(de) >= ediff:
            de = np.sign(de) * 0.5 * ediff
            energy = prev + de
        label = label_of[key]
        if key == "fast" and n > (abs(nelmdl) if fresh else 0):
            label = "RMM"
        deps = de * (1.05 + 0.1 * rng.random()) if n > 1 else -abs(final_energy) * 40.0
        ncg = int(nbands * nkpts * (3 if n <= 2 and fresh else 1) * (1 + 0.2 * rng.random()))
        rms = max(abs(err) ** 0.5 * 0.3 + 1e-5, 1e-5)
        rmsc = None if (fresh and n <= abs(nelmdl)) or n == 1 else rms * 0.8
        steps.append(ScfStep(label, energy, de, deps, ncg, rms, rmsc))
        prev = energy
    return steps


def start_offset(natoms: int, fresh: bool, previous_change: float | None, params: dict) -> float:
    """How far above the result the first electronic step starts."""
    if previous_change is not None:
        return max(10.0 * abs(previous_change), params["restart_per_atom"] * natoms * 0.1)
    if fresh:
        return params["first_step_per_atom"] * natoms
    return params["restart_per_atom"] * natoms
