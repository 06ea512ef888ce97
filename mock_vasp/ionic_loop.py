"""The ionic loop of one run: evaluate, write the step's records, check convergence, move the ions.

A relaxation (IBRION 1/2/3, NSW > 1) of a large cell with an automatic mesh takes its ionic steps on
the cheaper force k-set (kpoints.force_mesh: half the subdivisions, Gamma-centred, with a density
floor; README "Relaxation").  When those steps have converged - or at the last allowed step, or at a
STOPCAR - the same geometry is evaluated once more on the KPOINTS set, and that evaluation is the last
ionic step written: its energy, forces, eigenvalues, charges and every end-of-run file are those of
KPOINTS.  Its forces can exceed EDIFFG by the k-point error of the force set (the convergence test was
made on the force set).  OUTCAR lists eigenvalues only for steps computed on KPOINTS.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

from mock_vasp.errors import VaspError
from mock_vasp.inputs import read_stopcar
from mock_vasp.relax import Coordinates, Optimizer
from mock_vasp.scf_history import history, start_offset
from mock_vasp.write_text import OSZICAR_HEADER, ionic_line, poscar_text, scf_line

if TYPE_CHECKING:
    from mock_vasp.run import Run

KBAR_EV_A3 = 1.0 / 1602.1766208


def evaluate(run: Run, lattice, frac, kset, final: bool):
    """One energy/force evaluation on a k-set; `final` keeps what the end-of-run files need."""
    keep_zero = final and (run.lorbit >= 10 or run.lpard)
    result = run.model.evaluate(lattice, frac, kset.kpts, kset.weights, keep_zero_weight=keep_zero)
    result.extra["on_kpoints_file"] = kset is run.kplan.physics
    return result


def ionic_steps(run: Run, fresh: bool):
    """Run every ionic step; returns (lattice, frac, result) of the last one (on the KPOINTS set)."""
    d = run.dir
    oszicar = open(d / "OSZICAR", "w")
    coords = Coordinates(run.lattice0, run.frac0, run.isif, run.poscar.selective)
    optimizer = Optimizer(run.ibrion, run.potim, coords)
    x = coords.to_x(run.frac0, np.zeros(6))
    relaxing = run.ibrion in (1, 2, 3)
    nsteps = max(run.nsw, 1) if relaxing else 1
    kset = run.kplan.force if (relaxing and nsteps > 1 and run.kplan.force is not None) else run.kplan.physics
    if kset is not run.kplan.physics:
        run.say(f" ionic steps on the cheaper force k-set ({len(kset)} points), then on KPOINTS (mock-vasp)")
    prev_energy = None
    walltime = run.faults.pending("walltime")
    if walltime:
        run.faults.fire(walltime)
    lattice, frac, result = run.lattice0, run.frac0, None

    def converged_at(res, grad) -> bool:
        if nsteps <= 1:
            return False
        if run.ediffg < 0:
            return coords.max_force(grad) < abs(run.ediffg)
        return prev_energy is not None and abs(res.energy_free - prev_energy) < run.ediffg

    for n in range(1, nsteps + 1):
        t_step = time.time()
        if (f := run.faults.due("frozen", n)) is not None:
            run.faults.fire(f)
            run.out.flush()
            time.sleep(float(os.environ.get("MOCK_VASP_FROZEN_SECONDS", "3600")))
        lattice, frac, _ = coords.from_x(x)
        result = evaluate(run, lattice, frac, kset, final=kset is run.kplan.physics)
        grad = coords.gradient(x, result.forces, -result.stress_kbar * KBAR_EV_A3 * abs(np.linalg.det(lattice)))
        converged = converged_at(result, grad)
        lstop, labort = read_stopcar(d)
        if kset is not run.kplan.physics and (converged or n == nsteps or lstop or labort):
            run.say(" ionic steps done on the force k-set: final evaluation on the k-points of KPOINTS")
            result = evaluate(run, lattice, frac, run.kplan.physics, final=True)
        _write_step(run, n, oszicar, lattice, frac, result, prev_energy, fresh, t_step, walltime)
        prev_energy = result.energy_free
        lstop, labort = read_stopcar(d)
        if lstop or labort:
            run.say(" soft stop encountered!  aborting job")
            run.outcar.message(" soft stop encountered!  aborting job")
            break
        if converged:
            run.say(" reached required accuracy - stopping structural energy minimisation")
            run.outcar.message(" reached required accuracy - stopping structural energy minimisation")
            break
        if n < nsteps:
            run.vasprun.end_calculation()
            x = optimizer.step(x, result.energy_free, grad, run.natoms)
            run.say(f" BRION: g(F)=  {float(np.mean(result.forces**2)):.3E} g(S)=  0.000E+00")
    oszicar.close()
    if not result.extra["on_kpoints_file"]:  # a STOPCAR written while the step ran
        result = evaluate(run, lattice, frac, run.kplan.physics, final=True)
    return lattice, frac, result


def _write_step(run: Run, n: int, oszicar, lattice, frac, result, prev_energy, fresh, t_step, walltime) -> None:
    nelm_fault = run.faults.pending("nelm")
    force_nelm = nelm_fault is not None and n >= nelm_fault.ionic
    if force_nelm and n == nelm_fault.ionic:
        run.faults.fire(nelm_fault)
    offset = start_offset(
        run.natoms, fresh and n == 1, None if n == 1 else (result.energy_free - prev_energy), run.params["scf"]
    )
    if n == 1 and not fresh:
        offset = start_offset(run.natoms, False, None, run.params["scf"])
    steps = history(
        result.energy_free,
        offset,
        run.ediff,
        run.nelm,
        run.nelmin,
        run.algo,
        run.physics.nbands,
        len(run.kplan.physics),
        f"{run.system}|{n}|{result.energy_free:.8f}",
        fresh and n == 1,
        run.nelmdl,
        force_nelm,
        run.params["scf"],
    )
    if n == 1:
        run.say(OSZICAR_HEADER.rstrip("\n"))
        oszicar.write(OSZICAR_HEADER)
    mag = result.total_magnetization if run.physics.ispin == 2 else None
    dt = (time.time() - t_step) / max(len(steps), 1)
    for i, st in enumerate(steps, start=1):
        line = scf_line(i, st)
        oszicar.write(line)
        run.say(line)
        run.outcar.scf_step(n, i, st, run.physics.nelect, mag, dt)
        run.electronic_faults(n, i)
    de = steps[-1].energy - (prev_energy if prev_energy is not None else 0.0)
    iline = ionic_line(n, result, de, mag)
    oszicar.write(iline)
    oszicar.flush()
    run.say(iline)
    if walltime:
        time.sleep(walltime.delay)
    loop_time = time.time() - t_step
    run.vasprun.calculation(lattice, frac, steps, result, loop_time)
    run.outcar.ionic_end(run, n, lattice, frac, result, len(steps) < run.nelm, loop_time)
    (run.dir / "CONTCAR").write_text(
        poscar_text(run.poscar.comment, lattice, run.poscar.species, run.poscar.counts, frac, run.poscar.selective)
    )
    if (f := run.faults.due("killed", n)) is not None:
        run.faults.fire(f)
        run.log_and_kill()
    if (f := run.faults.due("zbrent", n)) is not None:
        run.faults.fire(f)
        raise VaspError(
            " ZBRENT: fatal error in bracketing\n     please rerun with smaller EDIFF, or copy "
            "CONTCAR\n     to POSCAR and continue"
        )
