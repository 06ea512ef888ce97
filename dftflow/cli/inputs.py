"""`dftflow sites | validate | inputs | plan`: structures and input sets, nothing run."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from dftflow.errors import InputError
from dftflow.steps import Step


# --- sites -----------------------------------------------------------------------------------------
def cmd_sites(args) -> int:
    from dftflow.sites import Framework
    from dftflow.structures import load_structure, make_supercell, parse_supercell

    structure = make_supercell(load_structure(args.structure), parse_supercell(args.supercell))
    sites = Framework(structure).oxygen_sites()
    if args.json:
        print(json.dumps([s.as_dict() for s in sites], indent=1))
        return 0
    print(f"{'index':>5}  {'label':5}  {'orbit':>5}  {'W-O short':>9}  {'W-O long':>8}  {'W-O-W':>6}")
    for s in sites:
        print(
            f"{s.index:5d}  {s.label:5}  {s.orbit:5d}  {s.bond_lengths[0]:9.3f}  {s.bond_lengths[1]:8.3f}  "
            f"{s.angle:6.1f}"
        )
    counts = {label: sum(1 for s in sites if s.label == label) for label in ("s_x", "s_y", "s_z")}
    print(f"# {len(sites)} O: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


# --- studies ---------------------------------------------------------------------------------------
def _load(path: str, potcars: str = "auto"):
    from dftflow.calculations import Study
    from dftflow.study import load_study

    return Study(load_study(path), potcars=potcars)


def cmd_validate(args) -> int:
    study = _load(args.study, potcars="spec")
    study.check_inputs()
    print(
        f"{args.study}: OK - study {study.spec.name!r}, {len(study.systems)} systems, "
        f"{len(study.calculations)} calculations"
    )
    for name, (_, cell) in study.systems.items():
        print(f"  {name}: {cell.structure.composition.formula.replace(' ', '')}, charge {cell.charge:+d}")
    return 0


def dependency_note(calc, parent_step: str | None) -> str:
    if calc.parent is None:
        return ""
    source = (
        "the relaxed bulk (CONTCAR of 'bulk relax')"
        if parent_step is Step.BULK_RELAX
        else f"CONTCAR of '{calc.parent}'"
    )
    lines = [
        f"{calc.label}",
        "",
        "This folder was written from the UNRELAXED structure. In the workflow this calculation starts",
        f"from {source}: the structure here shows the settings, not the geometry that will be run.",
    ]
    if calc.step in (Step.HSE_STATIC, Step.HSE_PARCHG):
        lines.append(f"In the workflow it also reads the WAVECAR of '{calc.parent}' (ISTART = 1).")
    if calc.step is Step.HSE_PARCHG:
        lines += [
            "IBAND is not in this INCAR: the workflow sets it when the step runs, to the in-gap bands the",
            f"defect-level analysis finds in '{calc.parent}' against '{', '.join(calc.requires)}'.",
        ]
    return "\n".join(lines) + "\n"


def cmd_inputs(args) -> int:
    study = _load(args.study, potcars=args.potcars)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise InputError(f"{out} exists and is not empty; choose another --out or add --force")
    steps = {c.label: c.step for c in study.calculations}
    prepared = [
        (calc, study.inputs(calc, note=dependency_note(calc, steps.get(calc.parent)))) for calc in study.calculations
    ]  # build everything first: a bad input stops here with nothing written
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        index = []
        for calc, inputs in prepared:
            inputs.write(staging / calc.dirname)
            index.append(
                {
                    "label": calc.label,
                    "directory": calc.dirname,
                    "step": calc.step.value,
                    "parent": calc.parent,
                    "input_hash": inputs.input_hash(),
                }
            )
        (staging / "calculations.json").write_text(json.dumps(index, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    kind = "POTCAR" if study.real_potcars else "POTCAR.spec (offline: no POTCARs)"
    print(f"wrote {len(prepared)} input folders to {out} with {kind}")
    for calc, _ in prepared:
        print(f"  {calc.dirname:45s} {calc.label}")
    return 0


def cmd_plan(args) -> int:
    from dftflow.planning import plan_rows

    study = _load(args.study, potcars="spec")
    rows = plan_rows(study)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(
        f"study {study.spec.name}: {len(rows)} calculations (cost per SCF step relative to the bulk relax's, and at "
        "most that times NSW for relaxations)"
    )
    header = (
        f"{'label':44s} {'atoms':>5} {'NELECT':>6} {'NBANDS':>6} {'k-pts':>5}  {'functional':38s} {'cost':>8} "
        f"{'NSW':>4} {'cost max':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        kpts = (
            f"{r['kpoints']}"
            if r["kpoints"] == r["kpoints_weighted"]
            else f"{r['kpoints_weighted']}+{r['kpoints'] - r['kpoints_weighted']}"
        )
        print(
            f"{r['label']:44s} {r['atoms']:5d} {r['nelect']:6d} {r['nbands']:6d} {kpts:>5}  "
            f"{r['functional']:38s} {r['relative_cost']:8.3g} {r['ionic_steps_max']:4d} {r['relative_cost_max']:9.3g}"
        )
    total = sum(r["relative_cost"] for r in rows)
    most = sum(r["relative_cost_max"] for r in rows)
    print(
        f"k-pts a+b: a weighted SCF points + b zero-weight path points. Total relative cost {total:.3g} per SCF "
        f"cycle of every step, at most {most:.3g} with every relaxation running NSW ionic steps."
    )
    return 0
