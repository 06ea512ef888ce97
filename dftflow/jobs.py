"""What each calculation's Firework does, as plain functions (the Firetasks only adapt them).

prepare_calculation: build the structure from the parent's outputs (the relaxed bulk for supercells
    and defects, the relaxed cell for hybrid steps), write the inputs, copy the WAVECAR a hybrid
    static starts from, and record label, inputs hash and study context in dftflow_inputs.json.
stored_duplicate:    a successful task with the same inputs hash already in the results database.
run_calculation:     custodian + VASP (or mock-vasp) in the directory.
store_calculation:   parse the directory into a task document (+ blobs) and store it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from pymatgen.core import Structure

from dftflow.calculations import BULK_LABEL, Calculation, Study, build_system
from dftflow.db import ResultsDB
from dftflow.errors import InputError
from dftflow.fileio import atomic_write_json, gzip_outputs
from dftflow.steps import Step
from dftflow.vasp.outputs import INPUTS_RECORD, unfinished
from dftflow.vasp.run import RUN_RECORD, run_vasp
from dftflow.vasp.task_document import inputs_record, task_document

APPROXIMATIONS = {
    Step.HSE_STATIC: ["hybrid single point at the PBEsol geometry (no hybrid relaxation)"],
    Step.HSE_BANDS: ["hybrid band structure at the PBEsol geometry (no hybrid relaxation)"],
    Step.HSE_PARCHG: ["hybrid partial charge density at the PBEsol geometry (no hybrid relaxation)"],
    Step.DIELECTRIC: ["semilocal (PBEsol) DFPT dielectric tensor: electronic + ionic"],
}


def parent_dir(calc: Calculation, calc_locs: list[dict], db: ResultsDB | None = None, study: str = "") -> Path:
    """Directory of the calculation this one starts from: FireWorks passes it as calc_locs; when a
    kill interrupted that hand-over, the stored parent task says where it ran."""
    for loc in reversed(calc_locs or []):
        if loc.get("name") == calc.parent:
            return Path(loc["path"])
    stored = db.task(study, calc.parent) if db is not None else None
    if stored is not None and stored.get("state") == "successful":
        return Path(stored["dir_name"])
    raise InputError(f"{calc.label}: no output location of its parent '{calc.parent}' was passed to it")


def read_contcar(directory: Path) -> Structure:
    for name in ("CONTCAR", "CONTCAR.gz"):
        path = directory / name
        if path.is_file() and path.stat().st_size > 0:
            return Structure.from_file(path)
    raise InputError(f"{directory}: no CONTCAR to start from")


def calculation_structure(study: Study, calc: Calculation, parent: Path | None) -> Structure:
    if calc.step is Step.BULK_RELAX:
        return study.host
    if calc.parent is None:  # a reference molecule, built on its own
        return study.references[calc.system]
    parent = read_contcar(parent)
    if calc.parent == BULK_LABEL and calc.system is not None:
        system, _ = study.systems[calc.system]
        return build_system(parent, study.spec, system).structure  # defect cell in the RELAXED bulk lattice
    return parent


def structure_provenance(study: Study, calc: Calculation, parent: Path | None) -> dict:
    """Where the calculation's structure came from: the host file (path and SHA-256, as read when the
    study was loaded), or the parent calculation's CONTCAR and the defect built into it."""
    if calc.step is Step.BULK_RELAX:
        return dict(study.host_provenance)
    if calc.parent is None:  # a reference molecule, built on its own
        return {"source": "built", "molecule": calc.system}
    origin = {"source": "parent CONTCAR", "parent": calc.parent, "parent_dir": str(parent) if parent else None}
    if calc.parent == BULK_LABEL and calc.system is not None:
        _, cell = study.systems[calc.system]
        origin["defect"] = cell.descriptor or None
    return origin


def partial_charge_bands(study: Study, calc: Calculation, db: ResultsDB | None) -> list[int]:
    """IBAND of a partial-charge step: the 1-based bands the defect-level analysis of the system's hybrid
    static classifies as in-gap orbitals (levels and resonant states: pydefect's localized orbitals)."""
    from dftflow.analysis.defect_levels import defect_levels
    from dftflow.analysis.rundata import RunData

    if db is None:
        raise InputError(f"{calc.label}: needs the results database to find the in-gap states")
    runs = []
    for label in (calc.parent, *calc.requires):
        doc = db.task(study.spec.name, label)
        if doc is None:
            raise InputError(f"{calc.label}: the result of '{label}' is not stored")
        runs.append(RunData.from_db(db, doc))
    levels = defect_levels(runs[0], runs[1])
    return sorted({lv.band for lv in levels.levels + levels.resonant})


def approximations(study: Study, calc: Calculation) -> list[str]:
    """What a result assumes, in words stored with it."""
    if calc.step.hybrid and calc.step is not Step.HSE_RELAX and study.spec.functional.hybrid_relax:
        return [f"hybrid {calc.step.value.removeprefix('hse-')} at the hybrid-relaxed geometry (ions; lattice fixed)"]
    return APPROXIMATIONS.get(calc.step, [])


def calculation_context(study: Study, calc: Calculation) -> dict:
    """Who this calculation is, stored with its result."""
    context = {
        "study": study.spec.name,
        "step": calc.step.value,
        "system": calc.system,
        "parent": calc.parent,
        "approximations": approximations(study, calc),
        "lattice": study.lattice_source,
    }
    if calc.system in study.references:
        context.update({"composition_label": calc.system, "charge": 0, "defect": None, "reference": True})
    elif calc.system is not None:
        _, cell = study.systems[calc.system]
        context.update(
            {
                "composition_label": cell.composition,
                "charge": cell.charge,
                "defect": {
                    "descriptor": cell.descriptor or None,
                    "charge": cell.charge,
                    "sites": cell.defect_sites,
                    "seed_w": cell.seed_w,
                    "defect_electrons": cell.defect_electrons,
                },
            }
        )
    else:
        context.update(
            {
                "composition_label": "WO3"
                if study.host.composition.reduced_formula == "WO3"
                else study.host.composition.reduced_formula,
                "charge": 0,
                "defect": None,
            }
        )
    return context


def prepare_calculation(
    study: Study, label: str, directory: str | Path, calc_locs: list[dict] | None = None, db: ResultsDB | None = None
) -> dict:
    """Write the inputs of `label` into `directory`; returns the inputs record."""
    directory = Path(directory)
    calc = study.calculation(label)
    parent = parent_dir(calc, calc_locs or [], db, study.spec.name) if calc.parent else None
    structure = calculation_structure(study, calc, parent)
    extra = None
    if calc.step is Step.HSE_PARCHG:
        bands = partial_charge_bands(study, calc, db)
        if not bands:
            return {"label": calc.label, "skip": f"{calc.system}: no in-gap state, so no partial charge to compute"}
        extra = {"IBAND": bands}
    inputs = study.inputs(calc, structure, incar=extra)
    record = {
        "label": calc.label,
        "input_hash": inputs.input_hash(),
        "kpoints": str(inputs.kpoints).splitlines()[2:4]
        if inputs.kpoints.style.name != "Reciprocal"
        else f"explicit list of {inputs.kpoints.num_kpts} points",
        "context": calculation_context(study, calc),
        "parent_input_hash": inputs_record(parent).get("input_hash") if parent is not None else None,
        "provenance": structure_provenance(study, calc, parent),
        "potcar_functional": study.spec.potcars.functional,
    }
    if inputs_record(directory).get("input_hash") == record["input_hash"]:
        return record  # written before (a rerun after a kill): keep them, and any outputs or corrections
    set_aside_other_run(directory, db)  # outputs of other inputs must not be mistaken for these, nor lost
    inputs.write_into(directory)
    if calc.step in (Step.HSE_RELAX, Step.HSE_STATIC, Step.HSE_PARCHG):  # the parent's wavefunctions
        wavecar = parent / "WAVECAR"
        if wavecar.is_file() and wavecar.stat().st_size > 0:
            shutil.copy2(wavecar, directory / "WAVECAR")
    atomic_write_json(directory / INPUTS_RECORD, record)
    return record


# What a calculation run by dftflow leaves in its directory: the inputs dftflow writes, what VASP and
# custodian write, dftflow's records. Anything else there (FireWorks' FW.json, a queue's FW_job.out and
# FW_job.error, a user's notes) belongs to the launch, not to the run, and is never moved or removed.
RUN_FILES = {
    *("INCAR", "KPOINTS", "POSCAR", "POTCAR", "POTCAR.spec", "STOPCAR"),
    *("CONTCAR", "OUTCAR", "OSZICAR", "vasprun.xml", "vaspout.h5", "EIGENVAL", "DOSCAR", "PROCAR", "IBZKPT"),
    *("LOCPOT", "WAVECAR", "WAVEDER", "CHGCAR", "CHG", "AECCAR0", "AECCAR1", "AECCAR2", "ELFCAR", "PARCHG"),
    *("XDATCAR", "PCDAT", "REPORT", "vasp.out", "std_err.txt", "custodian.json", RUN_RECORD, INPUTS_RECORD),
}
CUSTODIAN_BACKUP = re.compile(r"error\.\d+\.tar(\.gz)?")


def is_run_file(name: str) -> bool:
    """INCAR, vasprun.xml.gz, POSCAR.orig (custodian's copy), vasp.out.stopped, error.1.tar.gz, ..."""
    base = re.sub(r"\.(gz|bz2|xz)$", "", name)
    base = re.sub(r"\.(orig|stopped)$", "", base)
    return base in RUN_FILES or bool(CUSTODIAN_BACKUP.fullmatch(name))


def set_aside_other_run(directory: Path, db: ResultsDB | None = None) -> Path | None:
    """Before other inputs are written into `directory`, move the run files of the calculation done
    there into a sibling directory named after its inputs hash (`relax_WO3.1a2b3c4d`) and point its
    stored task (if any) there. Nothing is deleted; the files of the launch stay where they are.

    Order, so that a kill at any point is repaired by running again: files first, then the stored
    task's dir_name, then the inputs record (as long as it is here, the move is not finished)."""
    runs = sorted(p for p in directory.iterdir() if p.is_file() and is_run_file(p.name))
    if not runs:
        return None
    record_path = directory / INPUTS_RECORD
    recorded = record_path.is_file()
    old_hash = json.loads(record_path.read_text()).get("input_hash", "") if recorded else ""
    target = _aside_directory(directory, old_hash[:8] or "unrecorded", resume=recorded)
    target.mkdir(exist_ok=True)
    for path in runs:
        if path != record_path:
            if (target / path.name).exists():
                raise InputError(f"{directory}: cannot set {path.name} aside, {target} already has one")
            os.replace(path, target / path.name)
    if db is not None and old_hash:
        db.tasks.update_many(
            {"dir_name": str(directory.resolve()), "input.hash": old_hash},
            {"$set": {"dir_name": str(target.resolve())}},
        )
    if recorded:
        os.replace(record_path, target / INPUTS_RECORD)
    return target


def _aside_directory(directory: Path, tag: str, resume: bool) -> Path:
    """<name>.<tag>, else the first free <name>.<tag>-2, -3, ...; with `resume`, one that a killed move of
    this run left without its inputs record (the record moves last)."""
    for n in range(1, 1000):
        candidate = directory.with_name(f"{directory.name}.{tag}" + (f"-{n}" if n > 1 else ""))
        if not candidate.exists() or (resume and not (candidate / INPUTS_RECORD).exists()):
            return candidate
    raise InputError(f"{directory}: too many earlier runs set aside next to it")


def read_inputs_record(directory: str | Path) -> dict:
    path = Path(directory) / INPUTS_RECORD
    if not path.is_file():
        raise InputError(f"{directory}: no {INPUTS_RECORD}; inputs were not written by dftflow")
    return json.loads(path.read_text())


def stored_duplicate(db: ResultsDB, directory: str | Path) -> dict | None:
    return db.completed(read_inputs_record(directory)["input_hash"])


def run_calculation(directory: str | Path, vasp_cmd, **custodian_settings) -> dict:
    record = read_inputs_record(directory)
    return run_vasp(directory, record["context"]["step"], vasp_cmd, record["input_hash"], **custodian_settings)


def store_calculation(db: ResultsDB, directory: str | Path) -> dict:
    directory = Path(directory)
    record = read_inputs_record(directory)
    doc, arrays = task_document(directory)
    if doc["state"] != "successful":  # never store (and pass on) an unfinished run as a result
        raise RuntimeError(
            f"{record['label']}: run not successful ({unfinished(directory) or 'SCF not converged'}); not stored"
        )
    run_record_path = directory / "dftflow_run.json"
    run_record = json.loads(run_record_path.read_text()) if run_record_path.is_file() else {}
    doc["custodian"] = run_record.get("corrections", [])
    doc["input"]["hash"] = record["input_hash"]
    stored = db.store_task(doc, arrays)
    gzip_outputs(directory)
    return stored
