"""One report per study: tables (Markdown, CSV, JSON), figures (PNG, SVG), report.md and a
self-contained report.html.

Every number that came from mock-vasp is labelled as model output: a banner on the report, an
`executor` column in every table, "(model)" next to values in Markdown, a stamp on every figure.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

from dftflow.analysis.study_analysis import LEVEL_COLUMNS, LEVEL_SUMMARY_COLUMNS
from dftflow.fileio import atomic_write_text

MOCK_BANNER = (
    "**MODEL OUTPUT - NOT DFT.** Values marked (model) were computed by mock-vasp, a tight-binding stand-in "
    "for VASP that shows the pipeline works. They do not reproduce, and must not be compared with, the papers' "
    "DFT numbers."
)
RESULT_COLUMNS = (
    "task_label step composition_label defect charge functional energy bandgap vbm cbm efermi executor state"
)
RESULT_COLUMNS = RESULT_COLUMNS.split()
TABLES = {
    "gaps": "system composition_label defect charge functional ks_gap host_gap direct metallic gap_source gap_mesh "
    "gap_path vbm_k cbm_k arrangement executor",
    "defect_levels": LEVEL_COLUMNS,
    "other_states": LEVEL_COLUMNS,
    "level_summary": LEVEL_SUMMARY_COLUMNS,
    "levels_vs_h": "label x below_cbm levels state executor",
    "site_energies": "system site orbit charge energy_hybrid relative_hybrid axis_spread_hybrid energy_relax "
    "relative_relax executor",
    "arrangements": "group system spacing energy_hybrid relative_hybrid lowest executor",
    "lattices": "system a b c alpha beta gamma source executor",
    "charge_corrections": "system defect charge energy correction correction_method point_charge alignment executor",
    "formation_energies": "defect system charge limit at_vbm at_cbm correction corrected executor",
    "transition_levels": "defect transition above_vbm below_cbm measured_below_cbm measured_source executor",
}
TABLES = {name: columns.split() if isinstance(columns, str) else list(columns) for name, columns in TABLES.items()}
TITLES = {
    "gaps": "Band gaps",
    "level_summary": "Defect cells: alignment, reference edges, gaps, state counts",
    "defect_levels": "Defect levels (localised in-gap states)",
    "other_states": "Perturbed host and resonant states (not defect levels)",
    "levels_vs_h": "Defect level versus H concentration",
    "site_energies": "Site energies",
    "arrangements": "Vacancy arrangements",
    "lattices": "Lattices (A, degrees)",
    "charge_corrections": "Finite-size corrections of the charged cells (eV)",
    "formation_energies": "Formation energies (eV)",
    "transition_levels": "Charge-transition levels (eV)",
}
LEGENDS = {
    "gaps": "ks_gap: highest occupied to lowest unoccupied Kohn-Sham state of the cell (defect states included). "
    "host_gap: the defect cell's host-like valence band to its host-like conduction band (defect states "
    "excluded); equal to ks_gap for the pristine cell. Both over the SCF mesh and, where there is one, the band "
    "path.",
    "defect_levels": "States between the defect cell's host-like band edges (pydefect's band-edge-state method: "
    "orbital character and energy against the pristine band-edge states) whose k-mean energy lies in the "
    "reference gap. Band: VASP's 1-based index. below_cbm = E_CBM - e and above_vbm = e - E_VBM against the "
    "pristine supercell's edges (SCF mesh and band path) shifted by the potential alignment dV, at every "
    "weighted k-point of the defect cell: k-weighted mean, min and max. dispersive: more than 0.1 eV over k "
    "(the defect interacts with its periodic images). p_ratio: weight on the defect's neighbour atoms; "
    "ipr_ratio: IPR over the pristine band edge's; radius: half-weight radius (A) around the defect.",
    "other_states": "perturbed host: the defect cell's host-like VBM and CBM bands and the host-like bands beyond "
    "them within the energy criterion (a shallow donor/acceptor's carriers sit here); resonant: non-host-like "
    "states whose k-mean energy lies beyond a reference edge. Neither is a defect level.",
    "arrangements": "Aligned vacancies at each spacing the study lists, relative to the lowest (hybrid single "
    "points at the PBEsol geometries). The series (figures) uses the lowest; the gap table marks each.",
    "site_energies": "Relative to the lowest cell of the same composition and charge; axis_spread_hybrid: the "
    "spread of a chain axis over its crystallographic orbits.",
    "formation_energies": "E_f at E_F = 0 (the pristine VBM, over SCF mesh and band path) and at E_F = the "
    "reference gap, with the finite-size correction included.",
    "charge_corrections": "Through pymatgen-analysis-defects: efnv = Kumagai-Oba from the OUTCAR atomic-site "
    "potentials (point-charge + alignment terms); freysoldt from the LOCPOT planar averages.",
    "transition_levels": "e(q/q'): the Fermi level where charge states q and q' have equal formation energy, on "
    "the lower envelope (pymatgen-analysis-defects). measured_below_cbm is an EXPERIMENTAL value from the study "
    "file, not computed.",
    "level_summary": "alignment: dV from the core potentials (farther half of the atoms) and its spread; "
    "reference_source: where the pristine edges were found; criteria: pydefect/doped orbital-difference and "
    "energy criteria that found the host-like edges; donor_phs/acceptor_phs: more than 0.2 carriers per spin "
    "in a host-like band (shallow, perturbed host state).",
}
APPROXIMATIONS = (
    "Hybrid energies, gaps and levels are single points at the PBEsol geometry (no hybrid relaxation). "
    "Defect levels are Kohn-Sham states classified by pydefect's band-edge-state method and placed against the "
    "pristine supercell's band edges (SCF mesh and band path) after core-potential alignment. Site energies "
    "compare cells of the same composition, charge and size; formation energies carry the finite-size "
    "correction the table names (none without a dielectric tensor)."
)


def result_row(task) -> dict:
    """One row of `dftflow results`: the fields a user filters and compares on (a TaskDocument)."""
    out, functional = task.output, task.functional
    return {
        "study": task.study,
        "task_label": task.task_label,
        "step": task.step,
        "composition_label": task.composition_label,
        "defect": (task.defect.descriptor if task.defect else None) or "",
        "charge": task.charge,
        "functional": functional.label,
        "aexx": functional.aexx,
        "hfscreen": functional.hfscreen,
        "base_gga": functional.base_gga,
        "energy": out.energy,
        "bandgap": out.bandgap,
        "vbm": out.vbm,
        "cbm": out.cbm,
        "efermi": out.efermi,
        "executor": task.executor,
        "state": task.state,
    }


EXPERIMENTAL_PREFIX = "measured"  # columns holding a measured value from the study file


def rows_to_csv(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _cell(row: dict, col: str, digits: int = 3) -> str:
    value = row.get(col)
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        if col.startswith(EXPERIMENTAL_PREFIX):  # typed into the study file from a paper: never model output
            return f"{text} (experiment)"
        return f"{text} (model)" if row.get("executor") == "mock" else text
    return "" if value is None else str(value)


def rows_to_markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _rows_to_html(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r, c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def study_tables(results, study) -> dict[str, list[dict]]:
    from dftflow.analysis.figure_data import hydrogen_trend

    tables = {
        "gaps": results.gaps,
        "level_summary": results.level_summary_rows(),
        "defect_levels": results.level_rows(("levels",)),
        "other_states": results.level_rows(("perturbed_host", "resonant")),
        "levels_vs_h": hydrogen_trend(results, study),
        "site_energies": results.site_energies,
        "arrangements": results.arrangements,
        "lattices": results.lattices,
    }
    if results.thermo is not None:
        thermo = results.thermo.as_dict()
        tables["charge_corrections"] = [
            {
                **c,
                "point_charge": c["correction_parts"].get("point_charge"),
                "alignment": c["correction_parts"].get("alignment"),
            }
            for c in thermo["cells"]
        ]
        tables["formation_energies"] = thermo["formation"]
        tables["transition_levels"] = thermo["transitions"]
    return tables


def study_figures(results, study, tables: dict, out: Path) -> dict[str, dict]:
    """Make the figures this study's data supports; returns {name: {"png", "svg", "caption"}}."""
    from dftflow import plotting
    from dftflow.analysis.figure_data import band_panels, dos_panel, extent_panels, formation_panels, parchg_panels

    figs, model = {}, results.model
    dos_panels = [p for s in results.series_systems(study) if (p := dos_panel(results, study, s)) is not None]
    if dos_panels:
        figs["dos"] = {
            **plotting.dos_figure(dos_panels, out / "dos", model),
            "caption": "Hybrid DOS: total (grey), W 5d, O 2p (and H 1s) projections; dashed: E_F; "
            "dotted: CBM (pristine CBM aligned into each cell). Zero at the VBM.",
        }
    panels = band_panels(results, study)
    if panels:
        figs["bands"] = {
            **plotting.band_figure(panels, out / "bands", model),
            "caption": "Hybrid band structures (zero-weight k-points), zero at the highest occupied "
            "state (in a metallic cell the highest state filled above one half, in a partly filled band): "
            "filled host bands blue, partly filled and empty bands orange, defect levels green (exactly the states of "
            "the defect-level table).",
        }
    trend = tables.get("levels_vs_h") or []
    if len(trend) > 1:
        figs["levels_vs_h"] = {
            **plotting.level_trend_figure(trend, out / "levels_vs_h", model),
            "caption": "Shallowest occupied localised in-gap level below the CBM against H concentration; "
            "squares: metallic cells; crosses: no localised level (electron in a perturbed host state).",
        }
    if results.thermo is not None and (panels := formation_panels(results.thermo)):
        figs["formation_energies"] = {
            **plotting.formation_energy_figure(panels, out / "formation_energies", model),
            "caption": "Formation energy against the Fermi level (zero at the pristine VBM, dashed line at the "
            "reference CBM), one panel per chemical-potential limit: thin lines every charge state, bold the "
            "lowest, dots the charge-transition levels.",
        }
    if panels := extent_panels(results):
        figs["level_extent"] = {
            **plotting.extent_figure(panels, out / "level_extent", model),
            "caption": "Where each localised in-gap level lives (from its atom projections): its share on each W "
            "against the W's distance from the defect, and the W on the level's two main principal axes (marker "
            "area: weight). The level table gives its radius of gyration, shape and how many W hold half.",
        }
    if panels := parchg_panels(results, study):
        figs["partial_charge"] = {
            **plotting.parchg_figure(panels, out / "partial_charge", model),
            "caption": "Partial charge density of each in-gap state (hybrid, LPARD): the density on the lattice plane "
            "through the defect (x, at the centre) that holds most of it, with the W atoms within 1 A of it (o), "
            "and the share of the state's charge in each W atom's Voronoi cell against its "
            "distance from the defect. The PARCHG files are kept in the run directories (for VESTA).",
        }
    if len(results.site_energies) > 1:
        figs["site_energies"] = {
            **plotting.site_energy_figure(results.site_energies, out / "site_energies", model),
            "caption": "Relative energies of the vacancy sites (same charge and cell).",
        }
    return figs


def write_report(study, db, out_dir: str | Path) -> dict[str, Path]:
    """Analyse the study's stored results and write tables, figures, report.md and report.html."""
    from dftflow.analysis.study_analysis import analyse_study

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = analyse_study(study, db)
    if results.thermo is not None:  # stored with the results, so a query finds each cell's correction
        db.store_thermodynamics(study.spec.name, {**results.thermo.as_dict(), "model_output": results.model})
    rows = [result_row(r.task) for r in results.runs.values()]
    paths = {
        "results_csv": atomic_write_text(out / "results.csv", rows_to_csv(rows, RESULT_COLUMNS)),
        "results_json": atomic_write_text(out / "results.json", json.dumps(rows, indent=1, default=str) + "\n"),
    }
    tables = study_tables(results, study)
    for name, table in tables.items():
        paths[f"{name}_csv"] = atomic_write_text(out / f"{name}.csv", rows_to_csv(table, TABLES[name]))
        paths[f"{name}_json"] = atomic_write_text(out / f"{name}.json", json.dumps(table, indent=1, default=str) + "\n")
        paths[f"{name}_md"] = atomic_write_text(out / f"{name}.md", rows_to_markdown(table, TABLES[name]))
    figures = study_figures(results, study, tables, out / "figures")
    paths["markdown"] = atomic_write_text(out / "report.md", _markdown(study, results, rows, tables, figures, out))
    paths["html"] = atomic_write_text(out / "report.html", _html(study, results, rows, tables, figures))
    return paths


def _notes(results) -> list[str]:
    notes = list(results.notes)
    for system, levels in results.levels.items():
        notes += [f"{system}: {n}" for n in levels.notes]
    return notes


def _markdown(study, results, rows, tables, figures, out: Path) -> str:
    text = [f"# {results.title}", ""]
    if study.spec.reference:
        text += [f"Reference: {study.spec.reference}", ""]
    if results.model:
        text += [MOCK_BANNER, ""]
    text += [f"Approximations: {APPROXIMATIONS}", ""]
    for name, table in tables.items():
        if table:
            text += [f"## {TITLES[name]}", ""]
            if name in LEGENDS:
                text += [LEGENDS[name], ""]
            text += [rows_to_markdown(table, TABLES[name])]
        elif name == "defect_levels" and results.levels:
            text += [f"## {TITLES[name]}", "", "No localised in-gap state in any defect cell.", ""]
    for name, fig in figures.items():
        text += [
            f"## Figure: {name}",
            "",
            f"![{fig['caption']}]({fig['png'].relative_to(out)})",
            "",
            fig["caption"],
            "",
        ]
    notes = _notes(results)
    if notes:
        text += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    text += ["## All calculations", "", rows_to_markdown(rows, RESULT_COLUMNS)]
    if results.missing:
        text += [
            "",
            f"**Incomplete:** {len(results.missing)} calculation(s) have no stored result: "
            + ", ".join(results.missing),
        ]
    return "\n".join(text) + "\n"


def _html(study, results, rows, tables, figures) -> str:
    parts = [f"<h1>{html.escape(results.title)}</h1>"]
    if study.spec.reference:
        parts.append(f"<p>Reference: {html.escape(study.spec.reference)}</p>")
    if results.model:
        parts.append(f"<p class='banner'>{html.escape(MOCK_BANNER.replace('**', ''))}</p>")
    parts.append(f"<p><em>{html.escape(APPROXIMATIONS)}</em></p>")
    for name, table in tables.items():
        if table:
            parts.append(f"<h2>{html.escape(TITLES[name])}</h2>")
            if name in LEGENDS:
                parts.append(f"<p><small>{html.escape(LEGENDS[name])}</small></p>")
            parts.append(_rows_to_html(table, TABLES[name]))
    for name, fig in figures.items():
        data = base64.b64encode(fig["png"].read_bytes()).decode()
        parts += [
            f"<h2>{html.escape(name)}</h2>",
            f"<img alt='{html.escape(fig['caption'])}' src='data:image/png;base64,{data}'/>",
            f"<p>{html.escape(fig['caption'])}</p>",
        ]
    notes = _notes(results)
    if notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{html.escape(n)}</li>" for n in notes] + ["</ul>"]
    parts += ["<h2>All calculations</h2>", _rows_to_html(rows, RESULT_COLUMNS)]
    if results.missing:
        parts.append(f"<p><strong>Incomplete:</strong> {html.escape(', '.join(results.missing))}</p>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.banner{background:#fde2e2;padding:8px;font-weight:bold}"
        "img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{style}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )
