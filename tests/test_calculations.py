import pytest

from dftflow.calculations import Study, slug
from dftflow.errors import InputError
from dftflow.study import load_study
from tests.conftest import WORKFLOWS


@pytest.fixture(scope="module")
def sites_study():
    return Study(load_study(WORKFLOWS / "wo3_vacancy_sites.yaml"), potcars="spec")


def test_labels_are_unique_and_ordered(sites_study):
    labels = [c.label for c in sites_study.calculations]
    assert len(labels) == len(set(labels))
    assert labels[0] == "bulk relax"
    assert labels[1:3] == ["relax WO3", "hse-static WO3"]
    assert "relax WO2.938 V_O(s_z,1) q=+2" in labels
    for calc in sites_study.calculations[1:]:
        assert labels.index(calc.parent) < labels.index(calc.label)


def test_study_k_relax_and_hybrid_inputs(sites_study):
    """Must-show of the core-library issue: the V_O2+ 1x1x2 relax and its hybrid static."""
    relax = sites_study.inputs(sites_study.calculation("relax WO2.938 V_O(s_z,1) q=+2")).incar
    assert relax["NELECT"] == 504
    assert (relax["ISIF"], relax["ISYM"], relax["LDAU"], relax["GGA"].upper(), relax["ENCUT"]) == (
        2,
        0,
        False,
        "PS",
        520,
    )
    kpts = sites_study.inputs(sites_study.calculation("relax WO2.938 V_O(s_z,1) q=+2")).kpoints
    assert tuple(kpts.kpts[0]) == (4, 4, 2) and kpts.style.name == "Monkhorst"
    static = sites_study.inputs(sites_study.calculation("hse-static WO2.938 V_O(s_z,1) q=+2")).incar
    assert static["LHFCALC"] is True and static["AEXX"] == 0.28 and static["HFSCREEN"] == 0.2
    assert static["GGA"].upper() == "PE" and static["NELECT"] == 504


def test_band_structures_only_where_asked():
    study = Study(load_study(WORKFLOWS / "wo3_vacancy_concentration.yaml"), potcars="spec")
    bands = [c.label for c in study.calculations if c.step == "hse-bands"]
    assert bands == [
        "hse-bands WO3",
        "hse-bands WO2.938 V_O(s_z) q=+2",
        "hse-bands WO2.875 2V_O(s_z,neighbour) q=+4",
        "hse-bands WO2.875 2V_O(s_z) q=+4",
    ]
    hyd = Study(load_study(WORKFLOWS / "hxwo3_hydrogen.yaml"), potcars="spec")
    assert list(hyd.systems) == [
        "WO3",
        "H0.0156WO3 H_i q=0",
        "H0.0313WO3 2H_i q=0",
        "H0.0625WO3 4H_i q=0",
        "H0.125WO3 8H_i q=0",
    ]
    static = hyd.inputs(hyd.calculation("hse-static H0.0156WO3 H_i q=0")).incar
    assert static["GGA"].upper() == "PS" and static["ENCUT"] == 500 and static["NELECT"] == 2049


def test_duplicate_system_names_are_refused(write_study):
    path = write_study(
        {
            "systems": [
                {"defects": [{"type": "vacancy", "site": "s_z"}]},
                {"defects": [{"type": "vacancy", "site": "s_z"}]},
            ]
        }
    )
    with pytest.raises(InputError, match="both named"):
        _ = Study(load_study(path), potcars="spec").systems


def test_slug():
    assert slug("relax WO2.938 V_O(s_z) q=+2") == "relax_WO2.938_V_O-s_z_q+2"
    assert slug("relax WO2.938 V_O(s_z,1) q=+2") == "relax_WO2.938_V_O-s_z-1_q+2"
    assert slug("bulk relax") == "bulk_relax"
