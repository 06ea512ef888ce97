import pytest

from dftflow.defects import Vacancy, build_defect_cell
from dftflow.errors import InputError
from dftflow.vasp.potcars import PotcarChoice, default_nbands, nelect, require_potcar_dir, zval_table
from tests.conftest import REAL_VASP

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


REAL_RUNS = sorted(p.parent for p in REAL_VASP.glob("**/vasprun.xml.gz"))


@pytest.mark.parametrize("run", REAL_RUNS, ids=[str(p.relative_to(REAL_VASP)) for p in REAL_RUNS])
def test_default_nbands_matches_vasp(run):
    """VASP's own NBANDS of real runs that did not set it (their vasprun <incar> echo has no NBANDS), from
    their NELECT, ion count and band groups (NPAR): GaN V_N on 36 groups gives 180 from a default of 172
    (the 0.6 NELECT branch), Mg_Ga and CeO2 on 288 groups give 288."""
    import gzip
    import re

    text = gzip.open(run / "vasprun.xml.gz", "rt").read()
    incar = text[text.index("<incar>") : text.index("</incar>")]
    if "NBANDS" in incar:
        pytest.skip("this run sets NBANDS itself")

    def parameter(name):
        return float(re.search(rf'name="{name}">\s*([-\d.]+)', text[text.index("<parameters>") :]).group(1))

    nions = int(re.search(r"<atoms>\s*(\d+)", text).group(1))
    expected = int(parameter("NBANDS"))
    assert default_nbands(parameter("NELECT"), nions, band_groups=int(parameter("NPAR"))) == expected


def test_default_nbands_of_the_study_cells():
    """What dftflow writes (one band group) for the papers' cells, from the same formula."""
    assert default_nbands(512, 64) == max(258 + 32, 307) == 307
    assert default_nbands(2048, 256) == max(1025 + 128, 1228) == 1228


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
