"""One mock-vasp run: read and check the inputs, relax or not, and write every output file."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from mock_vasp import MARK_BANNER, VASP_VERSION
from mock_vasp.dos import energy_grid, partial_dos, total_dos
from mock_vasp.electrostatics import defect_sites
from mock_vasp.errors import VaspError
from mock_vasp.faults import FaultPlan
from mock_vasp.inputs import read_incar, read_kpoints, read_poscar, read_potcar, read_stopcar
from mock_vasp.kpoints import plan_kpoints
from mock_vasp.model import Model, Physics
from mock_vasp.neighbours import all_pairs
from mock_vasp.parameters import load_params
from mock_vasp.relax import Coordinates, Optimizer
from mock_vasp.reported_parameters import reported_parameters
from mock_vasp.restart import read_wavecar, write_wavecar
from mock_vasp.scf_history import history, start_offset
from mock_vasp.validation import check_incar, check_nbands, check_nelect, check_species, default_nbands
from mock_vasp.volumetric import density_grid, fft_grid, locpot_grid, write_volumetric
from mock_vasp.write_outcar import OutcarWriter
from mock_vasp.write_text import (
    OSZICAR_HEADER,
    doscar_text,
    eigenval_text,
    ibzkpt_text,
    ionic_line,
    poscar_text,
    procar_bytes,
    scf_line,
)
from mock_vasp.write_vasprun import VasprunWriter


class Run:
    """State of one invocation; `execute()` does the work and returns the exit status."""

    def __init__(self, directory: Path, out=sys.stdout):
        self.dir = directory
        self.out = out
        self.t0 = time.time()
        self.params = load_params()

    def say(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        d = self.dir
        for name in ("INCAR", "POSCAR"):
            if not (d / name).is_file():
                raise VaspError(f"ERROR: file {name} not found in {d}")
        self.incar = read_incar(d / "INCAR")
        self.system = str(self.incar.get("SYSTEM", "unknown system"))
        self.potcars, self.potcar_source = read_potcar(d)
        self.poscar = read_poscar(d / "POSCAR", [p.element for p in self.potcars])
        check_species(self.poscar.species, self.potcars)
        inc = self.incar
        self.natoms = self.poscar.natoms
        self.atom_species = self.poscar.atom_species
        zsum = float(sum(p.zval * n for p, n in zip(self.potcars, self.poscar.counts, strict=True)))
        self.zval_sum = zsum
        nelect = float(inc.get("NELECT", zsum))
        check_nelect(nelect, zsum)
        ispin = int(inc.get("ISPIN", 1))
        mag = inc.get("MAGMOM", [1.0] * self.natoms)
        self.magmom = [float(x) for x in (mag if isinstance(mag, list) else [mag] * self.natoms)]
        nb_default = default_nbands(nelect, self.natoms, ispin, float(sum(self.magmom)))
        nbands = int(inc.get("NBANDS", nb_default))
        lhf = bool(inc.get("LHFCALC", False))
        kpath = d / "KPOINTS"
        if kpath.is_file():
            kfile = read_kpoints(kpath, self.poscar.lattice)
        elif "KSPACING" in inc:
            from mock_vasp.inputs import KpointsFile

            recip = np.linalg.inv(self.poscar.lattice).T * 2 * np.pi
            mesh = tuple(int(max(1, np.ceil(np.linalg.norm(b) / float(inc["KSPACING"])))) for b in recip)
            kfile = KpointsFile("KSPACING", "gamma" if inc.get("KGAMMA", True) else "monkhorst", mesh)
        else:
            raise VaspError("ERROR: file KPOINTS not found and KSPACING not set")
        self.kfile = kfile
        check_incar(inc, self.natoms, kfile.mode == "explicit")
        check_nbands(nbands, nelect)
        self.nsw = int(inc.get("NSW", 0))
        self.ibrion = int(inc.get("IBRION", -1 if self.nsw <= 0 else 0))
        self.isif = int(inc.get("ISIF", 2))
        self.isym = int(inc.get("ISYM", 2))
        self.potim = float(inc.get("POTIM", 0.5))
        self.ediff = float(inc.get("EDIFF", 1e-4))
        self.ediffg = float(inc.get("EDIFFG", 10 * self.ediff))
        self.nelm = int(inc.get("NELM", 60))
        self.nelmin = int(inc.get("NELMIN", 2))
        self.istart = int(inc.get("ISTART", 1 if (d / "WAVECAR").is_file() else 0))
        self.icharg = int(inc.get("ICHARG", 0 if self.istart else 2))
        self.nelmdl = int(inc.get("NELMDL", -5 if self.istart == 0 else 0))
        self.encut = float(inc.get("ENCUT", inc.get("ENMAX", 400.0)))
        self.lorbit = int(inc.get("LORBIT", 0)) if not isinstance(inc.get("LORBIT"), bool) else 0
        self.nedos = int(inc.get("NEDOS", 301))
        self.prec = str(inc.get("PREC", "Normal"))
        self.algo = str(inc.get("ALGO", "Normal"))
        gga = str(inc.get("GGA", "--")).upper()
        self.physics = Physics(
            nelect=nelect,
            nbands=nbands,
            ispin=ispin,
            nupdown=float(inc["NUPDOWN"]) if "NUPDOWN" in inc else None,
            ismear=int(inc.get("ISMEAR", 1)),
            sigma=float(inc.get("SIGMA", 0.2)),
            lhfcalc=lhf,
            aexx=float(inc.get("AEXX", 0.25 if lhf else 0.0)),
            hfscreen=float(inc.get("HFSCREEN", 0.0)),
            gga=gga if gga != "--" else "PE",
            want_projections=self.lorbit >= 10,
        )
        self.lattice0 = self.poscar.lattice
        self.frac0 = self.poscar.frac
        types = [self.poscar.species.index(s) + 1 for s in self.atom_species]
        self.kplan = plan_kpoints(
            kfile, self.lattice0, self.frac0, types, self.isym, float(inc.get("SYMPREC", 1e-5)), lhf
        )
        self.kcomment = kfile.comment
        self.grid, self.fine_grid = fft_grid(self.lattice0, self.encut, self.prec)
        weights = defect_sites(
            self.lattice0, self.frac0, self.atom_species, self.params["defect_charge"]["bond_cutoff"]
        )
        semicore = []
        for s in self.atom_species:
            pot = self.potcars[self.poscar.species.index(s)]
            semicore.append(pot.info.semicore)
        self.model = Model(self.params, self.atom_species, semicore, self.physics, weights, zsum - nelect)
        self.params_out = reported_parameters(self, gga)

    # ------------------------------------------------------------ helpers for writers
    def test_charge_radius(self, species: str) -> float:
        return self.params["core_potential"]["test_charge_radii"][species]

    def core_potentials(self, lattice, frac, result) -> np.ndarray:
        cp = self.params["core_potential"]
        v = np.array([cp["V0"][s] for s in self.atom_species], float)
        pairs = all_pairs(lattice, frac, cp["env_cutoff"])
        env = cp["env_amplitude"] * np.exp(-pairs.r / cp["env_length"])
        v += np.bincount(pairs.i, weights=env, minlength=self.natoms)
        return v + result.electron_potential

    def reported_bands(self, result):
        """(eig, occ) at the reported k-points, each spin sorted ascending; occ 0..1."""
        idx = self.kplan.report_to_physics
        eig = result.eigenvalues[:, idx, :]
        occ = result.occupations[:, idx, :]
        order = np.argsort(eig, axis=2, kind="stable")
        return np.take_along_axis(eig, order, 2), np.take_along_axis(occ, order, 2)

    def reported_projections(self, result, spin: int):
        idx = self.kplan.report_to_physics
        eig = result.eigenvalues[spin][idx]
        order = np.argsort(eig, axis=1, kind="stable")
        proj = result.projections[idx]
        return np.take_along_axis(proj, order[:, :, None, None], axis=1)

    # ---------------------------------------------------------------------- run
    def execute(self) -> int:
        self.faults = FaultPlan(
            self.dir,
            str(read_incar(self.dir / "INCAR").get("SYSTEM", "unknown system"))
            if (self.dir / "INCAR").is_file()
            else "",
        )
        self.say(f" {MARK_BANNER}\n running on    1 total cores\n vasp.{VASP_VERSION} ({MARK_BANNER})")
        self.setup()
        self._startup_faults()
        self.say(
            f" POSCAR found type information on POSCAR  {' '.join(self.poscar.species)}\n"
            f" POSCAR found :  {len(self.poscar.species)} types and {self.natoms:7d} ions\n"
            " POSCAR, INCAR and KPOINTS ok, starting setup"
        )
        fresh = True
        if self.istart >= 1:
            usable, matched, msg = read_wavecar(self.dir / "WAVECAR", self.kplan.report.kpts)
            self.say(msg)
            fresh = not usable or matched < len(self.kplan.report)
        self.say(" entering main loop")
        d = self.dir
        self.vasprun = VasprunWriter(d / "vasprun.xml")
        self.vasprun.header(self)
        self.outcar = OutcarWriter(d / "OUTCAR")
        self.outcar.header(self)
        oszicar = open(d / "OSZICAR", "w")
        coords = Coordinates(self.lattice0, self.frac0, self.isif, self.poscar.selective)
        optimizer = Optimizer(self.ibrion, self.potim)
        x = coords.to_x(self.frac0, np.zeros(6))
        nsteps = max(self.nsw, 1) if self.ibrion in (1, 2, 3) else 1
        prev_energy = None
        walltime = self.faults.pending("walltime")
        if walltime:
            self.faults.fire(walltime)
        lattice, frac = self.lattice0, self.frac0
        status = 0
        result = None
        converged = False
        stopped = False
        for n in range(1, nsteps + 1):
            t_step = time.time()
            if (f := self.faults.due("frozen", n)) is not None:
                self.faults.fire(f)
                self.out.flush()
                time.sleep(float(os.environ.get("MOCK_VASP_FROZEN_SECONDS", "3600")))
            lattice, frac, _ = coords.from_x(x)
            want_proj = self.physics.want_projections and nsteps == 1
            self.model.phys.want_projections = want_proj
            result = self.model.evaluate(lattice, frac, self.kplan.physics.kpts, self.kplan.physics.weights)
            nelm_fault = self.faults.pending("nelm")
            force_nelm = nelm_fault is not None and n >= nelm_fault.ionic
            if force_nelm and n == nelm_fault.ionic:
                self.faults.fire(nelm_fault)
            offset = start_offset(
                self.natoms,
                fresh and n == 1,
                None if n == 1 else (result.energy_free - prev_energy),
                self.params["scf"],
            )
            if n == 1 and not fresh:
                offset = start_offset(self.natoms, False, None, self.params["scf"])
            steps = history(
                result.energy_free,
                offset,
                self.ediff,
                self.nelm,
                self.nelmin,
                self.algo,
                self.physics.nbands,
                len(self.kplan.physics),
                f"{self.system}|{n}|{result.energy_free:.8f}",
                fresh and n == 1,
                self.nelmdl,
                force_nelm,
                self.params["scf"],
            )
            if n == 1:
                self.say(OSZICAR_HEADER.rstrip("\n"))
                oszicar.write(OSZICAR_HEADER)
            mag = result.total_magnetization if self.physics.ispin == 2 else None
            dt = (time.time() - t_step) / max(len(steps), 1)
            for i, st in enumerate(steps, start=1):
                line = scf_line(i, st)
                oszicar.write(line)
                self.say(line)
                self.outcar.scf_step(n, i, st, self.physics.nelect, mag, dt)
                self._electronic_faults(n, i)
            e_final = steps[-1].energy
            de = e_final - (prev_energy if prev_energy is not None else 0.0)
            iline = ionic_line(n, result, de, mag)
            oszicar.write(iline)
            oszicar.flush()
            self.say(iline)
            converged_el = len(steps) < self.nelm
            if walltime:
                time.sleep(walltime.delay)
            loop_time = time.time() - t_step
            self.vasprun.calculation(lattice, frac, steps, result, loop_time)
            self.outcar.ionic_end(self, n, lattice, frac, result, converged_el, loop_time)
            (d / "CONTCAR").write_text(
                poscar_text(
                    self.poscar.comment,
                    lattice,
                    self.poscar.species,
                    self.poscar.counts,
                    frac,
                    self.poscar.selective,
                )
            )
            if (f := self.faults.due("killed", n)) is not None:
                self.faults.fire(f)
                self._log_and_kill()
            if (f := self.faults.due("zbrent", n)) is not None:
                self.faults.fire(f)
                raise VaspError(
                    " ZBRENT: fatal error in bracketing\n     please rerun with smaller EDIFF, or copy "
                    "CONTCAR\n     to POSCAR and continue"
                )
            # convergence
            grad = coords.gradient(x, result.forces, -result.stress_kbar / 1602.1766208 * abs(np.linalg.det(lattice)))
            if nsteps > 1:
                if self.ediffg < 0:
                    converged = coords.max_force(grad) < abs(self.ediffg)
                else:
                    converged = prev_energy is not None and abs(result.energy_free - prev_energy) < self.ediffg
            prev_energy = result.energy_free
            lstop, labort = read_stopcar(d)
            if lstop or labort:
                stopped = True
                self.say(" soft stop encountered!  aborting job")
                self.outcar.message(" soft stop encountered!  aborting job")
                break
            if nsteps > 1 and converged:
                self.say(" reached required accuracy - stopping structural energy minimisation")
                self.outcar.message(" reached required accuracy - stopping structural energy minimisation")
                break
            if n < nsteps:
                self.vasprun.end_calculation()
                x = optimizer.step(x, result.energy_free, grad, self.natoms)
                self.say(f" BRION: g(F)=  {float(np.mean(result.forces**2)):.3E} g(S)=  0.000E+00")
        oszicar.close()
        if self.physics.want_projections and result.projections is None:
            self.model.phys.want_projections = True
            result = self.model.evaluate(
                lattice, frac, self.kplan.physics.kpts, self.kplan.physics.weights, want_forces=False
            )
        self._final_outputs(lattice, frac, result)
        self.outcar.finish(time.time() - self.t0)
        self.say(" writing wavefunctions" if self.incar.get("LWAVE", True) else " done")
        del stopped, converged
        return status

    # ----------------------------------------------------------------- faults
    def _startup_faults(self) -> None:
        f = self.faults
        if (x := f.due("memory", 1)) is not None:
            f.fire(x)
            sys.stderr.write("Allocation would exceed memory limit\n")
            sys.stderr.flush()
            raise VaspError(" mock-vasp: injected fault 'memory' (see std_err.txt)", exit_code=137)
        if (x := f.due("kmesh", 1)) is not None:
            f.fire(x)
            raise VaspError(" VERY BAD NEWS! internal error in subroutine IBZKPT:\n Fatal error detecting k-mesh")
        if (x := f.due("too_few_bands", 1)) is not None:
            f.fire(x)
            self.outcar_stub()
            raise VaspError(f" TOO FEW BANDS !! NBANDS = {self.physics.nbands}: please increase NBANDS")

    def outcar_stub(self) -> None:
        w = OutcarWriter(self.dir / "OUTCAR")
        w.header(self)
        w.close()

    def _electronic_faults(self, ionic: int, estep: int) -> None:
        f = self.faults
        if estep == 2:
            if (x := f.due("edddav", ionic)) is not None:
                f.fire(x)
                raise VaspError(" Error EDDDAV: Call to ZHEGV failed. Returncode =   7 1  16")
            if (x := f.due("edwav", ionic)) is not None:
                f.fire(x)
                raise VaspError(" EDWAV: internal error, the gradient is not orthogonal   2   1  -0.123E-02")
            if (x := f.due("eddrmm", ionic)) is not None:
                f.fire(x)
                self.say(" WARNING in EDDRMM: call to ZHEGV failed, returncode =   6  3      16")
            if (x := f.due("brmix", ionic)) is not None:
                f.fire(x)
                self.say(" BRMIX: very serious problems\n the old and the new charge density differ")

    def _log_and_kill(self) -> None:
        from mock_vasp.cli import log_invocation

        self.vasprun.fh.flush()
        log_invocation(self.dir, self.system, self.t0, -9)
        self.out.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    # ----------------------------------------------------------------- outputs
    def _final_outputs(self, lattice, frac, result) -> None:
        d = self.dir
        ph = self.physics
        eig, occ = self.reported_bands(result)
        kset = self.kplan.report
        self.vasprun.eigenvalues(eig, occ)
        grid = energy_grid(eig, self.nedos, ph.sigma, *(self._emin_emax()))
        deg = 2.0 if ph.ispin == 1 else 1.0
        tdos = np.zeros((ph.ispin, len(grid)))
        idos = np.zeros_like(tdos)
        for s in range(ph.ispin):
            tdos[s], idos[s] = total_dos(eig[s], kset.weights, grid, ph.sigma, deg)
        pdos = None
        if result.projections is not None:
            pdos = np.stack(
                [
                    partial_dos(eig[s], kset.weights, self.reported_projections(result, s), grid, ph.sigma, deg)
                    for s in range(ph.ispin)
                ]
            )
        self.vasprun.dos(result.efermi, grid, tdos, idos, pdos)
        if result.projections is not None:
            self.vasprun.projected(eig, occ, lambda s: self.reported_projections(result, s))
            (d / "PROCAR").write_bytes(
                procar_bytes(kset, eig, occ, lambda s: self.reported_projections(result, s), self.natoms)
            )
        self.vasprun.end_calculation()
        self.vasprun.finish(lattice, frac, self.poscar.selective)
        (d / "EIGENVAL").write_text(
            eigenval_text(self.system, self.natoms, ph.ispin, ph.nelect, lattice, kset.kpts, kset.weights, eig, occ)
        )
        (d / "DOSCAR").write_bytes(
            doscar_text(self.system, self.natoms, lattice, result.efermi, grid, tdos, idos, pdos)
        )
        (d / "IBZKPT").write_text(ibzkpt_text(kset))
        if self.incar.get("LVHAR", False) or self.incar.get("LVTOT", False):
            pot = locpot_grid(lattice, frac, self.atom_species, self.params, result.extra["defect_field"], self.grid)
            write_volumetric(d / "LOCPOT", self.system, lattice, self.poscar.species, self.poscar.counts, frac, [pot])
        if self.incar.get("LCHARG", True):
            pops = result.populations.sum(axis=1)
            blocks = [density_grid(lattice, frac, pops, 0.6, self.grid)]
            if ph.ispin == 2:
                blocks.append(density_grid(lattice, frac, result.magnetization.sum(axis=1), 0.6, self.grid))
            write_volumetric(d / "CHGCAR", self.system, lattice, self.poscar.species, self.poscar.counts, frac, blocks)
        if self.incar.get("LWAVE", True):
            write_wavecar(d / "WAVECAR", kset.kpts, ph.nbands, ph.ispin, eig, self.encut)

    def _emin_emax(self):
        emin = self.incar.get("EMIN")
        emax = self.incar.get("EMAX")
        if emin is not None and emax is not None and float(emin) < float(emax):
            return float(emin), float(emax)
        return None, None
