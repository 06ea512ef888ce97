import pytest

from dftflow.errors import InputError
from dftflow.study import load_study
from tests.conftest import STUDY_FILES


def test_the_three_studies_load():
    names = {load_study(p).name for p in STUDY_FILES}
    assert {"wo3_vacancy_sites", "wo3_vacancy_concentration", "hxwo3_hydrogen"} <= names


def test_pristine_is_added_first_when_missing(write_study):
    spec = load_study(write_study())
    systems = spec.systems_with_pristine()
    assert systems[0].defects == [] and len(systems) == 2


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"kpionts": {}}, "unknown key 'kpionts'"),
        ({"systems": [{"defects": [{"type": "vacancy", "site": "s_z", "sites": 2}]}]}, "unknown key"),
        ({"systems": [{"defects": [{"type": "vacancy", "site": "s_w"}]}]}, "site"),
        ({"systems": [{"defects": [{"type": "vacancy", "site": "s_z", "charge": 1.5}]}]}, "charge"),
        ({"systems": [{"charge": "two", "defects": []}]}, "charge"),
        ({"supercell": [1, 1]}, "supercell"),
        ({"encut": -5}, "encut"),
        ({"systems": [{"defects": [{"type": "interstitial"}]}]}, "type"),
        ({"incar": {"relax": {"ediff": 1e-5}}}, "not a VASP INCAR tag"),
        ({"functional": {"aexx": 1.5}}, "aexx"),
    ],
)
def test_bad_study_files_fail_with_the_key_named(write_study, overrides, message):
    with pytest.raises(InputError, match=message):
        load_study(write_study(overrides))


def test_malformed_yaml_and_missing_file(write_study, tmp_path):
    with pytest.raises(InputError, match="not valid YAML"):
        load_study(write_study(text="name: [unclosed\n"))
    with pytest.raises(InputError, match="mapping"):
        load_study(write_study(text="- just a list\n"))
    with pytest.raises(InputError, match="not found"):
        load_study(tmp_path / "missing.yaml")


def test_python_tags_are_not_executed(write_study):
    path = write_study(text="name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(InputError, match="not valid YAML"):
        load_study(path)


def test_fraction_concentrations_parse(write_study):
    spec = load_study(write_study({"systems": [{"defects": [{"type": "hydrogen", "x": "1/64"}]}]}))
    assert spec.systems[0].defects[0].x == "1/64"
    with pytest.raises(InputError, match="fraction"):
        load_study(write_study({"systems": [{"defects": [{"type": "hydrogen", "x": "one"}]}]}))
