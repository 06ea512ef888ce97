"""A whole study's analysis from the results database: the numbers of its report's tables.

Calculations are found through the study (Study.calculation_for), never by rebuilding job labels.
Gaps are named so no one confuses them:
* ks_gap: highest occupied to lowest unoccupied Kohn-Sham state of the cell (defect states included);
* host_gap: for a defect cell, its host-like valence band to its host-like conduction band (defect
  states excluded; band_edge_states.py); for the pristine cell the two are the same;
* each defect level's depth (E_CBM - e, e - E_VBM) against the pristine supercell's edges (defect_levels.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dftflow.analysis.band_edges import run_band_edges
from dftflow.analysis.defect_levels import DefectLevels, defect_levels
from dftflow.analysis.energetics import formation_energies, relative_energies
from dftflow.analysis.rundata import RunData
from dftflow.steps import Step
from dftflow.vasp.kpoints import GAMMA_LABELS

LEVEL_COLUMNS = (
    "system kind band spin occupation below_cbm below_cbm_min below_cbm_max above_vbm above_vbm_min "
    "above_vbm_max dispersion dispersive p_ratio ipr_ratio radius atoms executor"
).split()
LEVEL_SUMMARY_COLUMNS = (
    "system defect alignment alignment_spread reference_vbm reference_cbm reference_source host_gap ks_gap "
    "levels resonant perturbed_host donor_phs acceptor_phs metallic criteria executor"
).split()


@dataclass
class StudyResults:
    study: str
    title: str
    runs: dict[str, RunData] = field(default_factory=dict)  # label -> run
    gaps: list[dict] = field(default_factory=list)
    levels: dict[str, DefectLevels] = field(default_factory=dict)  # system -> classified states (hybrid static)
    site_energies: list[dict] = field(default_factory=list)
    formation: list = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pristine: str | None = None
    executors: dict[str, str] = field(default_factory=dict)  # system -> executor of its hybrid static

    @property
    def model(self) -> bool:
        """True when any number comes from mock-vasp."""
        return any(r.executor == "mock" for r in self.runs.values())

    def level_rows(self, kinds=("levels",)) -> list[dict]:
        """One row per classified state of the given kinds ("levels", "resonant", "perturbed_host")."""
        rows = []
        for system, lv in self.levels.items():
            for kind in kinds:
                for level in getattr(lv, kind):
                    row = {"system": system, **level.__dict__, "executor": self.executors[system]}
                    row["atoms"] = ", ".join(f"{a['species']}{a['index']} {a['weight']:.2f}" for a in level.atoms[:3])
                    rows.append(row)
        return rows

    def level_summary_rows(self) -> list[dict]:
        """Per defect cell: alignment, reference edges and where they were found, gaps, counts, criteria."""
        rows = []
        for system, lv in self.levels.items():
            rows.append(
                {
                    "system": system,
                    "defect": lv.defect,
                    "alignment": lv.alignment,
                    "alignment_spread": lv.alignment_spread,
                    "reference_vbm": lv.reference_vbm,
                    "reference_cbm": lv.reference_cbm,
                    "reference_source": lv.reference_source,
                    "host_gap": lv.host_gap,
                    "ks_gap": lv.ks_gap,
                    "levels": len(lv.levels),
                    "resonant": len(lv.resonant),
                    "perturbed_host": len(lv.perturbed_host),
                    "donor_phs": lv.donor_phs,
                    "acceptor_phs": lv.acceptor_phs,
                    "metallic": lv.metallic,
                    "criteria": "; ".join(f"orb<{o:g}, dE<{e:.2f} eV" for o, e in lv.criteria),
                    "executor": self.executors[system],
                }
            )
        return rows


def _load(db, study_name: str, label: str) -> RunData | None:
    doc = db.task(study_name, label)
    return RunData.from_db(db, doc) if doc else None


def run_of(results: StudyResults, study, step: Step, system: str | None) -> RunData | None:
    """The stored run of a system's step, or None (not in the study, or not stored yet)."""
    calc = study.calculation_for(step, system)
    return results.runs.get(calc.label) if calc is not None else None


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
    pristine_static = run_of(results, study, Step.HSE_STATIC, results.pristine)
    pristine_bands = run_of(results, study, Step.HSE_BANDS, results.pristine)
    if pristine_static is not None and pristine_bands is None:
        results.notes.append(
            "the pristine cell has no band-structure run: reference band edges come from its SCF mesh only, "
            "which misses an edge at a k-point the mesh does not contain (Gamma for a Monkhorst-Pack mesh)"
        )
    for system in systems:
        static = run_of(results, study, Step.HSE_STATIC, system)
        bands = run_of(results, study, Step.HSE_BANDS, system)
        if static is None:
            continue
        results.executors[system] = static.executor
        row = gap_row(system, static, bands)
        if pristine_static is not None and system != results.pristine:
            levels = defect_levels(static, pristine_static, pristine_bands, bands)
            results.levels[system] = levels
            row["host_gap"] = levels.host_gap
            row["metallic"] = row["metallic"] or levels.metallic
        results.gaps.append(row)
    results.site_energies = _site_energy_rows(results, study, systems[1:])
    fe_spec = getattr(study.spec, "formation_energy", None)
    if fe_spec is not None and pristine_static is not None:
        defect_runs = [r for s in systems[1:] if (r := run_of(results, study, Step.HSE_STATIC, s)) is not None]
        skipped: list[str] = []
        results.formation = formation_energies(
            defect_runs, pristine_static, fe_spec.chemical_potentials, fe_spec.dielectric, skipped
        )
        results.notes += [f"formation energy left out: {s}" for s in skipped]
    return results


def gap_row(system: str, static: RunData, bands: RunData | None) -> dict:
    """Kohn-Sham gap of a system over every k-point computed for it (the SCF mesh of the static, plus the
    mesh and the high-symmetry path of the band-structure run when there is one); host_gap equals it for
    the pristine cell and is replaced by the defect analysis' for defect cells."""
    mesh = run_band_edges(static)["all"]
    row = {
        "system": system,
        "composition_label": static.doc.get("composition_label"),
        "defect": (static.doc.get("defect") or {}).get("descriptor") or "",
        "charge": static.doc.get("charge"),
        "functional": (static.doc.get("functional") or {}).get("label"),
        "ks_gap": mesh.gap,
        "host_gap": mesh.gap,
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
        both = edges["all"]  # mesh points give the occupations; edges over mesh + path
        row.update(
            {
                "ks_gap": min(mesh.gap, both.gap),
                "host_gap": min(mesh.gap, both.gap),
                "gap_path": path.gap,
                "direct": both.is_direct,
                "gap_source": "SCF mesh + band path",
                "vbm_k": k_name(both.vbm_label, both.vbm_kpoint),
                "cbm_k": k_name(both.cbm_label, both.cbm_kpoint),
            }
        )
    return row


def k_name(label: str | None, kpoint) -> str:
    """A band edge's k-point: its path label (Γ for Gamma), or its fractional coordinates when it lies
    off the labelled points (a mesh point or a point between two labels)."""
    if label in GAMMA_LABELS:
        return "Γ"
    if label:
        return label
    return "(" + ", ".join(f"{x:.3g}" for x in (0.0 if abs(x) < 5e-4 else x for x in kpoint)) + ")"


def _site_energy_rows(results: StudyResults, study, defect_systems: list[str]) -> list[dict]:
    statics = {s: r for s in defect_systems if (r := run_of(results, study, Step.HSE_STATIC, s)) is not None}
    relaxes = {s: r for s in defect_systems if (r := run_of(results, study, Step.RELAX, s)) is not None}
    hybrid = {row["task_label"]: row for row in relative_energies(list(statics.values()))}
    relax = {row["task_label"]: row for row in relative_energies(list(relaxes.values()))}
    rows = []
    for system, static in statics.items():
        h = hybrid[static.label]
        r = relax.get(relaxes[system].label) if system in relaxes else None
        sites = [
            d.get("label") for d in (static.doc.get("defect") or {}).get("sites", []) if d.get("type") == "vacancy"
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
                "_group": (h["charge"], static.doc.get("formula")),
            }
        )
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(row.pop("_group"), []).append(row)
    return [row for members in groups.values() if len(members) > 1 for row in members]
