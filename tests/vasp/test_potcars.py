import pytest

from dftflow.defects import Vacancy, build_defect_cell
from dftflow.errors import InputError
from dftflow.vasp.potcars import PotcarChoice, default_nbands, nelect, require_potcar_dir, zval_table

W_SV = PotcarChoice(symbols=(("H", "H"), ("O", "O"), ("W", "W_sv")))
W_PV = PotcarChoice(symbols=(("H", "H"), ("O", "O"), ("W", "W_pv")))


def test_zval_table_matches_the_potcar_facts():
    table = zval_table()
    assert (table["W_sv"], table["W_pv"], table["W"], table["O"], table["H"]) == (14, 12, 6, 6, 1)


def test_nelect_of_the_study_k_cells(supercell_112):
    assert nelect(supercell_112, W_SV, 0) == 512
    assert nelect(supercell_112, W_PV, 0) == 480
    one = build_defect_cell(supercell_112, [Vacancy("s_z")])
    assert nelect(one.structure, W_SV, one.charge) == 512 - 6 - 2 == 504
    two = build_defect_cell(supercell_112, [Vacancy("s_z", count=2)])
    assert nelect(two.structure, W_SV, two.charge) == 512 - 12 - 4


def test_nelect_rejects_fractional_charge(supercell_112):
    with pytest.raises(InputError, match="integer"):
        nelect(supercell_112, W_SV, 1.5)


def test_default_nbands_matches_vasp():
    assert default_nbands(512, 64) == 307
    assert default_nbands(2048, 256) == 1228
    assert default_nbands(480, 64) == 288
    assert default_nbands(1920, 256) == 1152


def test_unknown_symbol_offline(supercell_112):
    choice = PotcarChoice(symbols=(("O", "O"), ("W", "W_xx")))
    with pytest.raises(InputError, match="W_xx"):
        nelect(supercell_112, choice, 0)


def test_real_potcars_need_the_psp_dir(monkeypatch, supercell_112):
    from pymatgen.core import SETTINGS

    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)
    with pytest.raises(InputError, match="PMG_VASP_PSP_DIR is not set"):
        require_potcar_dir()
    real = PotcarChoice(symbols=W_SV.symbols, real=True)
    with pytest.raises(InputError, match="need POTCARs"):
        nelect(supercell_112, real, 0)


def test_real_potcars_missing_files_are_named(monkeypatch, tmp_path, supercell_112):
    monkeypatch.setenv("PMG_VASP_PSP_DIR", str(tmp_path))
    real = PotcarChoice(symbols=W_SV.symbols, real=True)
    with pytest.raises(InputError, match="cannot read POTCARs"):
        nelect(supercell_112, real, 0)
