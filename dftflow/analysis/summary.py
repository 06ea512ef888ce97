"""A whole study's analysis from the results database: the tables and figure data of its report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dftflow.analysis.band_edges import run_band_edges
from dftflow.analysis.defect_levels import DefectLevels, defect_levels
from dftflow.analysis.energetics import formation_energies, relative_energies
from dftflow.analysis.rundata import RunData


@dataclass
class StudyResults:
    study: str
    title: str
    runs: dict[str, RunData] = field(default_factory=dict)  # label -> run
    gaps: list[dict] = field(default_factory=list)
    levels: dict[str, DefectLevels] = field(default_factory=dict)  # system -> levels (hybrid static)
    band_levels: dict[str, DefectLevels] = field(default_factory=dict)  # system -> levels of the bands run
    site_energies: list[dict] = field(default_factory=list)
    formation: list = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    pristine: str | None = None

    @property
    def model(self) -> bool:
        """True when any number comes from mock-vasp."""
        return any(r.executor == "mock" for r in self.runs.values())

    def level_rows(self) -> list[dict]:
        rows = []
        for system, lv in self.levels.items():
            if lv.metallic:
                rows.append(
                    {
                        "system": system,
                        "state": "metallic (Fermi level in the conduction band)",
                        "executor": self.runs[f"hse-static {system}"].executor,
                    }
                )
            for k, s in enumerate(lv.states, 1):
                rows.append(
                    {
                        "system": system,
                        "state": k,
                        "spin": "up" if s.spin == 0 else "down",
                        "below_cbm": s.below_cbm,
                        "above_vbm": s.above_vbm,
                        "occupation": s.occupation,
                        "ipr": s.ipr,
                        "shell_weight": s.shell_weight,
                        "atoms": ", ".join(f"{a['species']}{a['index']} {a['weight']:.2f}" for a in s.atoms[:3]),
                        "executor": self.runs[f"hse-static {system}"].executor,
                    }
                )
        return rows


def _load(db, study_name: str, label: str) -> RunData | None:
    doc = db.task(study_name, label)
    return RunData.from_db(db, doc) if doc else None


def analyse_study(study, db) -> StudyResults:
    name = study.spec.name
    results = StudyResults(study=name, title=study.spec.title or name)
    for calc in study.calculations:
        run = _load(db, name, calc.label)
        if run is None:
            results.missing.append(calc.label)
        else:
            results.runs[calc.label] = run
    systems = list(study.systems)
    results.pristine = systems[0]
    pristine_static = results.runs.get(f"hse-static {results.pristine}")
    for system in systems:
        static = results.runs.get(f"hse-static {system}")
        bands = results.runs.get(f"hse-bands {system}")
        if static is None:
            continue
        row = _gap_row(system, static, bands)
        if pristine_static is not None and system != results.pristine:
            results.levels[system] = defect_levels(static, pristine_static)
            row["metallic"] = row["metallic"] or results.levels[system].metallic
            if bands is not None:
                results.band_levels[system] = defect_levels(bands, pristine_static)
        results.gaps.append(row)
    results.site_energies = _site_energy_rows(results, systems[1:])
    fe_spec = getattr(study.spec, "formation_energy", None)
    if fe_spec is not None and pristine_static is not None:
        defect_runs = [results.runs[f"hse-static {s}"] for s in systems[1:] if f"hse-static {s}" in results.runs]
        results.formation = formation_energies(
            defect_runs, pristine_static, fe_spec.chemical_potentials, fe_spec.dielectric
        )
    return results


def _gap_row(system: str, static: RunData, bands: RunData | None) -> dict:
    edges = run_band_edges(static)["all"]
    row = {
        "system": system,
        "composition_label": static.doc.get("composition_label"),
        "defect": (static.doc.get("defect") or {}).get("descriptor") or "",
        "charge": static.doc.get("charge"),
        "functional": (static.doc.get("functional") or {}).get("label"),
        "gap": edges.gap,
        "vbm": edges.vbm,
        "cbm": edges.cbm,
        "direct": edges.is_direct,
        "metallic": edges.is_metal,
        "gap_path": None,
        "direct_path": None,
        "executor": static.executor,
    }
    if bands is not None:
        path_edges = run_band_edges(bands)
        best = path_edges.get("path", path_edges["all"])
        row.update(
            {
                "gap_path": best.gap,
                "direct_path": best.is_direct,
                "vbm_path_k": best.vbm_label,
                "cbm_path_k": best.cbm_label,
            }
        )
    return row


def _site_energy_rows(results: StudyResults, defect_systems: list[str]) -> list[dict]:
    hybrid = {
        r["task_label"]: r
        for r in relative_energies(
            [results.runs[f"hse-static {s}"] for s in defect_systems if f"hse-static {s}" in results.runs]
        )
    }
    relax = {
        r["task_label"]: r
        for r in relative_energies([results.runs[f"relax {s}"] for s in defect_systems if f"relax {s}" in results.runs])
    }
    rows = []
    for system in defect_systems:
        h, r = hybrid.get(f"hse-static {system}"), relax.get(f"relax {system}")
        if h is None:
            continue
        sites = [
            d.get("label")
            for d in (results.runs[f"hse-static {system}"].doc.get("defect") or {}).get("sites", [])
            if d.get("type") == "vacancy"
        ]
        rows.append(
            {
                "system": system,
                "site": ",".join(sorted(set(sites))) or system,
                "charge": h["charge"],
                "energy_hybrid": h["energy"],
                "relative_hybrid": h["relative"],
                "energy_relax": r["energy"] if r else None,
                "relative_relax": r["relative"] if r else None,
                "executor": h["executor"],
            }
        )
    groups = {}
    for row in rows:
        groups.setdefault((row["charge"], results.runs[f"hse-static {row['system']}"].doc.get("formula")), []).append(
            row
        )
    return [row for members in groups.values() if len(members) > 1 for row in members]


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
    eig, occ = run.eigenvalues[:, path], run.occupations[:, path]
    highest = float(eig[occ > 0.5].max())
    defect = {(s.spin, s.band) for s in levels.states} if levels else set()
    filled = {(int(sp), int(b)) for sp, b in np.argwhere(occ.min(axis=1) > 0.5)} - defect
    return {
        "title": title,
        "distance": np.array(distance),
        "bands": eig,
        "zero": highest,
        "valence_bands": filled,
        "defect_bands": defect,
        "ticks": ticks,
    }
