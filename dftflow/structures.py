"""Loading host structures, putting them on a given lattice, and building supercells.

The "standard cell" of dftflow is the P2_1/n setting in which the papers label their sites (a, b, c of
that cell define s_x, s_y, s_z). pymatgen's own standardisation would move monoclinic WO3 to the P2_1/c
setting and change which axis is which, so hosts are kept in the setting of their file; only the
species order is normalised (W first, then O, then anything else).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure

from dftflow.errors import InputError

SPECIES_ORDER = ("W", "O", "H")


ASE_FIRST = (".xyz", ".extxyz", ".traj", ".db", ".gen", ".in", ".pdb")  # formats ASE reads and pymatgen not


def load_structure(path: str | Path) -> Structure:
    """Read a structure file with a clear error on failure: CIF, POSCAR/CONTCAR and what else pymatgen
    reads, and every format ASE reads (extxyz, ASE trajectory or database: the last frame, ...)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"structure file not found: {path}")
    errors = []
    readers = (_read_ase, _read_pymatgen) if path.suffix.lower() in ASE_FIRST else (_read_pymatgen, _read_ase)
    for reader in readers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pymatgen's CIF parser warns about harmless missing keys
                return sort_species(reader(path))
        except Exception as exc:  # both libraries raise many types for unreadable files
            errors.append(f"{reader.__doc__}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    raise InputError(f"cannot read structure file {path} ({'; '.join(errors)})")


def _read_pymatgen(path: Path) -> Structure:
    """pymatgen"""
    return Structure.from_file(path)


def _read_ase(path: Path) -> Structure:
    """ASE"""
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = ase.io.read(path)  # a trajectory or database: its last frame
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise ValueError("not a periodic crystal (the file has no 3D cell)")
    return AseAtomsAdaptor.get_structure(atoms)


def load_host(path: str | Path, lattice: dict | None = None) -> Structure:
    """Load a WO3-type host: must contain W and O; optionally put it on the lattice given."""
    structure = load_structure(path)
    elements = {el.symbol for el in structure.composition.elements}
    missing = {"W", "O"} - elements
    if missing:
        raise InputError(
            f"{path}: host structure has no {' and no '.join(sorted(missing))} atoms "
            f"(found {structure.composition.reduced_formula}); dftflow builds WO3-type hosts"
        )
    if lattice:
        structure = on_lattice(structure, **lattice)
    return structure


def sort_species(structure: Structure) -> Structure:
    """Order sites W, O, H, then others (stable inside a species) so POSCAR/POTCAR order is fixed."""

    def rank(site):
        symbol = site.specie.symbol
        return SPECIES_ORDER.index(symbol) if symbol in SPECIES_ORDER else len(SPECIES_ORDER)

    order = sorted(range(len(structure)), key=lambda i: (rank(structure[i]), i))
    if order == list(range(len(structure))):
        return structure
    return Structure.from_sites([structure[i] for i in order])


def on_lattice(
    structure: Structure,
    a: float,
    b: float,
    c: float,
    alpha: float = 90.0,
    beta: float = 90.0,
    gamma: float = 90.0,
) -> Structure:
    """The same fractional coordinates on another lattice (e.g. study K's PBEsol cell)."""
    for name, value in (("a", a), ("b", b), ("c", c)):
        if not value > 0:
            raise InputError(f"lattice parameter {name} must be positive, got {value}")
    lattice = Lattice.from_parameters(a, b, c, alpha, beta, gamma)
    return Structure(lattice, structure.species, structure.frac_coords)


def parse_supercell(text: str | list | tuple) -> tuple[int, int, int]:
    """'1x1x2' or [1, 1, 2] -> (1, 1, 2); anything else is an input error."""
    if isinstance(text, str):
        parts = re.split(r"[x×, ]+", text.strip().lower())
    else:
        parts = list(text)
    try:
        values = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or any(v < 1 for v in values) or any(str(p).strip() != str(int(p)) for p in parts):
        raise InputError(f"supercell must be three positive integers like 1x1x2, got {text!r}")
    return values


def make_supercell(structure: Structure, scaling: tuple[int, int, int]) -> Structure:
    """Diagonal supercell; sites of one original atom stay consecutive (pymatgen's convention)."""
    return structure * np.asarray(scaling, dtype=int)


O2_BOND = 1.21  # A, a starting O=O bond (experiment 1.208 A); the relax step refines it
O2_BOX = (10.0, 11.0, 12.0)  # A, non-cubic so the box imposes no degeneracy on the molecule


def o2_molecule() -> Structure:
    """An O2 molecule in a box (the O chemical potential's reference), bond along the longest edge."""
    a, b, c = O2_BOX
    centre = np.array([a, b, c]) / 2
    coords = [centre - [0, 0, O2_BOND / 2], centre + [0, 0, O2_BOND / 2]]
    return Structure(Lattice.orthorhombic(a, b, c), ["O", "O"], coords, coords_are_cartesian=True)
