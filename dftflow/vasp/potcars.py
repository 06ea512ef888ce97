"""POTCAR choice, valence electron counts and NELECT.

POTCARs are licensed and never shipped. Real runs read them from PMG_VASP_PSP_DIR through pymatgen
(and fail loudly when they are missing); offline runs write POTCAR.spec (the symbols, one per line,
as pymatgen/atomate2 do) and take ZVAL from the documented table dftflow/data/zval_pbe54.yaml.
NELECT is computed in exactly one place, :func:`nelect`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from dftflow.errors import InputError

if TYPE_CHECKING:  # annotations only: `dftflow status` and `run` check POTCARs without importing pymatgen
    from pymatgen.core import Structure

DEFAULT_SYMBOLS = {"W": "W_sv", "O": "O", "H": "H"}
DEFAULT_FUNCTIONAL = "PBE_54"
PSP_ENV = "PMG_VASP_PSP_DIR"


@cache
def zval_table() -> dict[str, float]:
    """POTCAR symbol -> ZVAL for offline runs (see the table file for its source)."""
    text = resources.files("dftflow").joinpath("data/zval_pbe54.yaml").read_text()
    return {str(k): float(v) for k, v in yaml.safe_load(text).items()}


@dataclass(frozen=True)
class PotcarChoice:
    """Which POTCAR each element uses and whether the real files are used or only their symbols."""

    symbols: tuple[tuple[str, str], ...]  # (element, POTCAR symbol)
    functional: str = DEFAULT_FUNCTIONAL
    real: bool = False  # True: write POTCAR from PMG_VASP_PSP_DIR; False: POTCAR.spec + ZVAL table

    def symbol(self, element: str) -> str:
        try:
            return dict(self.symbols)[element]
        except KeyError:
            raise InputError(f"no POTCAR symbol chosen for element {element}") from None

    def symbols_for(self, structure: Structure) -> list[str]:
        """POTCAR symbols in POSCAR species order."""
        return [self.symbol(el) for el in species_order(structure)]

    def zvals(self, structure: Structure) -> list[float]:
        symbols = self.symbols_for(structure)
        if self.real:
            return [p.ZVAL for p in self.potcar(structure)]
        table = zval_table()
        unknown = [s for s in symbols if s not in table]
        if unknown:
            raise InputError(
                f"POTCAR symbol(s) {', '.join(unknown)} are not in the offline ZVAL table "
                f"({', '.join(table)}); set {PSP_ENV} to use real POTCARs"
            )
        return [table[s] for s in symbols]

    def potcar(self, structure: Structure):
        """The real pymatgen Potcar (needs PMG_VASP_PSP_DIR)."""
        from pymatgen.io.vasp import Potcar

        require_potcar_dir()
        try:
            return Potcar(self.symbols_for(structure), functional=self.functional)
        except Exception as exc:  # pymatgen raises OSError/ValueError/RuntimeError for missing files
            raise InputError(
                f"cannot read POTCARs {self.symbols_for(structure)} ({self.functional}) from "
                f"{os.environ.get(PSP_ENV)}: {exc}"
            ) from exc


def species_order(structure: Structure) -> list[str]:
    """Element symbols in POSCAR order (consecutive runs, as pymatgen's Poscar writes them)."""
    order: list[str] = []
    for site in structure:
        if not order or order[-1] != site.specie.symbol:
            order.append(site.specie.symbol)
    if len(order) != len(set(order)):
        raise InputError("species are not grouped: sort the structure before writing inputs")
    return order


def require_potcar_dir() -> Path:
    """PMG_VASP_PSP_DIR as a path, or a clear error: real VASP runs need licensed POTCARs."""
    from pymatgen.core import SETTINGS

    path = os.environ.get(PSP_ENV) or SETTINGS.get(PSP_ENV)
    if not path:
        raise InputError(
            f"real VASP inputs need POTCARs, but {PSP_ENV} is not set. Point it at your licensed POTCAR "
            "directory (see pymatgen's 'pmg config'), or write offline inputs (POTCAR.spec) instead"
        )
    if not Path(path).is_dir():
        raise InputError(f"{PSP_ENV}={path} is not a directory")
    return Path(path)


def potcars_available() -> bool:
    try:
        require_potcar_dir()
    except InputError:
        return False
    return True


def nelect(structure: Structure, potcars: PotcarChoice, charge: int) -> int:
    """NELECT = sum(ZVAL) - q, the ONE place dftflow computes the electron count.

    A wrong NELECT gives absurd energies without any VASP error (doped issue #1), so the ZVALs come
    from the POTCARs actually written (or, offline, from the table matching POTCAR.spec).
    """
    if int(charge) != charge:
        raise InputError(f"charge must be an integer, got {charge}")
    counts = [sum(1 for s in structure if s.specie.symbol == el) for el in species_order(structure)]
    total = sum(z * n for z, n in zip(potcars.zvals(structure), counts, strict=True)) - charge
    if total <= 0 or abs(total - round(total)) > 1e-6:
        raise InputError(f"impossible electron count {total} for charge {charge}")
    return int(round(total))


def default_nbands(nelect_value: float, nions: int, band_groups: int = 1) -> int:
    """VASP's default NBANDS: max(NINT(NELECT+2)/2 + max(NIONS/2, 3), INT(0.6 NELECT)) (Fortran integer
    division), rounded up to a multiple of the band groups VASP runs (cores / NCORE, OUTCAR's NPAR).

    Written explicitly (band_groups = 1) into every supercell step so that the relax WAVECAR can seed the
    hybrid run and the band count does not depend on the number of cores. VASP still rounds an explicit
    NBANDS up to its band groups, so relax and hybrid steps of one system must run with the same
    NCORE/core count for the WAVECAR to be read. 1x1x2 WO3 with W_sv: 512 electrons -> 307 bands; 2x2x2:
    2048 -> 1228. Checked against VASP's own NBANDS in real runs (tests/vasp/test_potcars.py).
    """
    bands = max(round(nelect_value + 2) // 2 + max(nions // 2, 3), int(0.6 * nelect_value))
    return -(-bands // band_groups) * band_groups
