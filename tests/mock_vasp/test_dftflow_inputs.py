"""mock-vasp on input folders written by `dftflow inputs` for the three study files: it runs, and pymatgen
and custodian read every output (a representative folder of each kind per study: the 256-atom
relaxations of study Y take tens of minutes on the mock and are left to bench/study_inputs.py)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from conftest import run_mock

from tests.conftest import ROOT, dftflow

CASES = [
    ("wo3_vacancy_sites.yaml", "bulk_relax"),
    ("wo3_vacancy_sites.yaml", "hse-static_WO2.938_V_O-s_x_q+2"),
    ("wo3_vacancy_concentration.yaml", "hse-bands_WO2.875_2V_O-s_z_q+4"),
    ("hxwo3_hydrogen.yaml", "bulk_relax"),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    out = {}
    for study in sorted({s for s, _ in CASES}):
        target = tmp_path_factory.mktemp(study.split(".")[0]) / "inputs"
        made = dftflow("inputs", ROOT / "workflows" / study, "--out", target, "--potcars", "spec", env=dict(os.environ))
        assert made.returncode == 0, made.stderr
        out[study] = target
    return out


@pytest.mark.parametrize("study, folder", CASES)
def test_mock_runs_and_every_output_parses(folders, study, folder):
    from custodian.vasp.handlers import (
        NonConvergingErrorHandler,
        PositiveEnergyErrorHandler,
        StdErrHandler,
        UnconvergedErrorHandler,
        VaspErrorHandler,
    )
    from custodian.vasp.validators import VaspFilesValidator, VasprunXMLValidator
    from pymatgen.io.vasp.outputs import Eigenval, Locpot, Oszicar, Outcar, Procar, Vasprun

    d = folders[study] / folder
    assert run_mock(d, env={"MOCK_VASP_THREADS": "2"}).returncode == 0, (d / "vasp.out").read_text()[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vasprun = Vasprun(d / "vasprun.xml", parse_projected_eigen=True)
    assert vasprun.converged
    assert int(vasprun.parameters["NELECT"]) == int(float(_incar(d)["NELECT"]))
    assert Outcar(d / "OUTCAR").nelect == vasprun.parameters["NELECT"]
    assert Oszicar(d / "OSZICAR").final_energy == pytest.approx(vasprun.final_energy, abs=1e-3)
    Eigenval(d / "EIGENVAL")
    if (d / "PROCAR").exists():
        Procar(d / "PROCAR")
    if (d / "LOCPOT").exists():
        Locpot.from_file(d / "LOCPOT")
    if folder.startswith("hse-bands"):
        # VASP (and the mock) place E_F from the weighted points only; valence states on the path can lie
        # above it, so pymatgen is given E_F mid-gap from dftflow's band-index analysis, and both agree
        from dftflow.analysis.band_edges import run_band_edges
        from dftflow.analysis.rundata import RunData

        path_edges = run_band_edges(RunData.from_directory(d))["path"]
        bs = vasprun.get_band_structure(
            str(d / "KPOINTS"), line_mode=True, efermi=(path_edges.vbm + path_edges.cbm) / 2
        )
        assert bs.get_band_gap()["energy"] == pytest.approx(path_edges.gap, abs=1e-6) and path_edges.gap > 0
    assert not VasprunXMLValidator().check(str(d)) and not VaspFilesValidator().check(str(d))
    for handler in (
        VaspErrorHandler(),
        UnconvergedErrorHandler(),
        NonConvergingErrorHandler(),
        StdErrHandler(),
        PositiveEnergyErrorHandler(),
    ):
        assert not handler.check(str(d)), type(handler).__name__


def _incar(d: Path) -> dict:
    from pymatgen.io.vasp import Incar

    return Incar.from_file(d / "INCAR")
