"""dftflow's vasprun.xml checks answer what custodian's own answer, on every real VASP run in tests/data
(converged and unconverged) and on truncated and corrupted copies of them."""

import gzip
from pathlib import Path

import pytest
from custodian.vasp.handlers import UnconvergedErrorHandler
from custodian.vasp.validators import VasprunXMLValidator

from dftflow.vasp.lean_checks import FastUnconvergedErrorHandler, FastVasprunXMLValidator

REAL = Path(__file__).resolve().parents[1] / "data" / "real_vasp"
RUNS = sorted(p.parent for p in REAL.rglob("vasprun.xml.gz"))


def _plain_copy(run: Path, target: Path, damage=None) -> Path:
    target.mkdir(parents=True)
    data = gzip.decompress((run / "vasprun.xml.gz").read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "corrupted":
        middle = len(data) // 2
        data = data[:middle] + b"<r> 1.0 <<< </r>" + data[middle:]
    (target / "vasprun.xml").write_bytes(data)
    for name in ("vasp.out", "std_err.txt"):
        (target / name).write_text("")
    return target


@pytest.mark.parametrize("run", RUNS, ids=lambda p: str(p.relative_to(REAL)))
def test_same_answers_as_custodian_on_real_runs(run, tmp_path):
    directory = str(_plain_copy(run, tmp_path / "run"))
    assert FastVasprunXMLValidator().check(directory) == VasprunXMLValidator().check(directory) is False
    assert FastUnconvergedErrorHandler().check(directory) == UnconvergedErrorHandler().check(directory)


def test_the_unconverged_real_run_is_found_and_corrected_as_custodian_corrects_it(tmp_path):
    """CeO2_hse06 stopped without electronic convergence: both handlers say so, and the correction (the
    handler's inherited code, with the run's INCAR) is custodian's own."""
    from pymatgen.io.vasp import Vasprun

    dirs = [_plain_copy(REAL / "CeO2_hse06", tmp_path / name) for name in ("fast", "ref")]
    incar = Vasprun(str(dirs[0] / "vasprun.xml"), parse_dos=False, parse_eigen=False).incar
    for d in dirs:
        incar.write_file(d / "INCAR")
    fast, ref = FastUnconvergedErrorHandler(), UnconvergedErrorHandler()
    assert fast.check(str(dirs[0])) is True and ref.check(str(dirs[1])) is True
    assert fast.correct(str(dirs[0])) == ref.correct(str(dirs[1]))
    assert (dirs[0] / "INCAR").read_text() == (dirs[1] / "INCAR").read_text()


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_files_fail_validation_as_in_custodian(damage, tmp_path):
    run = REAL / "GaN_V_N_defect" / "q=0"
    directory = str(_plain_copy(run, tmp_path / damage, damage))
    assert FastVasprunXMLValidator().check(directory) is True
    assert VasprunXMLValidator().check(directory) is True
    assert FastUnconvergedErrorHandler().check(directory) is False  # unreadable: the validator's finding
