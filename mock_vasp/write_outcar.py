"""OUTCAR in VASP's layout (the lines pymatgen's Outcar and custodian's handlers read)."""

from __future__ import annotations

import time

import numpy as np

from mock_vasp import MARK_BANNER, VASP_VERSION
from mock_vasp.numformat import rows

SEP = "-" * 104


class OutcarWriter:
    def __init__(self, path):
        self.fh = open(path, "w")

    def w(self, text: str) -> None:
        self.fh.write(text)
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()

    def header(self, run) -> None:
        now = time.strftime("%Y.%m.%d  %H:%M:%S")
        incar_lines = "".join(f"   {k} = {_incar_str(v)}\n" for k, v in run.incar.items())
        pot_lines = "".join(f" POTCAR:    {p.titel:<38}\n" for p in run.potcars)
        self.w(
            f" vasp.{VASP_VERSION} {MARK_BANNER}\n  \n executed on             mock_vasp date {now}\n"
            f" running on    1 total cores\n distrk:  each k-point on    1 cores,    1 groups\n"
            f"\n\n{SEP}\n\n\n"
            f" INCAR:\n{incar_lines}\n{pot_lines}"
        )
        for p in run.potcars:
            mass = p.info.mass if p.info else 1.0
            vr = p.info.vrhfin if p.info else f"{p.element}:"
            self.w(
                f" POTCAR:    {p.titel:<38}\n   VRHFIN ={vr}\n   TITEL  = {p.titel}\n"
                f"   POMASS = {mass:8.3f}; ZVAL   = {p.zval:8.3f}    mass and valenz\n\n"
            )
        ph = run.physics
        ng, ngf = run.grid, run.fine_grid
        nk = len(run.kplan.report)
        self.w(
            f"\n\n{SEP}\n\n\n Dimension of arrays:\n"
            f"   k-points           NKPTS = {nk:6d}   k-points in BZ     NKDIM = {nk:6d}   number of bands"
            f"    NBANDS= {ph.nbands:6d}\n"
            f"   number of dos      NEDOS = {run.nedos:6d}   number of ions     NIONS = {run.natoms:6d}\n"
            f"   total plane-waves  NPLWV = {int(np.prod(ng)):6d}\n"
            f"   dimension x,y,z NGX = {ng[0]:5d} NGY ={ng[1]:5d} NGZ ={ng[2]:5d}\n"
            f"   dimension x,y,z NGXF= {ngf[0]:5d} NGYF={ngf[1]:5d} NGZF={ngf[2]:5d}\n"
            f"   ions per type =  " + "".join(f"{n:6d}" for n in run.poscar.counts) + "\n\n"
            f" SYSTEM =  {run.system}\n POSCAR =  {run.poscar.comment}\n\n Startparameter for this run:\n"
            f"   ISTART = {run.istart:6d}    job   : 0-new  1-cont  2-samecut\n"
            f"   ICHARG = {run.icharg:6d}    charge: 1-file 2-atom 10-const\n"
            f"   ISPIN  = {ph.ispin:6d}    spin polarized calculation?\n"
            f"   LNONCOLLINEAR =      F non collinear calculations\n"
            f" Electronic Relaxation 1\n   ENCUT  = {run.encut:6.1f} eV\n"
            f"   NELM   = {run.nelm:6d};   NELMIN={run.nelmin:3d}; NELMDL={run.nelmdl:3d}"
            "     # of ELM steps \n"
            f"   EDIFF  = {run.ediff:.1E}   stopping-criterion for ELM\n"
            f" Ionic relaxation\n   EDIFFG = {run.ediffg:.1E}   stopping-criterion for IOM\n"
            f"   NSW    = {run.nsw:6d}    number of steps for IOM\n"
            f"   IBRION = {run.ibrion:6d}    ionic relax: 0-MD 1-quasi-New 2-CG\n"
            f"   ISIF   = {run.isif:6d}    stress and relaxation\n"
            f"   ISYM   = {run.isym:6d}    0-nonsym 1-usesym 2-fastsym\n"
            f"   POTIM  = {run.potim:6.4f}    time-step for ionic-motion\n"
            f"  Mass of Ions in am\n   POMASS = "
            + "".join(f"{(p.info.mass if p.info else 1.0):6.2f}" for p in run.potcars)
            + "\n"
            "  Ionic Valenz\n   ZVAL   = " + "".join(f"{p.zval:6.2f}" for p in run.potcars) + "\n"
            f"   NELECT = {ph.nelect:12.4f}    total number of electrons\n"
            f"   NUPDOWN= {(ph.nupdown if ph.nupdown is not None else -1.0):12.4f}"
            "    fix difference up-down\n\n"
            f" DOS related values:\n   ISMEAR = {ph.ismear:5d};   SIGMA  = {ph.sigma:6.2f}"
            "  broadening in eV\n\n"
            f" Exchange correlation treatment:\n   GGA     =    {ph.gga:>2}    GGA type\n"
            f"   LHFCALC =     {'T' if ph.lhfcalc else 'F'}    Hartree Fock is set to\n"
            f"   AEXX    =    {ph.aexx if ph.lhfcalc else 0.0:6.4f} exact exchange contribution\n"
            f"   HFSCREEN=    {ph.hfscreen:6.4f}\n\n"
            " Linear response parameters\n"
            f"   LEPSILON=     {'T' if run.lepsilon else 'F'}    determine dielectric tensor\n"
            f"   LRPA    =     {'T' if run.lrpa else 'F'}    only Hartree local field effects (RPA)\n"
            f"   LCALCEPS=     {'T' if run.lcalceps else 'F'}    dielectric tensor from finite fields\n\n"
            " Write flags\n"
            f"   LORBIT       = {run.lorbit:6d}\n\n\n{SEP}\n\n\n"
            f" k-points in reciprocal lattice and weights: {run.kcomment}\n"
        )
        self.w(
            rows(
                np.concatenate([run.kplan.report.kpts, run.kplan.report.weights[:, None]], axis=1),
                12,
                8,
                b" ",
                b"\n",
            ).decode()
        )
        npw = max(1, int(np.prod(ng) * 0.1))
        pw = "".join(
            f" k-point {k + 1:3d} :   {kp[0]:6.4f}{kp[1]:7.4f}{kp[2]:7.4f}  plane waves: {npw:7d}\n"
            for k, kp in enumerate(run.kplan.report.kpts)
        )
        self.w(
            f"\n\n\n{SEP}\n\n\n{pw}\n maximum and minimum number of plane-waves per node : {npw:9d}{npw:9d}\n"
            f"\n\n{SEP}\n\n\n"
        )

    def scf_step(self, ionic: int, n: int, step, nelect: float, mag: float | None, dt: float = 0.0) -> None:
        magtxt = f" magnetization {mag:15.7f}" if mag is not None else " magnetization"
        self.w(
            f"--------------------------------------- Iteration {ionic:6d}({n:4d})  "
            "---------------------------------------\n\n\n"
            f"      LOOP:  cpu time {dt:11.4f}: real time {dt:11.4f}\n\n"
            f" eigenvalue-minimisations  : {step.ncg:5d}\n"
            f" total energy-change (2. order) :{step.de:14.7E}  ({step.deps:14.7E})\n"
            f" number of electron {nelect:15.7f}{magtxt}\n\n"
            " Free energy of the ion-electron system (eV)\n"
            "  ---------------------------------------------------\n"
            f"  free energy    TOTEN  = {step.energy:20.8f} eV\n\n"
            f"  energy without entropy = {step.energy:17.8f}  energy(sigma->0) = {step.energy:17.8f}\n\n\n"
            f"{SEP}\n\n\n\n\n"
        )

    def ionic_end(self, run, ionic: int, lattice, frac, result, converged_electronic: bool, loop_time: float) -> None:
        ph = run.physics
        natoms = len(frac)
        cp = run.core_potentials(lattice, frac, result)
        radii = "".join(f"{run.test_charge_radius(s):8.4f}" for s in run.poscar.species)
        lines = []
        for start in range(0, natoms, 5):
            lines.append("".join(f"{i + 1:8d}{cp[i]:9.4f}" for i in range(start, min(start + 5, natoms))))
        self.w(
            " average (electrostatic) potential at core\n"
            f"  the test charge radii are{radii}\n"
            "  (the norm of the test charge is              1.0000)\n" + "\n".join(lines) + "\n \n \n \n"
        )
        self.w(
            f" E-fermi : {result.efermi:8.4f}     XC(G=0):  -0.0000     alpha+bet : -0.0000\n\n"
            f" Fermi energy:      {result.efermi:16.10f}\n\n"
        )
        if result.extra.get("on_kpoints_file", True):
            self._eigenvalue_block(run, result)
        self.w(f"\n{SEP}\n\n\n")
        if converged_electronic:
            self.w(
                "------------------------ aborting loop because EDIFF is reached "
                "----------------------------------------\n\n\n"
            )
        else:
            self.w(
                "------------------------ aborting loop EDIFF was not reached (unconverged)  "
                "----------------------------\n\n\n"
            )
        self._charge_block(" total charge", result.populations)
        if ph.ispin == 2:
            self._charge_block(" magnetization (x)", result.magnetization)
        s = result.stress_kbar
        vol = abs(np.linalg.det(lattice))
        ev = s / 1602.1766208 * vol
        order = [(0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0)]
        self.w(
            "  FORCE on cell =-STRESS in cart. coord.  units (eV):\n"
            "  Direction    XX          YY          ZZ          XY          YZ          ZX\n"
            "  " + "-" * 86 + "\n"
            "  Total   " + "".join(f"{ev[a, b]:12.5f}" for a, b in order) + "\n"
            "  in kB   " + "".join(f"{s[a, b]:12.5f}" for a, b in order) + "\n"
            f"  external pressure = {np.trace(s) / 3:11.2f} kB  Pullay stress =        0.00 kB\n\n\n"
            " VOLUME and BASIS-vectors are now :\n"
            f" -----------------------------------------------------------------------------\n"
            f"  energy-cutoff  : {run.encut:11.2f}\n  volume of cell : {vol:11.2f}\n"
            "      direct lattice vectors                 reciprocal lattice vectors\n"
        )
        rec = np.linalg.inv(lattice).T
        for a, b in zip(lattice, rec, strict=True):
            self.w("    " + "".join(f"{x:13.9f}" for x in a) + "   " + "".join(f"{x:13.9f}" for x in b) + "\n")
        cart = frac @ lattice
        self.w("\n\n POSITION                                       TOTAL-FORCE (eV/Angst)\n " + "-" * 83 + "\n")
        self.w(rows(np.concatenate([cart, result.forces], axis=1), 13, 5, b" ", b"\n").decode())
        drift = result.forces.sum(axis=0)
        self.w(
            " "
            + "-" * 83
            + "\n    total drift:                         "
            + "".join(f"{d:13.6f}" for d in drift)
            + f"\n\n\n{SEP}\n\n\n\n  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)\n"
            "  ---------------------------------------------------\n"
            f"  free  energy   TOTEN  = {result.energy_free:18.8f} eV\n\n"
            f"  energy  without entropy= {result.energy_no_entropy:18.8f}  energy(sigma->0) = "
            f"{result.energy_sigma0:18.8f}\n"
            f"  entropy T*S    EENTRO = {result.components['entropy']:18.8f}\n \n\n\n{SEP}\n\n\n"
            f"     LOOP+:  cpu time {loop_time:11.4f}: real time {loop_time:11.4f}\n\n\n"
        )

    def _eigenvalue_block(self, run, result) -> None:
        from mock_vasp.final_outputs import ReportedBands

        rb = ReportedBands(run, result)
        for s in range(run.physics.ispin):
            if run.physics.ispin == 2:
                self.w(f" spin component {s + 1}\n\n")
            for k in range(min(len(run.kplan.report), 500)):
                kp = run.kplan.report.kpts[k]
                self.w(
                    f" k-point {k + 1:5d} :    {kp[0]:10.4f}{kp[1]:10.4f}{kp[2]:10.4f}\n"
                    "  band No.  band energies     occupation \n"
                )
                self.w(
                    "".join(
                        f"  {b + 1:5d}   {e:11.4f}  {o:10.5f}\n"
                        for b, (e, o) in enumerate(zip(rb.eig[s, k], rb.occ[s, k], strict=True))
                    )
                    + "\n"
                )

    def _charge_block(self, title: str, data) -> None:
        self.w(f"\n{title}\n\n# of ion       s       p       d       tot\n------------------------------------------\n")
        tot = data.sum(axis=1)
        for i, (row, t) in enumerate(zip(data, tot, strict=True)):
            self.w(f"{i + 1:5d}    " + "".join(f"{x:8.3f}" for x in row) + f"{t:8.3f}\n")
        self.w(
            "--------------------------------------------------\n"
            "tot      " + "".join(f"{x:8.3f}" for x in data.sum(axis=0)) + f"{tot.sum():8.3f}\n\n\n"
        )

    def message(self, text: str) -> None:
        self.w(text if text.endswith("\n") else text + "\n")

    def finish(self, elapsed: float) -> None:
        self.w(
            "\n\n General timing and accounting informations for this job:\n"
            " ========================================================\n  \n"
            f"                  Total CPU time used (sec): {elapsed:12.3f}\n"
            f"                            User time (sec): {elapsed:12.3f}\n"
            f"                          System time (sec): {0.0:12.3f}\n"
            f"                         Elapsed time (sec): {elapsed:12.3f}\n  \n"
            f"                   Maximum memory used (kb): {100000.0:12.0f}.\n"
            "                   Average memory used (kb):          N/A\n  \n"
            "                          Minor page faults:            0\n"
            "                          Major page faults:            0\n"
            "                 Voluntary context switches:            0\n"
        )
        self.close()


def _incar_str(v) -> str:
    if isinstance(v, bool):
        return ".TRUE." if v else ".FALSE."
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    return str(v)
