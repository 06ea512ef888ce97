"""One report per study: tables (Markdown, CSV, JSON) from the results database.

Every number that came from mock-vasp is labelled as model output: a banner on the report, an
`executor` column in every table, and "(model)" next to values in the Markdown.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from dftflow.fileio import atomic_write_text

MOCK_BANNER = (
    "**MODEL OUTPUT - NOT DFT.** Values marked (model) were computed by mock-vasp, a tight-binding stand-in "
    "for VASP that shows the pipeline works. They do not reproduce, and must not be compared with, the papers' "
    "DFT numbers."
)
RESULT_COLUMNS = ["task_label", "step", "composition_label", "defect", "charge", "functional", "energy", "bandgap",
                  "vbm", "cbm", "efermi", "executor", "state"]  # fmt: skip


def result_row(doc: dict) -> dict:
    """One row of `dftflow results`: the fields a user filters and compares on."""
    out = doc.get("output", {})
    defect = doc.get("defect") or {}
    return {
        "study": doc.get("study"),
        "task_label": doc.get("task_label"),
        "step": doc.get("step"),
        "composition_label": doc.get("composition_label"),
        "defect": defect.get("descriptor") or "",
        "charge": doc.get("charge"),
        "functional": (doc.get("functional") or {}).get("label"),
        "aexx": (doc.get("functional") or {}).get("aexx"),
        "base_gga": (doc.get("functional") or {}).get("base_gga"),
        "energy": out.get("energy"),
        "bandgap": out.get("bandgap"),
        "vbm": out.get("vbm"),
        "cbm": out.get("cbm"),
        "efermi": out.get("efermi"),
        "executor": doc.get("executor"),
        "state": doc.get("state"),
    }


def rows_to_csv(rows: list[dict], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rows_to_markdown(rows: list[dict], columns: list[str], digits: int = 4) -> str:
    def cell(row, col):
        value = row.get(col)
        if isinstance(value, float):
            text = f"{value:.{digits}f}"
            return f"{text} (model)" if row.get("executor") == "mock" else text
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_report(study, db, out_dir: str | Path) -> dict[str, Path]:
    """Write results.{csv,md,json} and report.md for `study` into out_dir; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = [c.label for c in study.calculations]
    docs = [d for d in (db.task(study.spec.name, label) for label in labels) if d is not None]
    rows = [result_row(d) for d in docs]
    any_mock = any(r["executor"] == "mock" for r in rows)
    paths = {
        "csv": atomic_write_text(out / "results.csv", rows_to_csv(rows, RESULT_COLUMNS)),
        "json": atomic_write_text(out / "results.json", json.dumps(rows, indent=1, default=str) + "\n"),
    }
    missing = [label for label in labels if label not in {r["task_label"] for r in rows}]
    text = [f"# {study.spec.title or study.spec.name}", ""]
    if study.spec.reference:
        text += [f"Reference: {study.spec.reference}", ""]
    if any_mock:
        text += [MOCK_BANNER, ""]
    text += ["## Calculations", "", rows_to_markdown(rows, RESULT_COLUMNS)]
    if missing:
        text += ["", f"**Incomplete:** {len(missing)} calculation(s) have no stored result: " + ", ".join(missing)]
    paths["markdown"] = atomic_write_text(out / "report.md", "\n".join(text) + "\n")
    return paths
