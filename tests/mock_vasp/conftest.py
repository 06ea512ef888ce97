"""Input folders for mock-vasp tests, written with pymatgen as dftflow would write them."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CIF = ROOT / "structures" / "WO3_P21n.cif"
ZVAL = {"W_sv": 14, "O": 6, "H": 1}


def bulk_structure():
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_file(CIF)


def chain_axis(structure, index: int) -> str:
    """Direction (x/y/z) of the W-O-W chain an O sits on."""
    ws = [n for n in structure.get_neighbors(structure[index], 2.4) if n.specie.symbol == "W"]
    v = ws[0].coords - ws[1].coords
    return "xyz"[int(np.argmax(np.abs(v)))]


def supercell_with_vacancies(axes=("z",), n=1):
    """1x1x2 supercell with `n` O removed on chains along the given axes (second one shifted by c)."""
    sc = bulk_structure() * (1, 1, 2)
    removed = []
    o_sites = [i for i, s in enumerate(sc) if s.specie.symbol == "O"]
    first = next(i for i in o_sites if chain_axis(sc, i) == axes[0])
    removed.append(first)
    if n == 2:
        target = (sc[first].frac_coords + [0, 0, 0.5]) % 1.0
        second = next(i for i in o_sites if np.allclose(sc[i].frac_coords % 1.0, target, atol=1e-3))
        removed.append(second)
    sc.remove_sites(removed)
    return sc


def write_inputs(directory: Path, structure, incar: dict, kpoints, charge: int = 0, symbols=("W_sv", "O")):
    """INCAR/POSCAR/KPOINTS/POTCAR.spec with NELECT = sum(ZVAL) - charge."""
    from pymatgen.io.vasp.inputs import Incar, Kpoints, Poscar

    directory.mkdir(parents=True, exist_ok=True)
    poscar = Poscar(structure)
    poscar.write_file(directory / "POSCAR")
    species = poscar.site_symbols
    sym_of = {s.split("_")[0]: s for s in symbols}
    spec = [sym_of[s] for s in species]
    (directory / "POTCAR.spec").write_text("\n".join(spec) + "\n")
    nelect = sum(ZVAL[sym_of[s]] * n for s, n in zip(species, poscar.natoms, strict=True)) - charge
    tags = dict(incar)
    tags.setdefault("NELECT", nelect)
    Incar(tags).write_file(directory / "INCAR")
    if isinstance(kpoints, Kpoints):
        kpoints.write_file(directory / "KPOINTS")
    else:
        mode, mesh = kpoints
        k = Kpoints.gamma_automatic(mesh) if mode == "gamma" else Kpoints.monkhorst_automatic(mesh)
        k.write_file(directory / "KPOINTS")
    return directory


BULK_RELAX = {
    "SYSTEM": "bulk relax",
    "PREC": "Accurate",
    "ENCUT": 520,
    "EDIFF": 1e-6,
    "EDIFFG": -0.01,
    "IBRION": 2,
    "ISIF": 3,
    "NSW": 100,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "ISPIN": 1,
    "GGA": "PS",
    "LDAU": False,
    "LASPH": True,
    "LREAL": False,
    "NELM": 100,
    "ALGO": "Normal",
    "LWAVE": True,
    "LCHARG": True,
}
DEFECT_RELAX = dict(BULK_RELAX, ISIF=2, NSW=200, ISYM=0, ISPIN=2, LVHAR=True)
HYBRID_STATIC = {
    "SYSTEM": "hse-static WO3",
    "PREC": "Accurate",
    "ENCUT": 520,
    "EDIFF": 1e-6,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "GGA": "PE",
    "LDAU": False,
    "LASPH": True,
    "LREAL": False,
    "LHFCALC": True,
    "AEXX": 0.28,
    "HFSCREEN": 0.2,
    "ALGO": "Damped",
    "TIME": 0.4,
    "PRECFOCK": "Normal",
    "NELM": 150,
    "ISTART": 1,
    "NSW": 0,
    "IBRION": -1,
    "LORBIT": 11,
    "NEDOS": 3001,
    "LVHAR": True,
    "ISYM": 0,
    "ISPIN": 2,
    "LWAVE": True,
    "LCHARG": True,
}


def run_mock(directory: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `mock-vasp` in `directory` the way custodian does (stdout -> vasp.out, stderr -> std_err.txt)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(directory / "vasp.out", "w") as out, open(directory / "std_err.txt", "w") as err:
        return subprocess.run(
            ["mock-vasp"], cwd=directory, stdout=out, stderr=err, env=full_env, timeout=timeout, check=False
        )


@pytest.fixture
def bulk():
    return bulk_structure()


def hydrogen_cell(scaling=(1, 1, 1), count: int = 1, host=None):
    """Supercell of the input WO3 cell with `count` H placed by dftflow's own recipe (bonded to an O,
    pointing into a cavity, spread as far apart as the cell allows), as `dftflow inputs` builds them."""
    from dftflow.defects import Hydrogen, build_defect_cell
    from dftflow.structures import make_supercell

    host = bulk_structure() if host is None else host
    return build_defect_cell(make_supercell(host, tuple(scaling)), [Hydrogen(count=count)]).structure


def write_h_inputs(directory: Path, structure, incar: dict, kpoints, charge: int = 0):
    """Inputs for a cell with H (POTCAR.spec W_sv, O, H); MAGMOM 0 everywhere for ISPIN 2."""
    tags = dict(incar)
    if tags.get("ISPIN", 1) == 2:
        tags.setdefault("MAGMOM", [0.0] * len(structure))
    return write_inputs(directory, structure, tags, kpoints, charge=charge, symbols=("W_sv", "O", "H"))
