"""The results database as its users query it: filters and fields on the embedded store and on a MongoDB
server, typed documents of both schema versions, pymatgen objects from the blobs, ASE's formats."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from tests.conftest import HOST_CIF, TEST_STUDIES, dftflow, guarded_env, production_env, production_files

STATIC_VO = "hse-static WO2.875 V_O(s_z) q=+2"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("results")
    out = dftflow("run", TEST_STUDIES / "tiny.yaml", "--workdir", base / "wd", env=guarded_env(base))
    assert out.returncode == 0, out.stdout + out.stderr
    return base / "wd"


def _results(*args, env, **where):
    out = dftflow("results", *args, "--json", *[f"--{k.replace('_', '-')}={v}" for k, v in where.items()], env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


QUERIES = [
    (("--filter", "step=hse-static defect~v_o"), {STATIC_VO}),
    (
        ("--filter", "charge=2, executor=mock, state=successful, step!=relax"),
        {STATIC_VO, "hse-bands WO2.875 V_O(s_z) q=+2"},
    ),
    (("--query", '{"step": {"$in": ["relax"]}, "charge": 0}'), {"relax WO3"}),
    (("--filter", "label~^bulk"), {"bulk relax"}),
]


@pytest.mark.parametrize("args, labels", QUERIES)
def test_filters_on_the_embedded_store(tiny, tmp_path, args, labels):
    rows = _results(*args, "--fields", "task_label,charge,output.bandgap", env=guarded_env(tmp_path), workdir=tiny)
    assert {r["task_label"] for r in rows} == labels
    assert all(set(r) == {"task_label", "charge", "output.bandgap"} for r in rows)


def test_numeric_ranges_sorting_and_bad_filters(tiny, tmp_path):
    env = guarded_env(tmp_path)
    statics = _results(
        "--filter", "step=hse-static", "--fields", "task_label,gap", "--sort=-gap", env=env, workdir=tiny
    )
    gaps = [r["output.bandgap"] for r in statics]
    assert len(gaps) == 2 and gaps == sorted(gaps, reverse=True)
    middle = sum(gaps) / 2
    below = _results("--filter", f"step=hse-static gap<{middle}", "--fields", "task_label", env=env, workdir=tiny)
    assert [r["task_label"] for r in below] == [statics[1]["task_label"]]
    for bad in ("gap<<2", "gap<abc", "label~[", "=2", "nonsense"):
        out = dftflow("results", "--workdir", tiny, "--filter", bad, env=env)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, (bad, out.stderr)
    out = dftflow("results", "--workdir", tiny, "--query", "{not json", env=env)
    assert out.returncode == 2 and "not JSON" in out.stderr


@pytest.mark.mongo
def test_the_same_queries_on_a_mongodb_server(tiny, tmp_path, mongo_server):
    """The embedded store's tasks (documents and blobs) copied into a MongoDB-protocol server through the db
    file `dftflow cluster init` writes: every query gives the same rows there."""
    from dftflow.db import ResultsDB, connect_results

    files = production_files(tmp_path, mongo_server)
    source = connect_results(tiny / "db.json")
    target = ResultsDB.from_db_file(files["db"])
    try:
        for doc in source.query():
            arrays = {
                name: dict(zip(("arrays", "meta"), source.arrays(doc, name), strict=True)) for name in doc["blobs"]
            }
            target.store_task({k: v for k, v in doc.items() if k not in ("_id", "blobs", "doc_bytes")}, arrays)
    finally:
        source.close()
    env = production_env(tmp_path, files)
    for args, labels in QUERIES:
        here = _results(*args, "--fields", "task_label,charge,output.bandgap", env=guarded_env(tmp_path), workdir=tiny)
        there = _results(*args, "--fields", "task_label,charge,output.bandgap", env=env, db_file=files["db"])
        key = lambda r: r["task_label"]  # noqa: E731
        assert sorted(there, key=key) == sorted(here, key=key) and {r["task_label"] for r in there} == labels


def test_documents_of_the_previous_layout_still_load_and_migrate(tiny, tmp_path):
    from dftflow.db import connect_results
    from dftflow.taskdoc import SCHEMA_VERSION, TaskDocument

    db = connect_results(tiny / "db.json")
    try:
        doc = db.tasks.find_one({"task_label": STATIC_VO})
        old = {k: v for k, v in doc.items() if k not in ("schema_version", "_id", "formula_pretty")}
        old["formula"] = "W8O23"
        old["input"] = {
            **{k: v for k, v in doc["input"].items() if k != "potcar_spec"},
            "potcar_symbols": ["W_sv", "O"],
        }
        task = TaskDocument.from_stored(old)
        assert task.schema_version == SCHEMA_VERSION and task.formula_pretty == "W8O23"
        assert [p.symbol for p in task.input.potcar_spec] == ["W_sv", "O"]
        assert task.output.energy == doc["output"]["energy"] and task.defect.descriptor == "V_O(s_z)"
        db.tasks.insert_one({**old, "study": "old_layout", "task_label": "old task"})
    finally:
        db.close()
    env = guarded_env(tmp_path)
    assert _results("--filter", "study=old_layout", "--fields", "formula_pretty", env=env, workdir=tiny) == [
        {"formula_pretty": "W8O23"}
    ]  # loaded and migrated on read
    out = dftflow("migrate", "--workdir", tiny, env=env)
    assert out.returncode == 0 and "migrated 1 task document" in out.stdout
    db = connect_results(tiny / "db.json")
    try:
        stored = db.tasks.find_one({"study": "old_layout"})
        assert stored["schema_version"] == SCHEMA_VERSION and stored["formula_pretty"] == "W8O23"
        db.tasks.delete_one({"_id": stored["_id"]})
    finally:
        db.close()


def test_python_api_gives_typed_documents_and_the_runs_pymatgen_objects(tiny):
    from pymatgen.io.vasp import Vasprun

    import dftflow

    db = dftflow.ResultsDB.from_db_file(tiny / "db.json")
    try:
        (task,) = db.query_tasks({"task_label": "hse-static WO3"})
        assert isinstance(task, dftflow.TaskDocument) and task.output.bandgap > 0 and task.input.wavecar_read
        dos = db.complete_dos(task)
        (bands,) = db.query_tasks({"task_label": "hse-bands WO3"})
        structure_ok = db.structure(task) == task.pymatgen_structure()
        bs = db.band_structure(bands)
    finally:
        db.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Vasprun(f"{task.dir_name}/vasprun.xml.gz", parse_potcar_file=False)
        ref_bs = Vasprun(f"{bands.dir_name}/vasprun.xml.gz", parse_potcar_file=False).get_band_structure(
            f"{bands.dir_name}/KPOINTS", line_mode=True
        )
    ref = run.complete_dos
    assert structure_ok and dos.efermi == ref.efermi and np.array_equal(dos.energies, ref.energies)
    assert all(np.array_equal(dos.densities[s], ref.densities[s]) for s in ref.densities)
    for site in ref.structure:
        mine = dos.pdos[site]
        assert mine.keys() == ref.pdos[site].keys()
        assert all(np.array_equal(mine[o][s], ref.pdos[site][o][s]) for o in mine for s in mine[o])
    assert type(bs).__name__ == "BandStructureSymmLine" and bs.get_band_gap()["energy"] == pytest.approx(
        ref_bs.get_band_gap()["energy"], abs=1e-9
    )
    assert {k.label for k in bs.kpoints if k.label} == {k.label for k in ref_bs.kpoints if k.label}


def test_ase_database_answers_ases_own_query(tiny, tmp_path):
    env = guarded_env(tmp_path)
    out = dftflow("export", "--workdir", tiny, "--ase-db", tmp_path / "results.db", env=env)
    assert out.returncode == 0, out.stderr
    rows = _results("--filter", "charge=2", "--fields", "task_label,output.bandgap", env=env, workdir=tiny)
    threshold = max(r["output.bandgap"] for r in rows) + 0.01
    expected = {r["task_label"] for r in rows if r["output.bandgap"] < threshold}
    ase_db = subprocess.run(
        [
            sys.executable,
            "-m",
            "ase",
            "db",
            str(tmp_path / "results.db"),
            f"gap<{threshold},charge=2",
            "-c",
            "label,gap",
            "-L",
            "0",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ase_db.returncode == 0, ase_db.stderr
    found = {line.split("|")[0].strip() for line in ase_db.stdout.splitlines() if "|" in line}
    assert found - {"label"} == expected and expected, ase_db.stdout
    import ase.db

    with ase.db.connect(tmp_path / "results.db") as connection:
        static = connection.get(label=STATIC_VO)
        assert static.defect == "V_O(s_z)" and static.executor == "mock" and static.levels >= 0
        assert static.energy == pytest.approx(static.energy_eV)


def test_relaxation_trajectory_opens_with_ase(tiny, tmp_path):
    import ase.io
    from pymatgen.io.vasp import Vasprun

    out = dftflow(
        "export",
        "--workdir",
        tiny,
        "--trajectories",
        tmp_path / "traj",
        "--filter",
        "label='bulk relax'",
        env=guarded_env(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    (path,) = list((tmp_path / "traj").glob("*.traj"))
    frames = ase.io.read(path, ":")
    from dftflow.db import connect_results

    db = connect_results(tiny / "db.json")
    try:
        run_dir = db.task("tiny", "bulk relax")["dir_name"]
    finally:
        db.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = Vasprun(f"{run_dir}/vasprun.xml.gz", parse_potcar_file=False).ionic_steps
    assert len(frames) == len(steps) > 1
    for frame, step in zip(frames, steps, strict=True):
        assert frame.get_potential_energy() == pytest.approx(step["e_0_energy"], abs=1e-8)
        assert np.allclose(frame.get_forces(), step["forces"]) and np.allclose(
            frame.cell[:], step["structure"].lattice.matrix
        )


def test_sites_reads_the_same_structure_from_cif_poscar_and_extxyz(tmp_path):
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    from dftflow.structures import load_structure

    atoms = AseAtomsAdaptor.get_atoms(load_structure(HOST_CIF))
    ase.io.write(tmp_path / "POSCAR", atoms, format="vasp")
    ase.io.write(tmp_path / "wo3.extxyz", atoms, format="extxyz")
    env = guarded_env(tmp_path)
    labels = []
    for path in (HOST_CIF, tmp_path / "POSCAR", tmp_path / "wo3.extxyz"):
        out = dftflow("sites", path, "--json", env=env)
        assert out.returncode == 0, out.stderr
        labels.append([(s["index"], s["label"], s["orbit"]) for s in json.loads(out.stdout)])
    assert labels[0] == labels[1] == labels[2] and len(labels[0]) == 24


def test_each_task_records_where_its_inputs_and_structure_came_from(tiny):
    """The provenance chain of a task document: its parent's input hash, the host file's SHA-256 for the
    bulk relax, the parent CONTCAR and the defect built into it for a defect cell, the POTCAR set."""
    import hashlib

    from dftflow.db import connect_results

    db = connect_results(tiny / "db.json")
    try:
        docs = {d["task_label"]: d for d in db.query({"study": "tiny"})}
    finally:
        db.close()
    bulk, relax, static = docs["bulk relax"], docs["relax WO2.875 V_O(s_z) q=+2"], docs[STATIC_VO]
    assert bulk["input"]["parent_hash"] is None
    assert bulk["input"]["structure_provenance"] == {
        "source": "host file",
        "path": str(HOST_CIF.resolve()),
        "sha256": hashlib.sha256(HOST_CIF.read_bytes()).hexdigest(),
        "lattice": "as in the file",
    }
    assert relax["input"]["parent_hash"] == bulk["input"]["hash"]
    assert relax["input"]["structure_provenance"]["defect"] == "V_O(s_z)"
    assert static["input"]["parent_hash"] == relax["input"]["hash"] != static["input"]["hash"]
    assert static["input"]["structure_provenance"]["parent"] == "relax WO2.875 V_O(s_z) q=+2"
    assert {p["functional"] for d in docs.values() for p in d["input"]["potcar_spec"]} == {"PBE_54"}
