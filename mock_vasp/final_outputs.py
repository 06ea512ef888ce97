"""The files written once, at the end of a run: eigenvalues, DOS, projections, volumetric data, restart.

Projections are never held for every k-point at once: they are made from the kept eigenvector data
one (k-point, spin) at a time (`ReportedBands.projections`), once for the partial DOS and once more
while vasprun.xml and PROCAR are streamed, so a 256-atom hybrid run with LORBIT stays within a few
hundred MB however many k-points KPOINTS lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mock_vasp.dielectric import run_response
from mock_vasp.dos import energy_grid, partial_dos, total_dos
from mock_vasp.partial_charge import occupied_only, write_partial_charges
from mock_vasp.restart import write_wavecar
from mock_vasp.volumetric import density_grid, locpot_grid, write_volumetric
from mock_vasp.write_response import outcar_text, vasprun_text
from mock_vasp.write_text import doscar_text, eigenval_text, ibzkpt_text

if TYPE_CHECKING:
    from mock_vasp.model import Result
    from mock_vasp.run import Run


class ReportedBands:
    """Bands at the reported k-points (KPOINTS/IBZKPT order), each spin sorted by energy."""

    def __init__(self, run: Run, result: Result):
        self.result = result
        self.natoms = run.natoms
        self.index = run.kplan.report_to_physics
        eig = result.eigenvalues[:, self.index, :]
        occ = result.occupations[:, self.index, :]
        self.order = np.argsort(eig, axis=2, kind="stable")
        self.eig = np.take_along_axis(eig, self.order, 2)
        self.occ = np.take_along_axis(occ, self.order, 2)
        self._cache = (None, None)

    def projections(self, spin: int, k: int) -> np.ndarray:
        """(nbands, natoms, 9) lm-projections at reported k-point k for one spin, in energy order."""
        ik = int(self.index[k])
        if self._cache[0] != ik:
            self._cache = (ik, self.result.bands.projections(ik, self.natoms))
        return self._cache[1][self.order[spin, k]]


def write_final_outputs(run: Run, lattice, frac, result: Result) -> None:
    d = run.dir
    ph = run.physics
    rb = ReportedBands(run, result)
    eig, occ = rb.eig, rb.occ
    kset = run.kplan.report
    response = run_response(run, lattice, frac, result)
    if response is not None:
        run.vasprun.write(vasprun_text(response))
    run.vasprun.eigenvalues(eig, occ)
    grid = energy_grid(eig, run.nedos, ph.sigma, *(_emin_emax(run.incar)))
    deg = 2.0 if ph.ispin == 1 else 1.0
    tdos = np.zeros((ph.ispin, len(grid)))
    idos = np.zeros_like(tdos)
    for s in range(ph.ispin):
        tdos[s], idos[s] = total_dos(eig[s], kset.weights, grid, ph.sigma, deg)
    want_projections = run.lorbit >= 10
    pdos = None
    if want_projections:
        pdos = np.stack(
            [
                partial_dos(eig[s], kset.weights, lambda k, s=s: rb.projections(s, k), grid, ph.sigma, deg)
                for s in range(ph.ispin)
            ]
        )
    run.vasprun.dos(result.efermi, grid, tdos, idos, pdos)
    if want_projections:
        with open(d / "PROCAR", "wb") as procar:
            run.vasprun.projected(eig, occ, rb.projections, procar_sink=(procar, kset, run.natoms))
    run.vasprun.end_calculation()
    run.vasprun.finish(lattice, frac, run.poscar.selective)
    (d / "EIGENVAL").write_text(
        eigenval_text(run.system, run.natoms, ph.ispin, ph.nelect, lattice, kset.kpts, kset.weights, eig, occ)
    )
    (d / "DOSCAR").write_bytes(doscar_text(run.system, run.natoms, lattice, result.efermi, grid, tdos, idos, pdos))
    (d / "IBZKPT").write_text(ibzkpt_text(kset))
    species, counts = run.poscar.species, run.poscar.counts
    if run.incar.get("LVHAR", False) or run.incar.get("LVTOT", False):
        pot = locpot_grid(lattice, frac, run.atom_species, run.params, result.extra["defect_field"], run.fine_grid)
        write_volumetric(d / "LOCPOT", run.system, lattice, species, counts, frac, [pot])
    if run.incar.get("LCHARG", True) or (run.lpard and occupied_only(run.incar)):
        pops = result.populations.sum(axis=1)
        blocks = [density_grid(lattice, frac, pops, 0.6, run.fine_grid)]
        if ph.ispin == 2:
            blocks.append(density_grid(lattice, frac, result.magnetization.sum(axis=1), 0.6, run.fine_grid))
        write_volumetric(d / "CHGCAR", run.system, lattice, species, counts, frac, blocks)
    if run.incar.get("LWAVE", True):
        write_wavecar(d / "WAVECAR", kset.kpts, ph.nbands, ph.ispin, eig, run.encut)
    if response is not None:
        run.outcar.message(outcar_text(response, np.asarray(frac, float) @ np.asarray(lattice, float)))
    if run.lpard and not occupied_only(run.incar):
        names = write_partial_charges(run, rb, lattice, frac)
        run.say(" partial charge density written to " + " ".join(names) + " (mock-vasp model output)")


def _emin_emax(incar: dict):
    emin = incar.get("EMIN")
    emax = incar.get("EMAX")
    if emin is not None and emax is not None and float(emin) < float(emax):
        return float(emin), float(emax)
    return None, None


__all__ = ["ReportedBands", "write_final_outputs"]
