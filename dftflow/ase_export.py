"""dftflow's results in ASE's formats: an ASE database of every task, and each relaxation as a trajectory.

ASE database (`dftflow export --ase-db results.db`, SQLite by default, a postgresql:// URL where the user
has a server): one row per task, its final structure with the energy (and forces) attached, and
key-value pairs a user filters on with ASE's own tools (`ase db results.db 'gap<2.5,charge=2'`, ASE's web
view): study, label, step, system, defect, functional, aexx, gap, energy_eV, executor, state, and
for a defect cell's hybrid static its number of localised in-gap levels (`levels`) and the shallowest
one's depth below the CBM (`level_below_cbm`), classified against the study's pristine hybrid static.
`charge` is ASE's own column, the sum of the atoms' initial charges: the cell's charge q is given to its
first atom (the others 0), so that the column, and queries on it, give exactly q.

Trajectories (`dftflow export --trajectories DIR`): each relaxation's ionic steps (positions, cell,
energy, forces, stress as VASP reported them) as an ASE .traj file, which `ase gui` opens and
`ase.io.read(file, ":")` reads frame by frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dftflow.calculations import slug


def _atoms(task, positions=None, cell=None, energy=None, free_energy=None, forces=None, stress=None):
    from ase.calculators.singlepoint import SinglePointCalculator
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = AseAtomsAdaptor.get_atoms(task.pymatgen_structure())
    atoms.set_initial_charges([float(task.charge or 0)] + [0.0] * (len(atoms) - 1))  # ASE's charge column: q
    if positions is not None:
        atoms.set_cell(cell)
        atoms.set_positions(positions)
    results = {"energy": task.output.energy if energy is None else energy}
    if free_energy is not None:
        results["free_energy"] = free_energy
    if forces is not None:
        results["forces"] = np.asarray(forces)
    if stress is not None:
        results["stress"] = -0.1 * np.asarray(stress)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]] / 160.21766208
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def key_value_pairs(task, levels=None) -> dict:
    """The ASE key-value pairs of a task (ASE keys must be identifiers; missing values are left out)."""
    pairs = {
        "study": task.study,
        "label": task.task_label,
        "step": task.step,
        "system": task.system,
        "defect": task.defect.descriptor if task.defect and task.defect.descriptor else "none",
        "functional": task.functional.label,
        "aexx": task.functional.aexx,
        "gap": task.output.bandgap,
        "energy_eV": task.output.energy,
        "executor": task.executor,
        "state": task.state,
    }
    if levels is not None:
        pairs["levels"] = len(levels.levels)
        if levels.levels:
            pairs["level_below_cbm"] = min(lv.below_cbm for lv in levels.levels)
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in pairs.items() if v is not None}


def _levels_of(db, task, pristine_by_study: dict):
    """The classified levels of a defect cell's hybrid static, against its study's pristine static."""
    from dftflow.analysis.defect_levels import defect_levels
    from dftflow.analysis.rundata import RunData

    if task.step != "hse-static" or not task.defect or not task.defect.descriptor or task.reference:
        return None
    if task.study not in pristine_by_study:
        docs = list(db.tasks.find({"study": task.study, "step": "hse-static", "defect.descriptor": None}))
        docs = [d for d in docs if not d.get("reference")]
        pristine_by_study[task.study] = RunData.from_db(db, docs[0]) if docs else None
    pristine = pristine_by_study[task.study]
    if pristine is None:
        return None
    try:
        return defect_levels(RunData.from_db(db, db.tasks.find_one({"_id": _object_id(task)})), pristine)
    except Exception:  # a cell that cannot be classified gets no level count, the export goes on
        return None


def _object_id(task):
    from bson import ObjectId

    return ObjectId(task.task_id) if task.task_id and ObjectId.is_valid(task.task_id) else task.task_id


def write_ase_db(db, tasks: list, target: str) -> int:
    """Write `tasks` to the ASE database `target` (a file path or a database URL); returns the rows written.
    An existing file is replaced, so the database holds exactly the tasks exported."""
    import ase.db

    if "://" not in target and Path(target).exists():
        Path(target).unlink()
    pristine: dict = {}
    with ase.db.connect(target) as connection:
        for task in tasks:
            forces = task.output.forces
            atoms = _atoms(task, forces=forces)
            connection.write(
                atoms,
                key_value_pairs=key_value_pairs(task, _levels_of(db, task, pristine)),
                data={"dir_name": task.dir_name, "input_hash": task.input.hash},
            )
    return len(tasks)


def write_trajectories(db, tasks: list, directory: Path) -> list[Path]:
    """One ASE trajectory per task with a stored relaxation trajectory; returns the files written."""
    from ase.io.trajectory import Trajectory

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for task in tasks:
        if "trajectory" not in task.blobs:
            continue
        arrays, _ = db.arrays(task, "trajectory")
        path = directory / f"{slug(f'{task.study} {task.task_label}')}.traj"
        with Trajectory(str(path), "w") as traj:
            for i in range(len(arrays["energies"])):
                traj.write(
                    _atoms(
                        task,
                        positions=arrays["positions"][i],
                        cell=arrays["cells"][i],
                        energy=float(arrays["energies"][i]),
                        free_energy=float(arrays["free_energies"][i]),
                        forces=arrays["forces"][i],
                        stress=arrays["stress"][i],
                    )
                )
        written.append(path)
    return written
