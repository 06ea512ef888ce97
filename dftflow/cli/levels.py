"""`dftflow levels`: the defect-level analysis on any VASP run directories (made by dftflow or not)."""

from __future__ import annotations

import json
from pathlib import Path

from dftflow.errors import InputError

SECTIONS = (
    ("levels", "Defect levels (localised in-gap states)"),
    ("perturbed_host", "Perturbed host states (not levels)"),
    ("resonant", "Resonant states (not levels)"),
)


def cmd_levels(args) -> int:
    from dftflow.analysis.defect_levels import defect_levels
    from dftflow.analysis.rundata import RunData

    runs = {}
    for role, path in (
        ("defect", args.defect_dir),
        ("pristine", args.pristine),
        ("pristine-bands", args.pristine_bands),
        ("defect-bands", args.defect_bands),
    ):
        if path is None:
            continue
        if not Path(path).is_dir():
            raise InputError(f"{role} run directory not found: {path}")
        runs[role] = RunData.from_directory(path)
    levels = defect_levels(runs["defect"], runs["pristine"], runs.get("pristine-bands"), runs.get("defect-bands"))
    model = any(r.executor == "mock" for r in runs.values())
    if args.json:
        print(json.dumps({**levels.as_dict(), "model_output": model}, indent=1, default=str))
        return 0
    print(format_levels(levels, model))
    return 0


def format_levels(levels, model: bool) -> str:
    lines = [f"{levels.label}: {levels.defect}"]
    if model:
        lines.append("MODEL OUTPUT (mock-vasp): not DFT")
    lines += [
        f"potential alignment dV = {levels.alignment:+.3f} eV (spread {levels.alignment_spread:.3f} eV)",
        f"reference edges (pristine + dV): VBM {levels.reference_vbm:.3f} eV, CBM {levels.reference_cbm:.3f} eV "
        f"({levels.reference_source})",
        f"host gap (defect cell, host-like bands) {levels.host_gap:.3f} eV; KS gap (defect cell) {levels.ks_gap:.3f} eV"
        + ("; METALLIC" if levels.metallic else ""),
        f"shallow donor (electrons in a host-like CB state): {levels.donor_phs}; "
        f"shallow acceptor (holes in a host-like VB state): {levels.acceptor_phs}",
        "criteria (orbital difference, energy eV) per spin: " + ", ".join(str(tuple(c)) for c in levels.criteria),
        "thresholds: " + "; ".join(f"{k} {v}" for k, v in levels.thresholds.items()),
    ]
    header = (
        f"{'band':>5} {'spin':>7} {'occ':>5} {'E_CBM-e':>8} {'(min':>7} {'max)':>7} {'e-E_VBM':>8} "
        f"{'disp':>6} {'P-ratio':>7} {'IPR/host':>8} {'r(A)':>5}  atoms"
    )
    for attr, title in SECTIONS:
        group = getattr(levels, attr)
        lines += ["", f"{title}: {len(group)}"]
        if group:
            lines.append(header)
        for lv in group:
            atoms = ", ".join(f"{a['species']}{a['index']} {a['weight']:.2f}" for a in lv.atoms[:3])
            flag = " dispersive" if lv.dispersive else ""
            lines.append(
                f"{lv.band:>5} {lv.spin:>7} {lv.occupation:5.2f} {lv.below_cbm:8.3f} {lv.below_cbm_min:7.3f} "
                f"{lv.below_cbm_max:7.3f} {lv.above_vbm:8.3f} {lv.dispersion:6.3f} {lv.p_ratio:7.2f} "
                f"{lv.ipr_ratio:8.2f} {lv.radius:5.2f}  {atoms}{flag}"
            )
    if levels.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in levels.notes]
    return "\n".join(lines)
