"""Geometry of the corner-sharing WO3 framework: O site labels, W-O-W chains and cavities.

* Every O bridges two W. Its label is s_x, s_y or s_z after the lattice vector (a, b, c) that its
  W-O-W chain is most nearly parallel to, so labels follow the cell they are computed in: give the
  same crystal with permuted axes and the labels permute with them.
* Its orbit is its crystallographic orbit (spglib's equivalent atoms), numbered 1, 2, ... per label
  in order of first appearance; P2_1/n WO3 has two orbits per axis.
* Chains are walked W -> O -> W along the positive axis direction through periodic images.
* Cavities are the ReO3 "A sites": the centre of each pseudo-cube of 8 W; there is one per W.

(Kept apart from structures.py, which only loads and replicates cells, to keep both short.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from dftflow.errors import InputError

AXES = ("x", "y", "z")
LABELS = ("s_x", "s_y", "s_z")
W_O_CUTOFF = 2.45  # A; the longest W-O bond in gamma-WO3 is 2.08 A, the next W-O distance > 3 A
SYMPREC = 0.01


@dataclass(frozen=True)
class OxygenSite:
    """One O of the framework with the geometry that defines its label."""

    index: int
    label: str  # s_x | s_y | s_z
    orbit: int  # crystallographic orbit, numbered per label from 1
    w_indices: tuple[int, int]  # the two W, ordered along the positive chain direction
    bond_lengths: tuple[float, float]  # short, long (A)
    angle: float  # W-O-W (degrees)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Bond:
    neighbor: int
    image: tuple[int, int, int]
    vector: np.ndarray  # cartesian, from the centre atom to the neighbour image


class Framework:
    """Bond graph of a WO3-type structure, built once and queried for sites, chains and cavities."""

    def __init__(self, structure: Structure):
        self.structure = structure
        self.w_idx = [i for i, s in enumerate(structure) if s.specie.symbol == "W"]
        self.o_idx = [i for i, s in enumerate(structure) if s.specie.symbol == "O"]
        if not self.w_idx or not self.o_idx:
            raise InputError("structure has no W or no O atoms: not a WO3-type framework")
        self.bonds: dict[int, list[_Bond]] = {i: [] for i in self.w_idx + self.o_idx}
        centers, points, images, _ = structure.get_neighbor_list(W_O_CUTOFF)
        cart = structure.cart_coords
        matrix = structure.lattice.matrix
        is_w = np.array([s.specie.symbol == "W" for s in structure])
        is_o = np.array([s.specie.symbol == "O" for s in structure])
        for c, p, img in zip(centers, points, images, strict=True):
            if (is_w[c] and is_o[p]) or (is_o[c] and is_w[p]):
                vec = cart[p] + np.asarray(img) @ matrix - cart[c]
                self.bonds[int(c)].append(_Bond(int(p), tuple(int(v) for v in img), vec))
        bad = [i for i in self.o_idx if len(self.bonds[i]) != 2]
        if bad:
            i = bad[0]
            raise InputError(
                f"O atom {i} has {len(self.bonds[i])} W neighbours within {W_O_CUTOFF} A (expected 2): "
                "not a corner-sharing WO3 framework"
            )
        self.axis_units = matrix / np.linalg.norm(matrix, axis=1)[:, None]

    # --- O labels -------------------------------------------------------------------------------
    def chain_axis(self, o_index: int) -> int:
        """0, 1, 2 for the lattice vector the W-O-W chain through this O is most nearly parallel to."""
        b1, b2 = self.bonds[o_index]
        ww = b2.vector - b1.vector
        cosines = np.abs(self.axis_units @ ww) / np.linalg.norm(ww)
        return int(np.argmax(cosines))

    def oxygen_sites(self) -> list[OxygenSite]:
        orbits = _equivalent_atoms(self.structure)
        orbit_numbers: dict[tuple[str, int], int] = {}
        sites = []
        for i in self.o_idx:
            axis = self.chain_axis(i)
            label = LABELS[axis]
            key = (label, int(orbits[i]))
            if key not in orbit_numbers:
                orbit_numbers[key] = 1 + sum(1 for k in orbit_numbers if k[0] == label)
            b_minus, b_plus = sorted(self.bonds[i], key=lambda b: float(b.vector @ self.axis_units[axis]))
            d1, d2 = (float(np.linalg.norm(b.vector)) for b in (b_minus, b_plus))
            cos_angle = float(b_minus.vector @ b_plus.vector) / (d1 * d2)
            sites.append(
                OxygenSite(
                    index=i,
                    label=label,
                    orbit=orbit_numbers[key],
                    w_indices=(b_minus.neighbor, b_plus.neighbor),
                    bond_lengths=(round(min(d1, d2), 4), round(max(d1, d2), 4)),
                    angle=round(float(np.degrees(np.arccos(np.clip(cos_angle, -1, 1)))), 2),
                )
            )
        return sites

    # --- chains ---------------------------------------------------------------------------------
    def _step(self, atom: int, axis: int, sign: int = 1) -> _Bond:
        """The bond from `atom` that continues its chain along `axis` in direction `sign`."""
        unit = self.axis_units[axis] * sign
        candidates = self.bonds[atom]
        if self.structure[atom].specie.symbol == "W":
            candidates = [b for b in candidates if self.chain_axis(b.neighbor) == axis]
        best = max(candidates, key=lambda b: float(b.vector @ unit) / np.linalg.norm(b.vector))
        if float(best.vector @ unit) <= 0:
            raise InputError(f"no chain continues from atom {atom} along +{AXES[axis]}")
        return best

    def chain(self, o_index: int) -> list[int]:
        """O indices of the W-O-W chain through `o_index`, in order along the positive axis."""
        axis = self.chain_axis(o_index)
        chain, atom = [o_index], o_index
        for _ in range(2 * len(self.structure)):
            w = self._step(atom, axis).neighbor
            atom = self._step(w, axis).neighbor
            if atom == o_index:
                return chain
            chain.append(atom)
        raise InputError(f"the chain through O {o_index} does not close: framework is broken")

    def w_step(self, w_index: int, axis: int, sign: int = 1) -> tuple[np.ndarray, int]:
        """(cartesian vector, index) of the next W along the chain on `axis`, through the bridging O."""
        first = self._step(w_index, axis, sign)
        second = self._step(first.neighbor, axis, sign)
        return first.vector + second.vector, second.neighbor

    # --- cavities -------------------------------------------------------------------------------
    def cavities(self) -> list[Cavity]:
        """The pseudo-cubic cavities: centre of the 8 W of each cube, one cube per W (its -x-y-z corner)."""
        cart = self.structure.cart_coords
        centers = []
        for w in self.w_idx:
            corners = {(0, 0, 0): (cart[w], w)}
            for corner in ((1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)):
                axis = max(i for i in range(3) if corner[i])  # reach corner from its predecessor
                prev = tuple(corner[i] if i != axis else 0 for i in range(3))
                pos, atom = corners[prev]
                step, nxt = self.w_step(atom, axis)
                corners[corner] = (pos + step, nxt)
            centers.append(np.mean([p for p, _ in corners.values()], axis=0))
        frac = np.round(self.structure.lattice.get_fractional_coords(np.array(centers)), 10) % 1.0
        o_frac = self.structure.frac_coords[self.o_idx]
        nearest_o = self.structure.lattice.get_all_distances(frac, o_frac).min(axis=1)
        classes = _cavity_classes(self.structure, frac, nearest_o)
        return [
            Cavity(index=i, frac_coords=tuple(float(x) for x in f), nearest_o=float(d), size_class=c)
            for i, (f, d, c) in enumerate(zip(frac, nearest_o, classes, strict=True))
        ]


@dataclass(frozen=True)
class Cavity:
    index: int
    frac_coords: tuple[float, float, float]
    nearest_o: float  # A, distance from the centre to the nearest O
    size_class: str  # "large" or "small" (or "all" when the cell has one kind)


def _equivalent_atoms(structure: Structure) -> np.ndarray:
    dataset = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_symmetry_dataset()
    return np.asarray(dataset.equivalent_atoms)


def _cavity_classes(structure: Structure, frac: np.ndarray, nearest_o: np.ndarray) -> list[str]:
    """Group cavities into symmetry orbits of the host; with two orbits, name them large and small."""
    ops = SpacegroupAnalyzer(structure, symprec=SYMPREC).get_symmetry_operations(cartesian=False)
    orbit = list(range(len(frac)))  # union-find parent pointers

    def root(i: int) -> int:
        while orbit[i] != i:
            i = orbit[i]
        return i

    for op in ops:
        diff = (op.operate_multi(frac) % 1.0)[:, None, :] - frac[None, :, :]
        diff -= np.round(diff)
        same = np.linalg.norm(diff @ structure.lattice.matrix, axis=2) < 0.3
        for i, j in zip(*np.nonzero(same), strict=True):
            orbit[root(int(i))] = root(int(j))
    roots = [root(i) for i in range(len(frac))]
    by_size = sorted(set(roots), key=lambda r: -float(np.mean(nearest_o[np.array(roots) == r])))
    names = ["large", "small"] if len(by_size) == 2 else [f"class{k + 1}" for k in range(len(by_size))]
    name_of = dict(zip(by_size, names, strict=True))
    return [name_of[r] for r in roots]


def oxygen_sites(structure: Structure) -> list[OxygenSite]:
    """Label every O of `structure` (see module docstring)."""
    return Framework(structure).oxygen_sites()
