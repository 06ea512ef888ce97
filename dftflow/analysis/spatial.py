"""Spatial extent and shape of a localised state, from its weight on each atom (atom projections).

What study Y's claim ("a large two-dimensional polaron, radius >= 15 A, on the W atoms of one plane")
needs to be tested on a real run:

* positions: every atom's minimum-image position relative to the state's heaviest atom (periodic cell);
* radius of gyration: sqrt(sum_i w_i |r_i - r_c|^2) about the weighted centroid r_c (A);
* principal spreads: square roots of the eigenvalues of the weighted covariance of the positions,
  sigma_1 >= sigma_2 >= sigma_3 (A), along the principal axes e_1, e_2, e_3;
* point-like: at least half of the state's weight on one site's first shell: the defect's neighbours
  (pydefect's P-ratio) or the heaviest atom with its own neighbours, neighbours as pydefect counts them
  (within 1.3 x the cell's shortest interatomic distance);
* otherwise a shape, when the cell can show one: a state is extended along e_i when sigma_i is at least
  EXTENDED (one half) of the spread a uniform distribution over the same atoms has along e_i (same cell,
  same minimum-image positions): none -> compact, one -> chain, two -> plane, three -> delocalised. A uniform line of
  length L has sigma = L/sqrt(12); half of that is a state filling about half the cell along the axis.
  The cell can show a shape only where the uniform spread is at least RESOLVABLE (2.5 A, a cell 8.7 A
  long: beyond a W's first two shells, W-O 1.9 A and W-W 3.8 A); along a shorter axis every state looks
  extended, so a cell short along any principal axis gives "unresolved" instead of a shape. One half
  (twice) and 2.5 A are round choices made before any state was looked at; none was fitted;
* plane: Miller indices (h k l) of its normal (e_3), chain: direction [u v w] of e_1, both in the
  lattice given (the unit cell for a supercell, when known), reduced to small integers when they are;
* N_half: the fewest W atoms carrying half of the state's weight on W (or of all weight without W).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np

EXTENDED = 0.5  # extended along an axis: at least this fraction of a uniform distribution's spread there
RESOLVABLE = 2.5  # A: a principal axis along which a uniform distribution spreads less cannot show a shape
POINT = 0.5  # point-like: at least this share of the weight on one site's first shell
NEIGHBOUR_FACTOR = 1.3  # pydefect's neighbours: within 1.3 x the shortest interatomic distance


@dataclass
class Extent:
    radius_of_gyration: float
    spreads: list[float]  # sigma_1 >= sigma_2 >= sigma_3, A
    uniform_spreads: list[float]  # a uniform distribution's spread along the same axes, A
    dimensionality: str  # point-like | compact | chain | plane | delocalised | unresolved (cell too small)
    miller: list[int] | None  # plane normal (h k l) when planar
    direction: list[int] | None  # chain direction [u v w] when a chain
    n_half: int  # fewest W (or atoms, without W) carrying half the weight
    species_half: str  # "W" or "atoms"
    weights: list[dict] = field(default_factory=list)  # per W (or atom), heaviest first: index, weight,
    # distance from the defect (A), x and y: position on the state's two main principal axes (A)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def summary(self) -> str:
        shape = self.dimensionality
        if self.miller is not None:
            shape += f" ({' '.join(str(i) for i in self.miller)})"
        if self.direction is not None:
            shape += f" [{' '.join(str(i) for i in self.direction)}]"
        verb = "holds" if self.n_half == 1 else "hold"
        return f"{shape}, Rg {self.radius_of_gyration:.1f} A, {self.n_half} {self.species_half} {verb} half"


def minimum_image(structure, centre_frac) -> np.ndarray:
    """Cartesian positions of every site relative to `centre_frac`, by the minimum image (A)."""
    delta = structure.frac_coords - np.asarray(centre_frac, dtype=float)
    delta -= np.round(delta)
    return delta @ structure.lattice.matrix


def extent(weights, structure, defect_distances, unit_lattice=None) -> Extent:
    """Spatial extent of a state with atom weights `weights` (any normalisation) in `structure`;
    `defect_distances`: each atom's distance from the nearest defect (reported per W); `unit_lattice`
    (3x3, rows a, b, c): the lattice the indices are given in (default: the cell's). Positions are taken
    by the minimum image around the state's heaviest atom, so a state is never cut by the cell boundary."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    r = minimum_image(structure, structure[int(np.argmax(w))].frac_coords)
    spreads, axes, centroid = _principal(r, w)
    uniform_w = np.full(len(w), 1.0 / len(w))
    _, _, uniform_centre = _principal(r, uniform_w)
    uniform = [float(np.sqrt(np.sum(uniform_w * ((r - uniform_centre) @ axis) ** 2))) for axis in axes.T]
    extended = sum(s >= EXTENDED * u for s, u in zip(spreads, uniform, strict=True))
    symbols = np.array([s.specie.symbol for s in structure])
    on = symbols == "W" if (symbols == "W").any() else np.ones(len(w), dtype=bool)
    w_on = w[on] / w[on].sum() if w[on].sum() > 0 else w[on]
    n_half = int(np.searchsorted(np.cumsum(np.sort(w_on)[::-1]), 0.5 - 1e-12) + 1)
    if first_shell_weight(w, structure, defect_distances) >= POINT:
        dimensionality = "point-like"
    elif min(uniform) < RESOLVABLE:
        dimensionality = "unresolved"
    else:
        dimensionality = ("compact", "chain", "plane", "delocalised")[extended]
    lattice = np.asarray(unit_lattice if unit_lattice is not None else structure.lattice.matrix, dtype=float)
    miller = _small_integers(lattice @ axes[:, 2]) if dimensionality == "plane" else None
    direction = _small_integers(np.linalg.solve(lattice.T, axes[:, 0])) if dimensionality == "chain" else None
    distance = np.asarray(defect_distances, dtype=float)
    plane = (r - centroid) @ axes[:, :2]
    idx = np.nonzero(on)[0]
    order = idx[np.argsort(-w[idx])]
    return Extent(
        radius_of_gyration=float(np.sqrt(np.sum(w * np.sum((r - centroid) ** 2, axis=1)))),
        spreads=[float(s) for s in spreads],
        uniform_spreads=uniform,
        dimensionality=dimensionality,
        miller=miller,
        direction=direction,
        n_half=n_half,
        species_half="W" if (symbols == "W").any() else "atoms",
        weights=[
            {
                "index": int(i),
                "weight": float(w[i] / w[on].sum()),
                "distance": float(distance[i]),
                "x": float(plane[i, 0]),
                "y": float(plane[i, 1]),
            }
            for i in order
        ],
    )


def first_shell_weight(w: np.ndarray, structure, defect_distances) -> float:
    """The larger share of the weight on the defect's neighbours or on the heaviest atom and its neighbours."""
    dm = structure.distance_matrix
    cutoff = NEIGHBOUR_FACTOR * float(dm[dm > 0.5].min())
    on_defect = w[np.asarray(defect_distances) <= cutoff].sum()
    on_peak = w[dm[int(np.argmax(w))] <= cutoff].sum()
    return float(max(on_defect, on_peak))


def _principal(r: np.ndarray, w: np.ndarray):
    centroid = w @ r
    d = r - centroid
    covariance = (d * w[:, None]).T @ d
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    return np.sqrt(np.clip(values[order], 0, None)), vectors[:, order], centroid


def _small_integers(v: np.ndarray, largest: int = 6) -> list[int]:
    """The vector as the smallest integers with the same ratios (up to `largest`), sign of its largest
    component positive; components below 5 % of the largest count as zero."""
    v = np.where(np.abs(v) < 0.05 * np.abs(v).max(), 0.0, v)
    v = v / v[np.argmax(np.abs(v))]
    fractions = [Fraction(float(x)).limit_denominator(largest) for x in v]
    denominator = int(np.lcm.reduce([f.denominator for f in fractions]))
    ints = [int(f * denominator) for f in fractions]
    common = int(np.gcd.reduce([abs(i) for i in ints if i])) or 1
    return [i // common for i in ints]
