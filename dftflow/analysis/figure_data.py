"""Figure data from a study's analysis: DOS panels, band-structure panels, the level-versus-H trend.

One source of truth: a band figure highlights exactly the states the level table lists (DefectLevels.
highlighted: spin and band index), and which bands are filled is read from the weighted (SCF) k-points
only, where VASP's occupations are the self-consistent ones.
"""

from __future__ import annotations

import numpy as np

from dftflow.analysis.band_edges import best_edges
from dftflow.analysis.defect_levels import DefectLevels
from dftflow.analysis.rundata import RunData
from dftflow.analysis.study_analysis import StudyResults, run_of
from dftflow.steps import Step


def band_panel(run: RunData, levels: DefectLevels | None, title: str) -> dict:
    """Figure data of a zero-weight band-structure run: path distance, ticks, bands, highlighted states."""
    weights = run.weights
    path = weights == 0
    kpts, labels = run.kpoints[path], [lab for lab, p in zip(run.kpoint_labels, path, strict=True) if p]
    _, meta = run.arrays["eigenvalues"]
    reciprocal = np.asarray(meta["reciprocal_lattice"])
    cart = kpts @ reciprocal
    distance, ticks, x = [0.0], [], 0.0
    for i in range(1, len(cart)):
        jump = labels[i] and labels[i - 1] and labels[i] != labels[i - 1]
        x += 0.0 if jump else float(np.linalg.norm(cart[i] - cart[i - 1]))
        distance.append(x)
    for i, lab in enumerate(labels):
        if lab:
            if ticks and abs(ticks[-1][0] - distance[i]) < 1e-9:
                ticks[-1] = (distance[i], f"{ticks[-1][1]}|{lab}")
            else:
                ticks.append((distance[i], lab))
    eig = run.eigenvalues[:, path]
    defect = set(levels.highlighted) if levels else set()
    # filled bands by index from the weighted (SCF) points: the zero-weight points' occupations follow
    # E_F of the mesh and may drop below 1 for valence states that lie higher on the path
    mesh_occ = run.occupations[:, ~path] if (~path).any() else run.occupations
    filled = {(int(sp), int(b)) for sp, b in np.argwhere(mesh_occ.min(axis=1) > 0.5)}
    occupied_defect = {(sp, b) for sp, b in defect if mesh_occ[sp, :, b].mean() > 0.5}
    filled_top = max(float(eig[sp, :, b].max()) for sp, b in filled | occupied_defect)
    # a metallic cell's highest occupied state lies in a partly filled band (no band is filled at every
    # k-point there): the zero is the one the gap table uses, the highest state filled above one half
    zero = levels.highest_occupied if levels is not None and levels.metallic else filled_top
    return {
        "title": title,
        "distance": np.array(distance),
        "bands": eig,
        "zero": zero,
        "filled_top": filled_top,
        "valence_bands": filled - defect,
        "defect_bands": defect,
        "ticks": ticks,
    }


def band_panels(results: StudyResults, study) -> list[dict]:
    panels = []
    for system in results.series_systems(study):
        bands = run_of(results, study, Step.HSE_BANDS, system)
        if bands is not None:
            panels.append(band_panel(bands, results.levels.get(system), system))
    return panels


def dos_panel(results: StudyResults, study, system: str) -> dict | None:
    run = run_of(results, study, Step.HSE_STATIC, system)
    if run is None or "dos" not in run.arrays:
        return None
    arrays, meta = run.arrays["dos"]
    levels = results.levels.get(system)
    edges = best_edges(run)
    parts = {k: v for k, v in arrays.items() if k not in ("energies", "total")}
    return {
        "title": system,
        "energies": arrays["energies"],
        "total": arrays["total"],
        "parts": parts,
        "zero": edges.vbm if levels is None else levels.reference_vbm,
        "efermi": meta.get("efermi") or edges.vbm,
        "cbm": edges.cbm if levels is None else levels.reference_cbm,
    }


def hydrogen_trend(results: StudyResults, study) -> list[dict]:
    """Per H-containing cell: x in HxWO3, the depth below the CBM of its shallowest occupied localised
    in-gap level in the upper half of the gap (where the H electron goes), and what the cell is when
    there is no such level: metallic, or shallow (the electron in a perturbed host state)."""
    points = []
    for system, (_, cell) in study.systems.items():
        composition = cell.structure.composition
        n_h = composition["H"] if "H" in composition else 0
        levels = results.levels.get(system)
        if system == results.pristine or not n_h or levels is None:
            continue
        occupied = [lv for lv in levels.levels if lv.occupation > 0.5 and lv.below_cbm < lv.above_vbm]
        if levels.metallic:
            state = "metallic"
        elif occupied:
            state = "localised level"
        elif levels.donor_phs:
            state = "shallow: electron in a perturbed host state"
        else:
            state = "no occupied level in the upper half of the gap"
        points.append(
            {
                "label": system,
                "x": n_h / composition["W"],
                "below_cbm": min(lv.below_cbm for lv in occupied) if occupied and not levels.metallic else None,
                "levels": len(occupied),
                "state": state,
                "metallic": levels.metallic,
                "executor": results.executors.get(system),
            }
        )
    return sorted(points, key=lambda p: p["x"])


def formation_panels(thermo) -> list[dict]:
    """Formation-energy diagram data, one panel per chemical-potential limit."""
    panels = []
    for limit in thermo.limits:
        defects = {}
        for name in thermo.defects:
            lines = thermo.lines(name, limit)
            if not lines:
                continue
            marks = []
            for t in thermo.transitions:
                if t.defect == name:
                    marks.append((t.above_vbm, min(q * t.above_vbm + e for q, e in lines), t.transition))
            defects[name] = {"lines": lines, "transitions": marks}
        if defects:
            panels.append({"limit": limit, "gap": thermo.gap, "defects": defects})
    return panels


def parchg_panels(results: StudyResults, study) -> list[dict]:
    """Partial-charge figure data: one panel per in-gap state of every cell with a PARCHG step."""
    panels = []
    for system in study.systems:
        run = run_of(results, study, Step.HSE_PARCHG, system)
        if run is None or "parchg" not in run.arrays:
            continue
        arrays, meta = run.arrays["parchg"]
        lattice = np.asarray(meta["lattice"])
        frac = np.asarray(meta["frac_coords"])
        centre = np.asarray(meta.get("slice_centre", frac.mean(axis=0)))
        normal = "abc".index(meta.get("slice_normal", "c"))
        in_plane = [i for i in range(3) if i != normal]
        lengths = np.linalg.norm(lattice, axis=1)
        delta = frac - centre
        delta -= np.round(delta)
        distance = np.linalg.norm(delta @ lattice, axis=1)
        w = np.array([sp == "W" for sp in meta["species"]])
        near = w & (np.abs(delta[:, normal]) * lengths[normal] < 1.0)  # W within 1 A of the plane
        for band, charge, weights, plane in zip(
            arrays["bands"], arrays["charge"], arrays["weights"], arrays["slices"], strict=True
        ):
            panels.append(
                {
                    "title": f"{system}, band {band}" if band > 0 else system,
                    "slice": plane,
                    "axes": ["abc"[i] for i in in_plane],
                    "normal": "abc"[normal],
                    "extent": tuple(float(lengths[i]) for i in in_plane),
                    "w_in_plane": [
                        (
                            (delta[k, in_plane[0]] + 0.5) * lengths[in_plane[0]],
                            (delta[k, in_plane[1]] + 0.5) * lengths[in_plane[1]],
                        )
                        for k in np.flatnonzero(near)
                    ],
                    "defect_located": bool(meta.get("defect_located", True)),
                    "distances": distance[w],
                    "weights": weights[w],
                    "charge": float(charge),
                }
            )
    return panels


def extent_panels(results: StudyResults, most: int = 8) -> list[dict]:
    """Spatial-extent figure data: the shallowest localised in-gap level of each cell (at most `most`)."""
    from dftflow.analysis.spatial import Extent

    panels = []
    for system, levels in results.levels.items():
        for level in levels.levels[:1]:
            if level.extent and len(panels) < most:
                weights = level.extent["weights"]
                panels.append(
                    {
                        "title": f"{system}, band {level.band} ({level.spin})",
                        "summary": Extent(**level.extent).summary,
                        "distances": np.array([w["distance"] for w in weights]),
                        "weights": np.array([w["weight"] for w in weights]),
                        "x": np.array([w["x"] for w in weights]),
                        "y": np.array([w["y"] for w in weights]),
                    }
                )
    return panels
