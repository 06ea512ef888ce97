"""Partial (band- and k-decomposed) charge densities, LPARD = .TRUE., written as VASP names them.

Selection, following VASP's tags (NBMOD = -1, neither IBAND nor EINT: the occupied density goes to
CHGCAR and no PARCHG is written, as VASP does): IBAND (1-based band list; NBMOD = its length), or EINT = E1 E2 with
NBMOD = -2 (absolute eigenvalues, the default with EINT) or -3 (relative to E-fermi); NBMOD = 0 takes
every band.  KPUSE (1-based k-points of IBZKPT) restricts the k-points and, as in VASP, resets every
k-point weight to 1.  Every selected state counts fully, occupied or not (2 electrons per band and
k-point weight for ISPIN = 1, 1 per spin channel for ISPIN = 2), so one band over all k-points holds 2.

Files: PARCHG (everything summed), PARCHG.BBBB.ALLK per band (LSEPB), PARCHG.ALLB.KKKK per k-point
(LSEPK), PARCHG.BBBB.KKKK per band and k-point (both); CHGCAR layout (POSCAR header, fine grid NGXF,
density x volume) with a second, magnetisation block for ISPIN = 2.  pymatgen's Chgcar reads them.

The model's |psi_nk(r)|^2 is the state's lm-projection weight on every atom spread as a normalised
Gaussian around that atom (width by species, `partial_charge.width` in params.yaml); padding levels
beyond the tight-binding states carry no projections and are spread evenly over the cell.  So the
density integrates to the right electron count and sits where the state's weight is, not more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mock_vasp.errors import VaspError
from mock_vasp.volumetric import density_grid, write_volumetric

if TYPE_CHECKING:
    from mock_vasp.final_outputs import ReportedBands
    from mock_vasp.run import Run


def _int_list(value) -> list[int]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise VaspError(f"ERROR: expected a list of integers, got {value}")
    return list(values)


def selection(run: Run, rb: ReportedBands) -> tuple[list[tuple[int, int, int]], dict]:
    """Selected (spin, k, band) states (0-based) and the per-(spin, k) weights."""
    inc = run.incar
    ispin, nk, nb = rb.eig.shape
    kset = run.kplan.report
    kpoints = list(range(nk))
    weights = np.asarray(kset.weights, float)
    if "KPUSE" in inc:
        kpoints = [k - 1 for k in _int_list(inc["KPUSE"])]
        if any(k < 0 or k >= nk for k in kpoints):
            raise VaspError(f"ERROR: KPUSE lists k-points outside 1..{nk}")
        weights = np.ones(nk)
    nbmod = inc.get("NBMOD")
    if "IBAND" in inc:
        bands = [b - 1 for b in _int_list(inc["IBAND"])]
        if any(b < 0 or b >= nb for b in bands):
            raise VaspError(f"ERROR: IBAND lists bands outside 1..NBANDS = {nb}")
        if nbmod is not None and int(nbmod) != len(bands):
            raise VaspError(f"ERROR: NBMOD = {nbmod} but IBAND lists {len(bands)} bands")
        chosen = [(s, k, b) for s in range(ispin) for k in kpoints for b in bands]
    elif nbmod is not None and int(nbmod) == 0:
        chosen = [(s, k, b) for s in range(ispin) for k in kpoints for b in range(nb)]
    else:
        window = inc.get("EINT")
        if not isinstance(window, list) or len(window) != 2 or not float(window[0]) < float(window[1]):
            raise VaspError(f"ERROR: EINT = {window} must be two energies E1 < E2")
        mode = -2 if nbmod is None else int(nbmod)
        if mode not in (-2, -3):
            raise VaspError(f"ERROR: NBMOD = {nbmod} with EINT must be -2 (absolute) or -3 (relative to E-fermi)")
        lo, hi = float(window[0]), float(window[1])
        if mode == -3:
            lo, hi = lo + rb.result.efermi, hi + rb.result.efermi
        chosen = [(s, k, b) for s in range(ispin) for k in kpoints for b in range(nb) if lo <= rb.eig[s, k, b] <= hi]
    return chosen, {"weights": weights, "degeneracy": 2.0 if ispin == 1 else 1.0}


def occupied_only(incar: dict) -> bool:
    """NBMOD = -1 (the default without IBAND and EINT): VASP writes the occupied states' density to
    CHGCAR and no PARCHG."""
    return "IBAND" not in incar and "EINT" not in incar and int(incar.get("NBMOD", -1)) == -1


def write_partial_charges(run: Run, rb: ReportedBands, lattice, frac) -> list[str]:
    """Write the PARCHG file(s) of this run; returns their names."""
    chosen, info = selection(run, rb)
    if not chosen:
        run.say(" WARNING: LPARD: no state in the selected bands / energy window; PARCHG is empty")
    sepb, sepk = bool(run.incar.get("LSEPB", False)), bool(run.incar.get("LSEPK", False))
    ispin = rb.eig.shape[0]
    natoms = run.natoms
    widths = np.array([run.params["partial_charge"]["width"][s] for s in run.atom_species])
    files: dict[str, np.ndarray] = {}  # name -> (ispin, natoms + 1) electrons on atoms, last = uniform
    cache: dict[tuple[int, int], np.ndarray] = {}
    for s, k, b in chosen:
        if (s, k) not in cache:
            cache.clear()
            cache[(s, k)] = rb.projections(s, k).sum(axis=2)  # (nb, natoms)
        on_atoms = cache[(s, k)][b].astype(np.float64)
        total = float(on_atoms.sum())
        amount = info["weights"][k] * info["degeneracy"]
        name = "PARCHG"
        if sepb or sepk:
            name = f"PARCHG.{f'{b + 1:04d}' if sepb else 'ALLB'}.{f'{k + 1:04d}' if sepk else 'ALLK'}"
        acc = files.setdefault(name, np.zeros((ispin, natoms + 1)))
        acc[s, :natoms] += amount * on_atoms
        acc[s, natoms] += amount * max(0.0, 1.0 - total)  # weight the projections do not hold
    if not files:
        files["PARCHG"] = np.zeros((ispin, natoms + 1))
    species, counts = run.poscar.species, run.poscar.counts
    for name, acc in sorted(files.items()):
        up = density_grid(lattice, frac, acc[0, :natoms], widths, run.fine_grid, uniform=acc[0, natoms])
        blocks = [up]
        if ispin == 2:
            down = density_grid(lattice, frac, acc[1, :natoms], widths, run.fine_grid, uniform=acc[1, natoms])
            blocks = [up + down, up - down]
        write_volumetric(run.dir / name, f"{run.system} partial charge", lattice, species, counts, frac, blocks)
    return sorted(files)
