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
from dftflow.analysis.defect_levels import DefectLevels, defect_levels, reference_edges
from dftflow.analysis.rundata import RunData
from dftflow.analysis.site_energies import arrangement_rows, site_energy_rows
from dftflow.analysis.spatial import Extent
from dftflow.steps import Step
from dftflow.vasp.kpoints import GAMMA_LABELS

LEVEL_COLUMNS = (
    "system kind band spin occupation below_cbm below_cbm_min below_cbm_max above_vbm above_vbm_min "
    "above_vbm_max dispersion dispersive p_ratio ipr_ratio radius extent atoms executor"
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
    arrangements: list[dict] = field(default_factory=list)  # vacancy spacings of one entry, lowest marked
    lattices: list[dict] = field(default_factory=list)  # the lattice of the bulk and of every cell, and its source
    thermo: object | None = None  # thermodynamics.DefectThermodynamics when the study asks for formation energies
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pristine: str | None = None
    executors: dict[str, str] = field(default_factory=dict)  # system -> executor of its hybrid static

    @property
    def higher_arrangements(self) -> set[str]:
        """Systems that lost to a lower-energy arrangement of the same vacancies: left out of the series."""
        return {row["system"] for row in self.arrangements if not row["lowest"]}

    def series_systems(self, study) -> list[str]:
        """The study's systems as the concentration series shows them: each vacancy arrangement only in its
        lowest-energy form."""
        return [s for s in study.systems if s not in self.higher_arrangements]

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
                    row["extent"] = Extent(**level.extent).summary if level.extent else ""
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
            levels = defect_levels(static, pristine_static, pristine_bands, bands, study.spec.supercell)
            results.levels[system] = levels
            row["host_gap"] = levels.host_gap
            row["metallic"] = row["metallic"] or levels.metallic
        results.gaps.append(row)
    results.lattices = lattice_rows(results, study)
    statics = {s: r for s in systems[1:] if (r := run_of(results, study, Step.HSE_STATIC, s)) is not None}
    relaxes = {s: r for s in systems[1:] if (r := run_of(results, study, Step.RELAX, s)) is not None}
    results.site_energies = site_energy_rows(statics, relaxes)
    results.arrangements = arrangement_rows(statics, variant_groups(study, systems[1:], "spacing"))
    for row in results.gaps:
        arrangement = next((a for a in results.arrangements if a["system"] == row["system"]), None)
        if arrangement is not None:
            row["arrangement"] = "lowest" if arrangement["lowest"] else f"+{arrangement['relative_hybrid']:.3f} eV"
    if study.spec.formation_energy is not None and pristine_static is not None:
        results.thermo = _thermodynamics(results, study, pristine_static, pristine_bands)
        thermo = results.thermo
        tensor = "" if thermo.dielectric is None else f" {[[round(x, 3) for x in row] for row in thermo.dielectric]}"
        results.notes += [f"dielectric tensor: {thermo.dielectric_source}{tensor}", *thermo.limit_notes, *thermo.notes]
    return results


def lattice_rows(results: StudyResults, study) -> list[dict]:
    """The lattice each result used: the bulk step's and every system's hybrid static (abc, angles)."""
    rows = []
    for system, step in [(None, Step.BULK_RELAX)] + [(s, Step.HSE_STATIC) for s in study.systems]:
        run = run_of(results, study, step, system)
        if run is None:
            continue
        lattice = run.structure.lattice
        rows.append(
            {
                "system": system or "bulk (unit cell)",
                "a": lattice.a,
                "b": lattice.b,
                "c": lattice.c,
                "alpha": lattice.alpha,
                "beta": lattice.beta,
                "gamma": lattice.gamma,
                "source": run.task.lattice or study.lattice_source,
                "executor": run.executor,
            }
        )
    return rows


def variant_groups(study, systems: list[str], varying: str) -> dict[str, list[str]]:
    """Systems of one study-file entry that differ only in `varying` ("charge", "spacing"), grouped and
    named by composition and the defect without what varies ("WO2.938 V_O(s_z)")."""
    groups: dict[tuple, list[str]] = {}
    names: dict[tuple, str] = {}
    for system in systems:
        index, variant = study.origin(system)
        key = (index, tuple(sorted((k, str(v)) for k, v in variant.items() if k != varying)))
        _, cell = study.systems[system]
        groups.setdefault(key, []).append(system)
        descriptor = cell.descriptor
        if varying == "spacing":
            descriptor = descriptor.replace(",neighbour", "")
        names.setdefault(key, f"{cell.composition} {descriptor}".strip())
    return {names[key]: members for key, members in groups.items()}


def _thermodynamics(results: StudyResults, study, pristine_static: RunData, pristine_bands: RunData | None):
    from dftflow.analysis.thermodynamics import chemical_potentials, dielectric_tensor, thermodynamics
    from dftflow.calculations import O2_SYSTEM

    spec = study.spec.formation_energy
    vbm, cbm, source = reference_edges(pristine_static, pristine_bands)
    tensor, tensor_source = dielectric_tensor(spec.dielectric, run_of(results, study, Step.DIELECTRIC, None))
    limits, limit_notes = chemical_potentials(spec, run_of(results, study, Step.HSE_STATIC, O2_SYSTEM))
    families = {}
    for defect, members in variant_groups(study, list(study.systems)[1:], "charge").items():
        runs = [(s, r) for s in members if (r := run_of(results, study, Step.HSE_STATIC, s)) is not None]
        if runs:
            families[defect] = runs
    limit_notes = [*limit_notes, f"E_F = 0 at the pristine VBM; reference edges: {source}"]
    return thermodynamics(
        families,
        pristine_static,
        spec,
        study.spec.measured_levels,
        vbm=vbm,
        gap=cbm - vbm,
        tensor=tensor,
        tensor_source=tensor_source,
        limits=limits,
        limit_notes=limit_notes,
    )


def gap_row(system: str, static: RunData, bands: RunData | None) -> dict:
    """Kohn-Sham gap of a system over every k-point computed for it (the SCF mesh of the static, plus the
    mesh and the high-symmetry path of the band-structure run when there is one); host_gap equals it for
    the pristine cell and is replaced by the defect analysis' for defect cells."""
    mesh = run_band_edges(static)["all"]
    row = {
        "system": system,
        "composition_label": static.task.composition_label,
        "defect": (static.task.defect.descriptor if static.task.defect else None) or "",
        "charge": static.task.charge,
        "functional": static.task.functional.label,
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
