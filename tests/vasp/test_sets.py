import pytest

from dftflow.errors import InputError
from dftflow.steps import Step
from dftflow.vasp.potcars import PotcarChoice
from dftflow.vasp.sets import Science, available_presets, make_inputs, preset

SCIENCE = Science(potcars=PotcarChoice(symbols=(("H", "H"), ("O", "O"), ("W", "W_sv"))))


def test_every_preset_writes_ldau_false_through_base():
    for step in Step:
        assert SCIENCE.step_incar(step)["LDAU"] is False


def test_hybrid_presets_write_the_functional_explicitly():
    for name, gga, aexx in (("hse06-28", "PE", 0.28), ("hsesol", "PS", 0.25), ("hse06", "PE", 0.25)):
        incar = preset(name)["incar"]
        assert (incar["GGA"], incar["AEXX"], incar["HFSCREEN"], incar["LHFCALC"]) == (gga, aexx, 0.2, True)
    assert {"base", "bulk-relax", "relax", "hybrid-static", "hybrid-bands", "pbesol"} <= set(available_presets())


def test_step_settings(supercell_112):
    bulk = SCIENCE.step_incar("bulk-relax")
    assert (bulk["ISIF"], bulk["ISPIN"], bulk["GGA"], bulk["EDIFFG"], bulk["EDIFF"]) == (3, 1, "PS", -0.01, 1e-6)
    relax = SCIENCE.step_incar("relax")
    assert (relax["ISIF"], relax["ISYM"], relax["ISPIN"], relax["LVHAR"]) == (2, 0, 2, True)
    static = SCIENCE.step_incar("hse-static")
    assert static["ALGO"] == "Damped" and static["ISTART"] == 1 and static["LORBIT"] == 11
    assert static["ALGO"] not in ("Fast", "VeryFast")
    bands = SCIENCE.step_incar("hse-bands")
    assert bands["ISMEAR"] == 0


def test_study_overrides_and_functional_knobs():
    science = Science(
        potcars=SCIENCE.potcars,
        hybrid_functional="hsesol",
        aexx=0.3,
        encut=500,
        incar_overrides={"hybrid": {"NELM": 200}, "relax": {"EDIFFG": -0.02}},
    )
    assert science.step_incar("hse-static")["AEXX"] == 0.3
    assert science.step_incar("hse-static")["GGA"] == "PS"
    assert science.step_incar("hse-static")["NELM"] == 200
    assert science.step_incar("relax")["EDIFFG"] == -0.02
    assert science.step_incar("bulk-relax")["ENCUT"] == 500


def test_wrong_functional_kinds_and_unknown_presets():
    with pytest.raises(InputError, match="unknown preset"):
        Science(potcars=SCIENCE.potcars, hybrid_functional="b3lyp").step_incar("hse-static")
    with pytest.raises(InputError, match="is a hybrid"):
        Science(potcars=SCIENCE.potcars, relax_functional="hse06").step_incar("relax")
    with pytest.raises(InputError, match="does not set LHFCALC"):
        Science(potcars=SCIENCE.potcars, hybrid_functional="pbesol").step_incar("hse-static")


def test_system_values(supercell_112):
    inputs = make_inputs("relax", "relax WO3", supercell_112, SCIENCE, charge=0)
    assert inputs.incar["NELECT"] == 512 and inputs.incar["NBANDS"] == 307
    assert inputs.incar["SYSTEM"] == "relax WO3"
    assert inputs.incar["MAGMOM"] == [0.0] * 64
    seeded = make_inputs("relax", "x", supercell_112, SCIENCE, charge=0, seed_w=(0, 1), defect_electrons=1)
    assert seeded.incar["MAGMOM"][:3] == [0.6, 0.6, 0.0]
    assert "POTCAR.spec" in inputs.files() and inputs.files()["POTCAR.spec"] == "W_sv\nO\n"


def test_input_hash_ignores_the_label_but_not_the_science(supercell_112):
    a = make_inputs("relax", "relax A", supercell_112, SCIENCE)
    b = make_inputs("relax", "relax B", supercell_112, SCIENCE)
    c = make_inputs("relax", "relax A", supercell_112, SCIENCE, charge=2)
    assert a.input_hash() == b.input_hash() != c.input_hash()


def test_write_is_atomic_and_replaces(supercell_112, tmp_path):
    inputs = make_inputs("relax", "relax WO3", supercell_112, SCIENCE)
    target = tmp_path / "calc"
    inputs.write(target)
    assert sorted(p.name for p in target.iterdir()) == ["INCAR", "KPOINTS", "POSCAR", "POTCAR.spec"]
    inputs.write(target)
    assert [p.name for p in tmp_path.iterdir()] == ["calc"]  # no temporary folders left behind
