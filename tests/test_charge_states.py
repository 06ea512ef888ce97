"""Charge states, the dielectric and O2 reference steps, partial charges, orbits and arrangements: the
systems and input sets a study file with them gives."""

import pytest

from dftflow.calculations import Study
from dftflow.errors import InputError
from dftflow.steps import Step
from dftflow.study import load_study
from tests.conftest import WORKFLOWS, dftflow, guarded_env

CHARGE_STUDY = WORKFLOWS / "wo3_vacancy_charge_states.yaml"


@pytest.fixture(scope="module")
def study():
    return Study(load_study(CHARGE_STUDY), potcars="spec")


def test_each_charge_is_a_system_with_its_own_label_nelect_ispin_and_magmom(study):
    names = list(study.systems)
    assert names == ["WO3", "WO2.938 V_O(s_z) q=0", "WO2.938 V_O(s_z) q=+1", "WO2.938 V_O(s_z) q=+2"]
    for q, nelect in ((0, 506), (1, 505), (2, 504)):  # 512 - 6 (one O) - q, W_sv ZVAL 14
        name = f"WO2.938 V_O(s_z) q={q:+d}" if q else "WO2.938 V_O(s_z) q=0"
        _, cell = study.systems[name]
        for step in (Step.RELAX, Step.HSE_STATIC):
            incar = study.inputs(study.calculation_for(step, name)).incar
            assert incar["NELECT"] == nelect and incar["ISPIN"] == 2
            seeded = [i for i, m in enumerate(incar["MAGMOM"]) if m > 0]
            if q == 2:  # both vacancy electrons removed: nothing to polarise
                assert seeded == []
            else:  # V_O+ (odd: one unpaired electron) and V_O0: moments on the two W next to the vacancy
                assert seeded == cell.seed_w and len(seeded) == 2


def test_dielectric_o2_and_partial_charge_steps(study):
    labels = [c.label for c in study.calculations]
    assert "dielectric bulk" in labels and "relax O2" in labels and "hse-static O2" in labels
    dielectric = study.inputs(study.calculation("dielectric bulk")).incar
    assert (dielectric["LEPSILON"], dielectric["IBRION"], dielectric["LRPA"], dielectric["GGA"].upper()) == (
        True,
        8,
        False,
        "PS",
    )
    o2 = study.inputs(study.calculation("hse-static O2"))
    assert o2.incar["NELECT"] == 12 and o2.incar["NUPDOWN"] == 2 and o2.incar["LHFCALC"]
    assert o2.incar["AEXX"] == 0.28 and o2.kpoints.style.name == "Gamma" and tuple(o2.kpoints.kpts[0]) == (1, 1, 1)
    assert len(o2.structure) == 2 and o2.structure.lattice.abc == (10.0, 11.0, 12.0)
    parchg = study.calculation("hse-parchg WO2.938 V_O(s_z) q=+2")
    assert parchg.parent == "hse-static WO2.938 V_O(s_z) q=+2" and parchg.requires == ("hse-static WO3",)
    static = study.inputs(study.calculation("hse-static WO2.938 V_O(s_z) q=+2")).incar
    assert static["LWAVE"] is True  # the partial-charge step reads its wavefunctions
    incar = study.inputs(parchg, incar={"IBAND": [253]}).incar
    assert incar["LPARD"] and incar["LSEPB"] and incar["IBAND"] == [253] and incar["ISTART"] == 1


def test_partial_charge_step_waits_for_both_statics(study):
    from dftflow.builders import StudyWorkflowBuilder

    wf = StudyWorkflowBuilder(study, potcars="spec").make()
    by_name = {fw.name: fw for fw in wf.fws}

    def parents(name):
        return {wf.id_fw[i].name for i in wf.links.parent_links[by_name[name].fw_id]}

    assert parents("hse-parchg WO2.938 V_O(s_z) q=+1") == {"hse-static WO2.938 V_O(s_z) q=+1", "hse-static WO3"}
    assert {"dielectric bulk", "hse-static O2"} <= parents("report wo3_vacancy_charge_states")


def test_orbits_and_arrangements_expand_into_systems(write_study):
    path = write_study(
        {
            "systems": [
                {"defects": [{"type": "vacancy", "site": "s_x", "orbit": "all"}]},
                {"defects": [{"type": "vacancy", "site": "s_z", "count": 2, "spacing": ["neighbour", "cell"]}]},
            ]
        }
    )
    study = Study(load_study(path), potcars="spec")
    assert list(study.systems)[1:] == [
        "WO2.938 V_O(s_x,1) q=+2",
        "WO2.938 V_O(s_x,2) q=+2",
        "WO2.875 2V_O(s_z,neighbour) q=+4",
        "WO2.875 2V_O(s_z) q=+4",
    ]
    assert study.origin("WO2.938 V_O(s_x,2) q=+2") == (1, {"orbit": 2})
    assert study.origin("WO2.875 2V_O(s_z) q=+4") == (2, {"spacing": "cell"})
    orbits = {study.systems[s][1].defect_sites[0]["orbit"] for s in list(study.systems)[1:3]}
    assert orbits == {1, 2}


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {"defects": [{"type": "vacancy", "site": "s_z"}], "charges": [0, 7]},
            "charge +7 is not one V_O(s_z) can take",
        ),
        ({"defects": [], "charges": [-5]}, "charge -5 is not one the pristine cell can take"),
        ({"defects": [{"type": "vacancy", "site": "s_z"}], "charges": [1, 1]}, "each charge state once"),
        ({"defects": [{"type": "vacancy", "site": "s_z"}], "charge": 1, "charges": [1]}, "not both"),
    ],
)
def test_impossible_charges_are_one_line_errors_and_nothing_is_written(write_study, tmp_path, entry, message):
    path = write_study({"systems": [entry]})
    out_dir = tmp_path / "inputs"
    result = dftflow("inputs", path, "--out", out_dir, env=guarded_env(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_nelect_must_stay_positive():
    from pymatgen.core import Lattice, Structure

    from dftflow.vasp.potcars import PotcarChoice, nelect

    o2 = Structure(Lattice.cubic(10), ["O", "O"], [[0, 0, 0], [0, 0, 0.12]])
    with pytest.raises(InputError, match="impossible electron count"):
        nelect(o2, PotcarChoice(symbols=(("O", "O"),)), 12)


def test_hybrid_relaxation_inputs_and_chain(write_study):
    path = write_study({"functional": {"relax": "pbesol", "hybrid": "hsesol", "hybrid_relax": True}})
    study = Study(load_study(path), potcars="spec")
    name = "WO2.938 V_O(s_z) q=+2"
    hse_relax = study.calculation_for(Step.HSE_RELAX, name)
    assert hse_relax.parent == f"relax {name}"
    assert study.calculation_for(Step.HSE_STATIC, name).parent == hse_relax.label  # statics at the hybrid geometry
    incar = study.inputs(hse_relax).incar
    assert (incar["IBRION"], incar["ISIF"], incar["NSW"], incar["LHFCALC"], incar["AEXX"]) == (2, 2, 100, True, 0.25)
    assert incar["GGA"].upper() == "PS" and incar["ISTART"] == 1 and incar["LWAVE"] is True
    assert "LORBIT" not in incar and "NEDOS" not in incar  # a null in the preset removes the inherited tag
    assert study.inputs(study.calculation_for(Step.HSE_STATIC, name)).incar["NSW"] == 0

    from dftflow.planning import plan_rows

    rows = {r["label"]: r for r in plan_rows(study)}
    assert rows[hse_relax.label]["ionic_steps_max"] == 100
    assert rows[hse_relax.label]["relative_cost_max"] == pytest.approx(
        100 * rows[f"hse-static {name}"]["relative_cost"]
    )
    off = Study(load_study(write_study({}, name="plain.yaml")), potcars="spec")
    assert off.calculation_for(Step.HSE_RELAX, name) is None  # off by default


def test_host_lattice_published_or_relaxed(write_study):
    """The published cell kept as given (positions relaxed, ISIF 2) or the lattice relaxed (ISIF 3)."""
    fixed = write_study(
        {
            "host": {
                "structure": str(WORKFLOWS.parent / "structures/WO3_P21n.cif"),
                "lattice": {"a": 7.35, "b": 7.505, "c": 7.705, "beta": 90.17},
                "cell": "fixed",
            }
        }
    )
    study = Study(load_study(fixed), potcars="spec")
    bulk = study.inputs(study.calculation("bulk relax"))
    assert bulk.incar["ISIF"] == 2
    assert bulk.structure.lattice.abc == pytest.approx(
        (7.35, 7.505, 7.705)
    ) and bulk.structure.lattice.beta == pytest.approx(90.17)
    assert study.lattice_source.startswith("fixed: the lattice given in the study file")
    hybrid_bulk = write_study(
        {"host": {"structure": str(WORKFLOWS.parent / "structures/WO3_P21n.cif"), "functional": "hsesol"}},
        name="hybrid.yaml",
    )
    study = Study(load_study(hybrid_bulk), potcars="spec")
    incar = study.inputs(study.calculation("bulk relax")).incar
    assert incar["ISIF"] == 3 and incar["LHFCALC"] and incar["GGA"].upper() == "PS"
    assert study.lattice_source == "relaxed with hsesol (ISIF 3)"
    relaxed = Study(load_study(write_study({}, name="relaxed.yaml")), potcars="spec")
    assert relaxed.inputs(relaxed.calculation("bulk relax")).incar["ISIF"] == 3
    assert relaxed.lattice_source == "relaxed with pbesol (ISIF 3)"
