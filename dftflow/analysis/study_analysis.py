"""A whole study's analysis from the results database: the tables and figure data of its report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dftflow.analysis.band_edges import run_band_edges
from dftflow.analysis.defect_levels import DefectLevels, defect_levels
from dftflow.analysis.energetics import formation_energies, relative_energies
from dftflow.analysis.rundata import RunData
from dftflow.vasp.kpoints import GAMMA_LABELS


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
    notes: list[str] = field(default_factory=list)
    pristine: str | None = None

    @property
    def model(self) -> bool:
        """True when any number comes from mock-vasp."""
        return any(r.executor == "mock" for r in self.runs.values())

    def level_rows(self) -> list[dict]:
        rows = []
        for system, lv in self.levels.items():
            executor = self.runs[f"hse-static {system}"].executor
            if lv.metallic:
                rows.append(
                    {"system": system, "state": "metallic (Fermi level in the conduction band)", "executor": executor}
                )
            for k, (state, spin) in enumerate(collapse_spins(lv.states), 1):
                rows.append(
                    {
                        "system": system,
                        "state": k,
                        "spin": spin,
                        "below_cbm": state.below_cbm,
                        "above_vbm": state.above_vbm,
                        "occupation": state.occupation,
                        "ipr": state.ipr,
                        "shell_weight": state.shell_weight,
                        "atoms": ", ".join(f"{a['species']}{a['index']} {a['weight']:.2f}" for a in state.atoms[:3]),
                        "executor": executor,
                    }
                )
        return rows


def collapse_spins(states: list, tol: float = 1e-3) -> list[tuple]:
    """(state, spin text) with spin-degenerate up/down pairs of one band reported once as "up+down"."""
    out, used = [], set()
    for i, s in enumerate(states):
        if i in used:
            continue
        twin = next(
            (
                j
                for j, t in enumerate(states)
                if j not in used
                and j != i
                and t.band == s.band
                and t.spin != s.spin
                and abs(t.energy - s.energy) < tol
                and abs(t.occupation - s.occupation) < 0.01
            ),
            None,
        )
        if twin is not None:
            used.add(twin)
            out.append((s, "up+down"))
        else:
            out.append((s, "up" if s.spin == 0 else "down"))
        used.add(i)
    return out


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
        skipped: list[str] = []
        results.formation = formation_energies(
            defect_runs, pristine_static, fe_spec.chemical_potentials, fe_spec.dielectric, skipped
        )
        results.notes += [f"formation energy left out: {s}" for s in skipped]
    return results


def _gap_row(system: str, static: RunData, bands: RunData | None) -> dict:
    """Gap of a system: over every k-point computed for it (the SCF mesh of the static, plus the mesh
    and the high-symmetry path of the band-structure run when there is one)."""
    mesh = run_band_edges(static)["all"]
    row = {
        "system": system,
        "composition_label": static.doc.get("composition_label"),
        "defect": (static.doc.get("defect") or {}).get("descriptor") or "",
        "charge": static.doc.get("charge"),
        "functional": (static.doc.get("functional") or {}).get("label"),
        "gap": mesh.gap,
        "vbm": mesh.vbm,
        "cbm": mesh.cbm,
        "direct": mesh.is_direct,
        "metallic": mesh.is_metal,
        "gap_source": "SCF mesh",
        "gap_mesh": mesh.gap,
        "gap_path": None,
        "vbm_k": None,
        "cbm_k": None,
        "executor": static.executor,
    }
    if bands is not None:
        edges = run_band_edges(bands)
        path = edges.get("path", edges["all"])
        # mesh points give the occupations; edges over mesh + path, placed on the static's energy scale
        both = edges["all"]
        row.update(
            {
                "gap": min(mesh.gap, both.gap),
                "gap_path": path.gap,
                "direct": both.is_direct,
                "gap_source": "SCF mesh + band path",
                "vbm_k": _k_name(both.vbm_label, both.vbm_kpoint),
                "cbm_k": _k_name(both.cbm_label, both.cbm_kpoint),
            }
        )
    return row


def _k_name(label: str | None, kpoint) -> str:
    """A band edge's k-point: its path label (Γ for Gamma), or its fractional coordinates when it lies
    off the labelled points (a mesh point or a point between two labels)."""
    if label in GAMMA_LABELS:
        return "Γ"
    if label:
        return label
    return "(" + ", ".join(f"{x:.3g}" for x in (0.0 if abs(x) < 5e-4 else x for x in kpoint)) + ")"


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
    eig = run.eigenvalues[:, path]
    defect = {(s.spin, s.band) for s in levels.states} if levels else set()
    # filled bands by index from the weighted (SCF) points: the zero-weight points' occupations follow
    # E_F of the mesh and may drop below 1 for valence states that lie higher on the path
    mesh_occ = run.occupations[:, ~path] if (~path).any() else run.occupations
    filled = {(int(sp), int(b)) for sp, b in np.argwhere(mesh_occ.min(axis=1) > 0.5)}
    occupied_defect = {(sp, b) for sp, b in defect if mesh_occ[sp, :, b].mean() > 0.5}
    highest = max(float(eig[sp, :, b].max()) for sp, b in filled | occupied_defect)
    return {
        "title": title,
        "distance": np.array(distance),
        "bands": eig,
        "zero": highest,
        "valence_bands": filled - defect,
        "defect_bands": defect,
        "ticks": ticks,
    }
