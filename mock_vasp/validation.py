"""Input checks with VASP's wording; every failure raises VaspError (text goes to vasp.out).

Tag policy: tags in PHYSICS are used by the model; tags in ACCEPTED are read and leave the model
unchanged (machine/parallelisation, mixing and algorithm details, everything custodian's handlers may
write); tags in UNSUPPORTED_IF_SET are accepted only at their harmless value; anything else is an unknown
tag and the run stops with "ERROR: unknown INCAR tag".
"""

from __future__ import annotations

from mock_vasp.errors import VaspError

PHYSICS = {
    "SYSTEM",
    "NELECT",
    "NBANDS",
    "ISPIN",
    "MAGMOM",
    "NUPDOWN",
    "ISMEAR",
    "SIGMA",
    "LHFCALC",
    "AEXX",
    "HFSCREEN",
    "GGA",
    "NSW",
    "IBRION",
    "ISIF",
    "EDIFF",
    "EDIFFG",
    "NELM",
    "NELMIN",
    "NELMDL",
    "POTIM",
    "ISYM",
    "SYMPREC",
    "LORBIT",
    "NEDOS",
    "EMIN",
    "EMAX",
    "LWAVE",
    "LCHARG",
    "LVHAR",
    "LVTOT",
    "ISTART",
    "ICHARG",
    "ALGO",
    "IALGO",
    "ENCUT",
    "ENMAX",
    "PREC",
    "KSPACING",
    "KGAMMA",
    "PSTRESS",
    "LDAU",
    "LEPSILON",
    "LCALCEPS",
    "LRPA",
    "LPARD",
    "IBAND",
    "EINT",
    "KPUSE",
    "LSEPB",
    "LSEPK",
    "NBMOD",
}
ACCEPTED = {
    "ENAUG",
    "LREAL",
    "LASPH",
    "LMAXMIX",
    "LMIXTAU",
    "LAECHG",
    "LELF",
    "NWRITE",
    "ADDGRID",
    "TIME",
    "PRECFOCK",
    "AMIX",
    "BMIX",
    "AMIX_MAG",
    "BMIX_MAG",
    "AMIN",
    "IMIX",
    "MAXMIX",
    "WC",
    "INIMIX",
    "MIXPRE",
    "ISEARCH",
    "NCORE",
    "NPAR",
    "KPAR",
    "NSIM",
    "LPLANE",
    "LSCALAPACK",
    "LSCALU",
    "NBLK",
    "LASYNC",
    "LORBITALREAL",
    "LSCAAWARE",
    "IWAVPR",
    "SMASS",
    "NFREE",
    "IOPT",
    "NGX",
    "NGY",
    "NGZ",
    "NGXF",
    "NGYF",
    "NGZF",
    "INIWAV",
    "LDIAG",
    "LSUBROT",
    "NELMALL",
    "LMAXPAW",
    "VOSKOWN",
    "GGA_COMPAT",
    "NKRED",
    "NKREDX",
    "NKREDY",
    "NKREDZ",
    "ENCUTFOCK",
    "LMAXFOCK",
    "NBLOCK",
    "KBLOCK",
    "TEBEG",
    "TEEND",
    "LCORR",
    "EFERMI",
    "RWIGS",
    "LPEAD",
    "ISTART",
    "LWAVEH5",
    "LCHARGH5",
    "LDOWNSAMPLE",
    "NBANDSLOW",
    "NBANDSHIGH",
    "EBREAK",
    "DEPER",
    "WEIMIN",
    "NRMM",
    "ENINI",
    "LSYMGRAD",
    "SCALEE",
    "LKPOINTS_OPT",
    "NUPDOWN",
    "ALDAC",
    "AGGAC",
    "AGGAX",
    "ALDAX",
    "LMUSIC",
    "IDIOT",
    "APACO",
    "NPACO",
    "SYMPREC",
    "LVDW",
    "LCOMPAT",
    "NOMEGA",
    "LMONO",
    "LDIPOL",
    "IDIPOL",
    "DIPOL",
    "EPSILON",
    "MDALGO",
    "SAXIS",
    "LDAUTYPE",
    "LDAUL",
    "LDAUU",
    "LDAUJ",
    "LDAUPRINT",
    "LMAXTAU",
    "KPOINT_BSE",
    "NELMGW",
    "EFIELD_PEAD",
    "IPEAD",
}
UNSUPPORTED_IF_SET = {  # tag: harmless values
    "LSORBIT": (False,),
    "LNONCOLLINEAR": (False,),
    "METAGGA": ("NONE", "--"),
    "IVDW": (0,),
    "LUSE_VDW": (False,),
    "LOPTICS": (False,),
    "LCALCPOL": (False,),
    "LCHIMAG": (False,),
    "ML_LMLFF": (False,),
    "LSOL": (False,),
    "ICORELEVEL": (0,),
}
KNOWN_GGA = {"PE", "PS", "RP", "RE", "91", "AM", "PW", "CA", "PZ", "--", "PB", "B3", "BO", "OR", "MK"}


def check_incar(incar: dict, natoms: int, lhf_explicit: bool) -> None:
    for tag, value in incar.items():
        if tag in PHYSICS or tag in ACCEPTED:
            continue
        if tag in UNSUPPORTED_IF_SET:
            norm = value.upper() if isinstance(value, str) else value
            if norm not in UNSUPPORTED_IF_SET[tag]:
                raise VaspError(
                    f"ERROR: INCAR tag {tag} = {value} asks for physics that mock-vasp's model does "
                    "not contain (see mock_vasp/README.md)"
                )
            continue
        raise VaspError(
            f"ERROR: unknown INCAR tag {tag} (mock-vasp accepts the tags listed in "
            "mock_vasp/validation.py; a misspelt tag would silently be ignored by VASP)"
        )
    if incar.get("LDAU", False):
        raise VaspError("ERROR: LDAU = .TRUE. (DFT+U) is not part of mock-vasp's model")
    gga = str(incar.get("GGA", "PE")).upper()
    if gga not in KNOWN_GGA:
        raise VaspError(f"ERROR: GGA = {incar['GGA']} is not a known exchange-correlation type")
    ispin = int(incar.get("ISPIN", 1))
    if ispin not in (1, 2):
        raise VaspError(f"ERROR: ISPIN = {ispin} must be 1 or 2")
    if "MAGMOM" in incar and ispin == 2:
        mag = incar["MAGMOM"]
        nmag = len(mag) if isinstance(mag, list) else 1
        if nmag != natoms:
            raise VaspError(f"ERROR: MAGMOM has {nmag} entries but the POSCAR has {natoms} ions")
    if "NUPDOWN" in incar and ispin == 1 and float(incar["NUPDOWN"]) >= 0:
        raise VaspError("ERROR: NUPDOWN is set but ISPIN = 1: contradictory tags")
    ibrion = int(incar.get("IBRION", -1 if int(incar.get("NSW", 0)) <= 0 else 0))
    if ibrion not in (-1, 1, 2, 3, 5, 6, 7, 8):
        raise VaspError(f"ERROR: IBRION = {ibrion} is not modelled by mock-vasp (only -1, 1, 2, 3, 5-8)")
    check_response_tags(incar, ibrion)
    isif = int(incar.get("ISIF", 2))
    if not 0 <= isif <= 7:
        raise VaspError(f"ERROR: ISIF = {isif} is not a valid value")
    if float(incar.get("SIGMA", 0.2)) <= 0:
        raise VaspError("ERROR: SIGMA must be positive")
    if int(incar.get("ISMEAR", 1)) <= -2 and lhf_explicit:
        raise VaspError(
            "Tetrahedron method fails: the k-points are an explicit list without tetrahedra "
            "(ISMEAR = -5 needs an automatic mesh; use ISMEAR = 0 with explicit lists)"
        )


def check_response_tags(incar: dict, ibrion: int) -> None:
    """Dielectric / phonon / partial-charge tags: types and combinations VASP would not run."""
    for tag in ("LEPSILON", "LCALCEPS", "LRPA", "LPARD", "LSEPB", "LSEPK"):
        if tag in incar and not isinstance(incar[tag], bool):
            raise VaspError(f"ERROR: {tag} = {incar[tag]} must be .TRUE. or .FALSE.")
    if incar.get("LEPSILON", False) and incar.get("LCALCEPS", False):
        raise VaspError(
            "ERROR: LEPSILON = .TRUE. (linear response) and LCALCEPS = .TRUE. (finite fields) are two methods "
            "for the same tensor: set one of them"
        )
    if incar.get("LEPSILON", False) and ibrion in (1, 2, 3):
        raise VaspError(f"ERROR: LEPSILON = .TRUE. needs a fixed geometry (IBRION = -1, 5-8), not IBRION = {ibrion}")
    if incar.get("LCALCEPS", False) and ibrion not in (-1, 5, 6):
        raise VaspError(f"ERROR: LCALCEPS = .TRUE. works with IBRION = -1, 5 or 6, not IBRION = {ibrion}")
    if ibrion in (7, 8) and incar.get("LHFCALC", False):
        raise VaspError("ERROR: IBRION = 7/8 (linear response) is not available for LHFCALC = .TRUE.; use IBRION = 5/6")
    if not incar.get("LPARD", False):
        stray = [t for t in ("IBAND", "EINT", "KPUSE", "LSEPB", "LSEPK", "NBMOD") if t in incar]
        if stray:
            raise VaspError(
                f"ERROR: {', '.join(stray)} set without LPARD = .TRUE.: no partial charge density asked for"
            )
        return
    if ibrion in (1, 2, 3, 5, 6, 7, 8):
        raise VaspError("ERROR: LPARD = .TRUE. needs a static run (IBRION = -1, NSW = 0)")
    if "IBAND" in incar and "EINT" in incar:
        raise VaspError("ERROR: IBAND and EINT both set: LPARD takes the bands from one of them")
    nbmod = incar.get("NBMOD")
    if nbmod is not None and (not isinstance(nbmod, int) or nbmod < -3):
        raise VaspError(f"ERROR: NBMOD = {nbmod} must be -3, -2, -1, 0 or the number of IBAND entries")


def check_species(poscar_species: list[str], potcars) -> None:
    if len(poscar_species) != len(potcars):
        raise VaspError(
            f"ERROR: number of potentials on File POTCAR ({len(potcars)}) incompatible with number "
            f"of species on POSCAR ({len(poscar_species)})"
        )
    for s, p in zip(poscar_species, potcars, strict=True):
        if s != p.element:
            raise VaspError(
                "ERROR: the type information on POSCAR and POTCAR are incompatible\n"
                f"  POSCAR species: {' '.join(poscar_species)}\n"
                f"  POTCAR species: {' '.join(q.element for q in potcars)}"
            )
        if p.element not in ("W", "O", "H"):
            raise VaspError(f"ERROR: element {p.element} is outside mock-vasp's model (W, O, H only)")
        if p.info is None:
            raise VaspError(f"ERROR: POTCAR {p.titel} is not in mock-vasp's ZVAL table")


def check_nelect(nelect: float, zval_sum: float) -> None:
    if nelect <= 0 or abs(zval_sum - nelect) > 8:
        raise VaspError(
            f"ERROR: NELECT = {nelect} is inconsistent with the POTCAR valences (sum ZVAL = "
            f"{zval_sum}) by more than the allowed charge range of 8 electrons"
        )


def default_nbands(nelect: float, nions: int, ispin: int, magmom_sum: float) -> int:
    """VASP's default NBANDS (wiki formula; the spin-polarised increase as in main.F / custodian)."""
    nb = max(int(nelect + 2.5) // 2 + max(nions // 2, 3), int(0.6 * nelect))
    if ispin == 2:
        nb += max(int((magmom_sum + 1) // 2), 0)
    return nb


def check_nbands(nbands: int, nelect: float) -> None:
    if nbands < nelect / 2.0 + 1:
        raise VaspError(
            f" TOO FEW BANDS !! NBANDS = {nbands} cannot hold NELECT = {nelect} electrons with an "
            "empty band above them; increase NBANDS"
        )
