"""Defect recipes: oxygen vacancies (single or aligned on one W-O-W chain) and inserted hydrogen.

A recipe looks at the PRISTINE host supercell (its framework of W-O-W chains and cavities) and says
which O to remove and which H to add; :func:`build_defect_cell` applies every recipe of a system at
once, so H placement never sees a framework already broken by a vacancy. The same function runs in
`dftflow inputs` (on the unrelaxed host) and inside the workflow (on the relaxed bulk), so the
defect cell of a real run sits in the PBEsol lattice.

Charges follow the papers: each V_O defaults to +2 (V_O2+, study K), each H to 0 (proton + electron,
study Y). Names and composition labels are written the way the papers write them (WO2.938, WO2.875,
H0.0156WO3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
from pymatgen.core import Structure

from dftflow.errors import InputError
from dftflow.sites import LABELS, Framework
from dftflow.structures import sort_species

O_H_BOND = 0.98  # A, O-H bond length of the inserted H (study Y: O-H-O defect)
MIN_H_CONTACT = 1.5  # A, closest any atom other than its O may come to an inserted H
CAVITY_O_CUTOFF = 3.3  # A, O atoms this close to a cavity centre line that cavity
SPACING_STEPS = {"neighbour": 1, "cell": 2}  # chain steps between aligned vacancies (2 O per cell)
EXTRA_CARRIERS = 2  # electrons or holes a cell may hold in the host bands beyond what its defects leave


@dataclass(frozen=True)
class Vacancy:
    """`count` O vacancies at `site` (s_x|s_y|s_z); count > 1 aligns them on one chain of that axis."""

    site: str
    count: int = 1
    orbit: int | None = None
    spacing: str = "cell"  # "neighbour": adjacent O of the chain; "cell": one unit cell apart
    charge: int = 2  # per vacancy

    def descriptor(self) -> str:
        """V_O(s_z), V_O(s_z,2) (orbit 2), 2V_O(s_z) (spacing cell), 2V_O(s_z,neighbour)."""
        orbit = f",{self.orbit}" if self.orbit else ""
        spacing = f",{self.spacing}" if self.count > 1 and self.spacing != "cell" else ""
        return f"{self.count if self.count > 1 else ''}V_O({self.site}{orbit}{spacing})"

    def neutral_electrons(self) -> int:
        """Electrons each neutral vacancy leaves behind (the 2 of the removed O2-)."""
        return 2 * self.count


@dataclass(frozen=True)
class Hydrogen:
    """Inserted H: `count` atoms or concentration `x` = n_H / n_W, spread as far apart as possible."""

    count: int | None = None
    x: Fraction | None = None
    placement: str = "bonded"  # "bonded": on an O, pointing into the cavity; "cavity": at its centre
    oxygen_site: str = "auto"  # O type H bonds to: auto | s_x | s_y | s_z
    cavity: str = "large"  # cavity class: large | small | any
    charge: int = 0  # per H

    def resolved_count(self, n_w: int) -> int:
        if self.count is not None:
            return self.count
        n = Fraction(self.x) * n_w
        if n.denominator != 1:
            raise InputError(f"H concentration x = {self.x} is not a whole number of H in a cell with {n_w} W")
        return int(n)

    def descriptor(self, n_w: int) -> str:
        n = self.resolved_count(n_w)
        return f"{n if n > 1 else ''}H_i"

    def neutral_electrons(self, n_w: int) -> int:
        return self.resolved_count(n_w)


@dataclass
class DefectCell:
    """A built system: its structure, total charge and the names used everywhere."""

    structure: Structure
    charge: int
    descriptor: str  # "V_O(s_z)", "2V_O(s_z)", "4H_i", "" for pristine
    composition: str  # "WO2.938", "H0.0625WO3", "WO3"
    defect_electrons: int  # electrons the defects leave in the host bands (neutral count minus charge)
    seed_w: list[int] = field(default_factory=list)  # W next to the defects (MAGMOM seeds, analysis)
    defect_sites: list[dict] = field(default_factory=list)  # what was removed/added and where

    @property
    def name(self) -> str:
        """System name: composition, then defect and charge for defect cells ("WO2.938 V_O(s_z) q=+2")."""
        if not self.descriptor:
            return self.composition if self.charge == 0 else f"{self.composition} {charge_text(self.charge)}"
        return f"{self.composition} {self.descriptor} {charge_text(self.charge)}"


def charge_text(charge: int) -> str:
    """q=+2, q=0, q=-1: the charge as job labels write it."""
    return f"q={charge:+d}" if charge else "q=0"


def composition_label(structure: Structure) -> str:
    """WO_{n_O/n_W} with H_{n_H/n_W} in front, as the papers write them (WO2.938, H0.0156WO3)."""
    counts = structure.composition.get_el_amt_dict()
    n_w = counts.get("W", 0)
    if not n_w:
        raise InputError("composition label needs W atoms")
    o = _format_ratio(counts.get("O", 0) / n_w, 3)
    h = counts.get("H", 0)
    label = f"WO{o}"
    return f"H{_format_ratio(h / n_w, 4)}{label}" if h else label


def _format_ratio(value: float, decimals: int) -> str:
    q = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = format(q.normalize(), "f")
    return text


# --- vacancies ------------------------------------------------------------------------------------
def vacancy_indices(framework: Framework, recipe: Vacancy) -> list[int]:
    """O indices to remove: the first O of the label (and orbit), then every `spacing` along its chain."""
    if recipe.site not in LABELS:
        raise InputError(f"unknown site label {recipe.site!r}: use one of {', '.join(LABELS)}")
    if recipe.spacing not in SPACING_STEPS:
        raise InputError(f"unknown vacancy spacing {recipe.spacing!r}: use one of {', '.join(SPACING_STEPS)}")
    if recipe.count < 1:
        raise InputError(f"vacancy count must be at least 1, got {recipe.count}")
    sites = [s for s in framework.oxygen_sites() if s.label == recipe.site]
    if recipe.orbit is not None:
        orbits = sorted({s.orbit for s in sites})
        sites = [s for s in sites if s.orbit == recipe.orbit]
        if not sites:
            raise InputError(f"site {recipe.site} has no orbit {recipe.orbit} in this cell (orbits: {orbits})")
    first = sites[0].index
    if recipe.count == 1:
        return [first]
    chain = framework.chain(first)
    step = SPACING_STEPS[recipe.spacing]
    fits = -(-len(chain) // step)
    if recipe.count > fits:
        raise InputError(
            f"{recipe.count} vacancies do not fit on one {recipe.site} chain of this supercell: the chain has "
            f"{len(chain)} O sites, so spacing '{recipe.spacing}' allows at most {fits}"
        )
    return [chain[k * step] for k in range(recipe.count)]


# --- hydrogen --------------------------------------------------------------------------------------
def hydrogen_positions(framework: Framework, recipe: Hydrogen) -> list[tuple[np.ndarray, int | None]]:
    """Cartesian H positions, each with the index of the O it bonds to (None at a cavity centre)."""
    if recipe.placement not in ("bonded", "cavity"):
        raise InputError(f"unknown H placement {recipe.placement!r}: use bonded or cavity")
    if recipe.oxygen_site not in ("auto", *LABELS):
        raise InputError(f"unknown oxygen_site {recipe.oxygen_site!r}: use auto, {', '.join(LABELS)}")
    structure = framework.structure
    n_w = len(framework.w_idx)
    cavities = [c for c in framework.cavities() if recipe.cavity in ("any", c.size_class)]
    if not cavities:
        raise InputError(f"no {recipe.cavity!r} cavities in this cell (use large, small or any)")
    _check_hydrogen_count(recipe, n_w, len(cavities))
    labels = {s.index: s.label for s in framework.oxygen_sites()}
    candidates = []
    for cavity in cavities:
        center = structure.lattice.get_cartesian_coords(cavity.frac_coords)
        if recipe.placement == "cavity":
            candidates.append((center, None))
        else:
            candidates.append(_bonded_h(structure, center, labels, recipe.oxygen_site))
    frac = structure.lattice.get_fractional_coords(np.array([c for c, _ in candidates]))
    return [candidates[k] for k in spread_points(structure, frac, recipe.resolved_count(n_w))]


def _check_hydrogen_count(recipe: Hydrogen, n_w: int, n_cavities: int) -> None:
    if recipe.x is not None and recipe.count is not None:
        raise InputError("give the H amount as count or as x, not both")
    if recipe.x is None and recipe.count is None:
        raise InputError("hydrogen needs a count or a concentration x")
    allowed = f"x = k/{n_w} with k = 0, 1, ..., {n_cavities} ({n_cavities} {recipe.cavity} cavities, one H each)"
    if recipe.x is not None:
        n = Fraction(recipe.x) * n_w
        if n.denominator != 1 or not 0 <= n <= n_cavities:
            values = ", ".join(str(Fraction(k, n_w)) for k in range(min(n_cavities, 8) + 1))
            raise InputError(
                f"H concentration x = {recipe.x} cannot be represented in this supercell: it can hold "
                f"{allowed}, i.e. x = {values}{', ...' if n_cavities > 8 else ''}"
            )
    elif not 0 <= recipe.count <= n_cavities:
        raise InputError(f"{recipe.count} H do not fit in this supercell: it can hold {allowed}")


def _bonded_h(structure: Structure, center: np.ndarray, labels: dict[int, str], oxygen_site: str):
    """Put H on the cavity's O (of the requested type) where it has the most room, pointing at the centre."""
    best = None
    for idx, label in labels.items():
        if oxygen_site != "auto" and label != oxygen_site:
            continue
        o_cart = _nearest_image(structure, idx, center)
        to_center = center - o_cart
        dist = float(np.linalg.norm(to_center))
        if dist > CAVITY_O_CUTOFF:
            continue
        h = o_cart + O_H_BOND * to_center / dist
        room = _closest_contact(structure, h, exclude=idx)
        if best is None or room > best[0] + 1e-6:
            best = (room, h, idx)
    if best is None:
        raise InputError(f"no {oxygen_site} oxygen lines this cavity: choose another oxygen_site or auto")
    room, h, idx = best
    if room < MIN_H_CONTACT:
        raise InputError(f"no room for an O-H bond in this cavity (closest contact {room:.2f} A)")
    return h, idx


def _nearest_image(structure: Structure, index: int, point: np.ndarray) -> np.ndarray:
    frac_point = structure.lattice.get_fractional_coords(point)
    delta = structure[index].frac_coords - frac_point
    delta -= np.round(delta)
    return structure.lattice.get_cartesian_coords(frac_point + delta)


def _closest_contact(structure: Structure, cart: np.ndarray, exclude: int | None = None) -> float:
    frac = structure.lattice.get_fractional_coords(cart)
    dists = structure.lattice.get_all_distances([frac], structure.frac_coords)[0]
    if exclude is not None:
        dists[exclude] = np.inf
    return float(dists.min())


def spread_points(structure: Structure, frac: np.ndarray, n: int) -> list[int]:
    """Choose n of the candidate points with the largest possible minimum (periodic) distance.

    Exact max-min dispersion: binary search over the distinct pair distances d for the largest d at
    which n candidates exist with no pair closer than d (an independent set of the "too close" graph,
    found by branch and bound in index order, so the answer is deterministic). Greedy farthest-point
    picking was tried first and gets stuck: for 4 H in the 2x2x2 WO3 cell it found 7.6 A where
    10.4 A is possible.
    """
    if n <= 1:
        return list(range(n))
    dist = structure.lattice.get_all_distances(frac, frac)
    levels = np.unique(np.round(dist[np.triu_indices(len(frac), 1)], 4))
    lo, hi, best = 0, len(levels) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        found = _independent_set(dist < levels[mid] - 1e-4, n)
        if found is None:
            hi = mid - 1
        else:
            best, lo = found, mid + 1
    if best is None:
        raise InputError(f"cannot place {n} points on {len(frac)} sites")
    return best


def _independent_set(conflict: np.ndarray, n: int) -> list[int] | None:
    """First (in index order) set of n vertices with no conflict between any two, or None."""

    def search(chosen: list[int], candidates: list[int]) -> list[int] | None:
        if len(chosen) == n:
            return chosen
        for pos, v in enumerate(candidates):
            if len(chosen) + len(candidates) - pos < n:
                return None
            rest = [u for u in candidates[pos + 1 :] if not conflict[v, u]]
            found = search(chosen + [v], rest)
            if found is not None:
                return found
        return None

    return search([], list(range(len(conflict))))


# --- assembling a system -------------------------------------------------------------------------
def _check_charge(charge: int, neutral_electrons: int, n_defects: int, descriptor: str) -> None:
    """A charge the defects can take: from every electron they leave removed (q = neutral electrons,
    V_O2+) and EXTRA_CARRIERS holes more, down to each defect site taking one more electron (V_O-, H-)
    and EXTRA_CARRIERS electrons more. Anything else puts a crowd of carriers in the host bands of a
    supercell, which is not a defect calculation."""
    if int(charge) != charge:
        raise InputError(f"charge must be an integer, got {charge}")
    lowest, highest = -n_defects - EXTRA_CARRIERS, neutral_electrons + EXTRA_CARRIERS
    if not lowest <= charge <= highest:
        what = descriptor or "the pristine cell"
        raise InputError(
            f"charge {charge:+d} is not one {what} can take: allowed {lowest:+d} ... {highest:+d} (all "
            f"{neutral_electrons} electron(s) the defects leave removed, or one more on each defect site, "
            f"plus at most {EXTRA_CARRIERS} carriers in the host bands)"
        )


def build_defect_cell(host: Structure, recipes: list, charge: int | None = None) -> DefectCell:
    """Apply every recipe to the pristine host supercell at once; `charge` overrides the default sum."""
    framework = Framework(host)
    n_w = len(framework.w_idx)
    remove: list[int] = []
    additions: list[tuple[np.ndarray, int | None]] = []
    descriptors, sites, seed_w = [], [], set()
    neutral_electrons, default_charge = 0, 0
    o_sites = {s.index: s for s in framework.oxygen_sites()}
    for recipe in recipes:
        if isinstance(recipe, Vacancy):
            indices = vacancy_indices(framework, recipe)
            remove.extend(indices)
            for i in indices:
                seed_w.update(o_sites[i].w_indices)
                sites.append(
                    {
                        "type": "vacancy",
                        "label": o_sites[i].label,
                        "orbit": o_sites[i].orbit,
                        "host_index": i,
                        "frac_coords": [float(x) for x in host[i].frac_coords],
                        "w_neighbors": list(o_sites[i].w_indices),
                    }
                )
            descriptors.append(recipe.descriptor())
            neutral_electrons += recipe.neutral_electrons()
            default_charge += recipe.charge * recipe.count
        elif isinstance(recipe, Hydrogen):
            placed = hydrogen_positions(framework, recipe)
            additions.extend(placed)
            descriptors.append(recipe.descriptor(n_w))
            neutral_electrons += recipe.neutral_electrons(n_w)
            default_charge += recipe.charge * len(placed)
        else:
            raise TypeError(f"unknown defect recipe {recipe!r}")
    if len(set(remove)) != len(remove):
        raise InputError("two vacancy recipes remove the same O atom")
    bonded_to_removed = [o for _, o in additions if o is not None and o in remove]
    if bonded_to_removed:
        raise InputError(f"an H would bond to O {bonded_to_removed[0]}, which a vacancy removes")
    total_charge = default_charge if charge is None else charge
    _check_charge(total_charge, neutral_electrons, len(remove) + len(additions), "+".join(descriptors))
    structure = host.copy()
    for cart, o_index in additions:
        structure.append("H", cart, coords_are_cartesian=True)
        if o_index is not None:
            w_near = sorted(framework.bonds[o_index], key=lambda b: float(np.linalg.norm(b.vector)))
            seed_w.add(w_near[0].neighbor)
        sites.append(
            {"type": "hydrogen", "bonded_o": o_index, "frac_coords": [float(x) for x in structure[-1].frac_coords]}
        )
    structure.remove_sites(remove)
    structure = sort_species(structure)
    return DefectCell(
        structure=structure,
        charge=total_charge,
        descriptor="+".join(descriptors),
        composition=composition_label(structure),
        defect_electrons=neutral_electrons - total_charge,
        seed_w=sorted(seed_w),
        defect_sites=sites,
    )
