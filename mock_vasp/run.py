"""One mock-vasp run: read and check the inputs, relax or not, and write every output file."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from mock_vasp import MARK_BANNER, VASP_VERSION
from mock_vasp.electrostatics import defect_sites
from mock_vasp.errors import VaspError
from mock_vasp.faults import FaultPlan
from mock_vasp.final_outputs import write_final_outputs
from mock_vasp.inputs import read_incar, read_kpoints, read_poscar, read_potcar
from mock_vasp.ionic_loop import ionic_steps
from mock_vasp.kpoints import force_mesh, plan_kpoints
from mock_vasp.model import Model, Physics
from mock_vasp.neighbours import pairs_within
from mock_vasp.parameters import load_params
from mock_vasp.reported_parameters import reported_parameters
from mock_vasp.restart import read_wavecar
from mock_vasp.validation import check_incar, check_nbands, check_nelect, check_species, default_nbands
from mock_vasp.volumetric import fft_grid
from mock_vasp.write_outcar import OutcarWriter
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
        self.symprec = float(inc.get("SYMPREC", 1e-5))
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
            magmom_sum=float(sum(self.magmom)) if ispin == 2 else 0.0,
        )
        self.lepsilon = bool(inc.get("LEPSILON", False))
        self.lcalceps = bool(inc.get("LCALCEPS", False))
        self.lrpa = bool(inc.get("LRPA", False))
        self.lpard = bool(inc.get("LPARD", False))
        self.lattice0 = self.poscar.lattice
        self.frac0 = self.poscar.frac
        types = [self.poscar.species.index(s) + 1 for s in self.atom_species]
        self.kplan = plan_kpoints(
            kfile, self.lattice0, self.frac0, types, self.isym, float(inc.get("SYMPREC", 1e-5)), lhf
        )
        rel = self.params["relaxation"]
        moving = (self.ibrion in (1, 2, 3) and self.nsw > 1) or self.ibrion in (5, 6, 7, 8)
        if moving and self.natoms >= rel["force_kpoints_min_atoms"]:  # relaxation steps / force constants
            self.kplan.force = force_mesh(self.kplan, self.lattice0, rel["force_kpoint_length"])
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
        pairs = pairs_within(lattice, frac, cp["env_cutoff"])
        env = cp["env_amplitude"] * np.exp(-pairs.r / cp["env_length"])
        v += np.bincount(pairs.i, weights=env, minlength=self.natoms)
        return v + result.electron_potential

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
        lattice, frac, result = ionic_steps(self, fresh)
        write_final_outputs(self, lattice, frac, result)
        self.outcar.finish(time.time() - self.t0)
        self.say(" writing wavefunctions" if self.incar.get("LWAVE", True) else " done")
        return 0

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

    def electronic_faults(self, ionic: int, estep: int) -> None:
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

    def log_and_kill(self) -> None:
        from mock_vasp.cli import log_invocation

        self.vasprun.fh.flush()
        log_invocation(self.dir, self.system, self.t0, -9)
        self.out.flush()
        os.kill(os.getpid(), signal.SIGKILL)
