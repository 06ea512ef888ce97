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
    assert Locpot.from_file(hybrid_dir / "LOCPOT").dim == (56, 56, 60)


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
