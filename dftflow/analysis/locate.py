"""Where the defects are: match a defect cell against its pristine supercell, site by site.

Sites are paired by an optimal assignment of positions (periodic distances, species ignored), so a
relaxed neighbourhood still pairs with its pristine sites. Pristine sites left unpaired are vacancies,
defect-cell sites left unpaired are interstitials (or inserted atoms), pairs whose species differ are
substitutions, and pairs further apart than MAX_SHIFT are treated as a vacancy plus an interstitial.
Works on any pair of cells of the same lattice (WO3 with V_O or H, GaN with Mg_Ga, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pymatgen.core import Structure
from scipy.optimize import linear_sum_assignment

MAX_SHIFT = 1.2  # A: a site that moved further than this during relaxation is not "the same site"
SHELL_RADIUS = 3.0  # A: atoms this close to a defect centre form its shell (localisation, alignment)


@dataclass
class DefectSites:
    vacancies: list[dict] = field(default_factory=list)  # {"species", "frac_coords", "pristine_index"}
    interstitials: list[dict] = field(default_factory=list)  # {"species", "frac_coords", "index"}
    substitutions: list[dict] = field(default_factory=list)  # {"species", "replaces", "frac_coords", "index"}
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (defect index, pristine index), same species

    @property
    def centers(self) -> np.ndarray:
        """Fractional coordinates of every defect centre."""
        coords = [d["frac_coords"] for d in self.vacancies + self.interstitials + self.substitutions]
        return np.array(coords, dtype=float).reshape(-1, 3)

    def summary(self) -> str:
        parts = [f"V_{v['species']}" for v in self.vacancies]
        parts += [f"{s['species']}_{s['replaces']}" for s in self.substitutions]
        parts += [f"{i['species']}_i" for i in self.interstitials]
        return " + ".join(parts) or "none"


def locate_defects(defect: Structure, pristine: Structure) -> DefectSites:
    lattice = pristine.lattice
    dist = lattice.get_all_distances(defect.frac_coords, pristine.frac_coords)
    rows, cols = linear_sum_assignment(dist)
    sites = DefectSites()
    paired_d, paired_p = set(), set()
    for i, j in zip(rows, cols, strict=True):
        if dist[i, j] > MAX_SHIFT:
            continue
        paired_d.add(int(i))
        paired_p.add(int(j))
        if defect[i].specie.symbol == pristine[j].specie.symbol:
            sites.pairs.append((int(i), int(j)))
        else:
            sites.substitutions.append(
                {
                    "species": defect[i].specie.symbol,
                    "replaces": pristine[j].specie.symbol,
                    "frac_coords": [float(x) for x in defect[i].frac_coords],
                    "index": int(i),
                }
            )
    for j in range(len(pristine)):
        if j not in paired_p:
            sites.vacancies.append(
                {
                    "species": pristine[j].specie.symbol,
                    "pristine_index": j,
                    "frac_coords": [float(x) for x in pristine[j].frac_coords],
                }
            )
    for i in range(len(defect)):
        if i not in paired_d:
            sites.interstitials.append(
                {
                    "species": defect[i].specie.symbol,
                    "index": i,
                    "frac_coords": [float(x) for x in defect[i].frac_coords],
                }
            )
    return sites


def distances_to_defects(structure: Structure, centers: np.ndarray) -> np.ndarray:
    """Distance of every site of `structure` to its nearest defect centre (inf when there is none)."""
    if len(centers) == 0:
        return np.full(len(structure), np.inf)
    return structure.lattice.get_all_distances(structure.frac_coords, centers).min(axis=1)


def defect_shell(structure: Structure, centers: np.ndarray, radius: float = SHELL_RADIUS) -> list[int]:
    """Indices of the atoms within `radius` of a defect centre (the atoms a defect state should live on)."""
    return [int(i) for i in np.nonzero(distances_to_defects(structure, centers) <= radius)[0]]
