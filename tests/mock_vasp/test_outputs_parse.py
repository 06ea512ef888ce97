"""pymatgen and custodian read every output of a hybrid static and of a relaxation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import BULK_RELAX, HYBRID_STATIC, bulk_structure, run_mock, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def hybrid_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hse")
    write_inputs(d, bulk_structure(), dict(HYBRID_STATIC, ISTART=0), ("monkhorst", (2, 2, 2)))
    assert run_mock(d).returncode == 0
    return d


def test_vasprun_parses_with_projections(hybrid_dir):
    from pymatgen.io.vasp.outputs import Vasprun

    v = Vasprun(hybrid_dir / "vasprun.xml", parse_projected_eigen=True)
    assert v.converged
    assert "mock-vasp" in (hybrid_dir / "vasprun.xml").read_text()[:2000]
    assert v.parameters["NELM"] == 150 and v.parameters["LHFCALC"] and v.parameters["AEXX"] == 0.28
    gap, cbm, vbm, _ = v.eigenvalue_band_properties
    assert gap > 1.0
    assert v.complete_dos.get_gap() > 1.0
    from pymatgen.electronic_structure.core import Spin

    assert set(v.eigenvalues) == {Spin.up, Spin.down}
    assert v.projected_eigenvalues[Spin.up].shape[-1] == 9


def test_other_outputs_parse(hybrid_dir):
    from pymatgen.io.vasp.outputs import Eigenval, Locpot, Oszicar, Outcar, Procar

    o = Outcar(hybrid_dir / "OUTCAR")
    assert o.data["nbands"] > 0 and o.nelect == 256
    assert len(o.electrostatic_potential) == 32
    assert len(o.read_avg_core_poten()[-1]) == 32
    assert Oszicar(hybrid_dir / "OSZICAR").final_energy < 0
    assert Eigenval(hybrid_dir / "EIGENVAL").eigenvalue_band_properties[0] > 1.0
    assert Procar(hybrid_dir / "PROCAR").nspins == 2
    locpot = Locpot.from_file(hybrid_dir / "LOCPOT")
    assert locpot.dim == vasp_fine_grid(locpot.structure.lattice.abc, 520, "Accurate")
    assert tuple(o.ngf) == locpot.dim


def vasp_fine_grid(lengths, encut: float, prec: str) -> tuple[int, int, int]:
    """NGXF, NGYF, NGZF as VASP chooses them: NGX holds the G-vectors up to twice the plane-wave cut-off
    (PREC = Accurate; 3/4 of that for Normal), rounded up to an even FFT length with factors 2, 3, 5, 7;
    the fine grid doubles it.  Checked below against VASP's own grids."""

    def fft_length(x: float) -> int:
        n = int(np.ceil(x))
        while n % 2 or _has_large_factor(n):
            n += 1
        return n

    gcut = np.sqrt(encut / 3.80998)  # 1/A; hbar^2 / 2m = 3.80998 eV A^2
    factor = 2.0 if prec.lower().startswith(("a", "h")) else 1.5
    return tuple(2 * fft_length(factor * gcut * a / np.pi) for a in lengths)


def _has_large_factor(n: int) -> bool:
    for p in (2, 3, 5, 7):
        while n % p == 0:
            n //= p
    return n != 1


@pytest.mark.parametrize(
    ("run", "encut", "prec"),
    [("GaN_Mg_Ga_defect/bulk_sc", 500, "Accurate"), ("Cs2SnI6_hse_bands", 350, "Normal")],
)
def test_grid_rule_is_vasps(run, encut, prec):
    """The rule above reproduces the fine grids real VASP runs used (tests/data/real_vasp)."""
    from pymatgen.io.vasp.outputs import Vasprun

    from tests.conftest import REAL_VASP

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = Vasprun(REAL_VASP / run / "vasprun.xml.gz", parse_dos=False, parse_eigen=False, parse_potcar_file=False)
    assert v.parameters["ENMAX"] == encut
    expected = tuple(int(v.parameters[k]) for k in ("NGXF", "NGYF", "NGZF"))
    assert vasp_fine_grid(v.initial_structure.lattice.abc, encut, prec) == expected


def test_custodian_sees_a_clean_run(hybrid_dir):
    from custodian.vasp.handlers import (
        FrozenJobErrorHandler,
        NonConvergingErrorHandler,
        PositiveEnergyErrorHandler,
        PotimErrorHandler,
        StdErrHandler,
        UnconvergedErrorHandler,
        VaspErrorHandler,
        WalltimeHandler,
    )
    from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator

    d = str(hybrid_dir)
    assert not VasprunXMLValidator().check(d)
    assert not VaspFilesValidator().check(d)
    for h in (
        VaspErrorHandler(),
        UnconvergedErrorHandler(),
        NonConvergingErrorHandler(),
        PotimErrorHandler(),
        PositiveEnergyErrorHandler(),
        FrozenJobErrorHandler(),
        StdErrHandler(),
        WalltimeHandler(wall_time=36000),
    ):
        assert not h.check(d), type(h).__name__


def test_relaxation_converges_and_moves_atoms(tmp_path):
    from pymatgen.io.vasp.outputs import Vasprun

    write_inputs(tmp_path, bulk_structure(), dict(BULK_RELAX, ISIF=2), ("monkhorst", (2, 2, 2)))
    assert run_mock(tmp_path).returncode == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = Vasprun(tmp_path / "vasprun.xml")
    assert v.converged and 2 <= len(v.ionic_steps) < 100
    moved = np.abs(v.final_structure.cart_coords - v.initial_structure.cart_coords).max()
    assert moved > 0.01
    assert np.abs(v.ionic_steps[-1]["forces"]).max() < 0.01
    assert "reached required accuracy" in (tmp_path / "OUTCAR").read_text()
