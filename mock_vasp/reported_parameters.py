"""What mock-vasp reports back of its input: the <parameters> block of vasprun.xml (INCAR tags with
VASP's defaults filled in), which pymatgen reads for NELECT, ISPIN, LHFCALC, AEXX, HFSCREEN, GGA ..."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mock_vasp.run import Run


def reported_parameters(run: Run, gga_raw: str) -> dict:
    """The <parameters> block of vasprun.xml: every INCAR tag VASP reports back, with its defaults."""
    inc = run.incar
    ph = run.physics
    p = {
        "SYSTEM": run.system,
        "LCOMPAT": False,
        "PREC": run.prec.lower()[:6],
        "ENMAX": run.encut,
        "ENAUG": float(inc.get("ENAUG", 2 * run.encut)),
        "EDIFF": run.ediff,
        "IALGO": 38,
        "NBANDS": ph.nbands,
        "NELECT": ph.nelect,
        "ISMEAR": ph.ismear,
        "SIGMA": ph.sigma,
        "KSPACING": float(inc.get("KSPACING", 0.5)),
        "KGAMMA": bool(inc.get("KGAMMA", True)),
        "LREAL": bool(inc.get("LREAL", False)) if isinstance(inc.get("LREAL", False), bool) else True,
        "ISTART": run.istart,
        "ICHARG": run.icharg,
        "INIWAV": 1,
        "ISPIN": ph.ispin,
        "LNONCOLLINEAR": False,
        "NUPDOWN": ph.nupdown if ph.nupdown is not None else -1.0,
        "LSORBIT": False,
        "LASPH": bool(inc.get("LASPH", False)),
        "LMETAGGA": False,
        "NELM": run.nelm,
        "NELMDL": run.nelmdl,
        "NELMIN": run.nelmin,
        "TIME": float(inc.get("TIME", 0.4)),
        "AMIX": float(inc.get("AMIX", 0.4)),
        "BMIX": float(inc.get("BMIX", 1.0)),
        "NGX": run.grid[0],
        "NGY": run.grid[1],
        "NGZ": run.grid[2],
        "NGXF": run.fine_grid[0],
        "NGYF": run.fine_grid[1],
        "NGZF": run.fine_grid[2],
        "ADDGRID": bool(inc.get("ADDGRID", False)),
        "NSW": run.nsw,
        "IBRION": run.ibrion,
        "ISIF": run.isif,
        "PSTRESS": float(inc.get("PSTRESS", 0.0)),
        "EDIFFG": run.ediffg,
        "POTIM": run.potim,
        "ISYM": run.isym,
        "SYMPREC": float(inc.get("SYMPREC", 1e-5)),
        "LORBIT": run.lorbit,
        "NEDOS": run.nedos,
        "EMIN": float(inc.get("EMIN", 10.0)),
        "EMAX": float(inc.get("EMAX", -10.0)),
        "EFERMI": 0.0,
        "NWRITE": 2,
        "LWAVE": bool(inc.get("LWAVE", True)),
        "LCHARG": bool(inc.get("LCHARG", True)),
        "LVTOT": bool(inc.get("LVTOT", False)),
        "LVHAR": bool(inc.get("LVHAR", False)),
        "LELF": False,
        "LOPTICS": False,
        "NPAR": int(inc.get("NPAR", 1)),
        "NCORE": int(inc.get("NCORE", 1)),
        "KPAR": int(inc.get("KPAR", 1)),
        "NSIM": int(inc.get("NSIM", 4)),
        "POMASS": [p.info.mass if p.info else 1.0 for p in run.potcars],
        "GGA_COMPAT": True,
        "LDAU": False,
        "GGA": gga_raw,
        "LHFCALC": ph.lhfcalc,
        "PRECFOCK": str(inc.get("PRECFOCK", "")),
        "AEXX": ph.aexx if ph.lhfcalc else 0.0,
        "AGGAX": 1.0 - (ph.aexx if ph.lhfcalc else 0.0),
        "HFSCREEN": ph.hfscreen if ph.lhfcalc else 0.0,
        "LUSE_VDW": False,
        "IVDW": 0,
        "LEPSILON": run.lepsilon,
        "LRPA": run.lrpa,
        "LCALCEPS": run.lcalceps,
    }
    if ph.ispin == 2:
        p["MAGMOM"] = list(run.magmom)
    return p
