"""mock-vasp on input folders written by `dftflow inputs` for the study files: it runs, and pymatgen and
custodian read every output it must write (a representative folder of each kind; the 256-atom cells of
study Y are left to bench/study_y.py).  A file the inputs ask for (PROCAR with LORBIT, LOCPOT with LVHAR,
the dielectric blocks with LEPSILON, PARCHG with LPARD) has to be there and parse."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import run_mock

from tests.conftest import ROOT, dftflow

CASES = [
    ("wo3_vacancy_sites.yaml", "bulk_relax"),
    ("wo3_vacancy_sites.yaml", "hse-static_WO2.938_V_O-s_x-1_q+2"),
    ("wo3_vacancy_concentration.yaml", "hse-bands_WO2.875_2V_O-s_z_q+4"),
    ("wo3_vacancy_charge_states.yaml", "dielectric_bulk"),
    ("wo3_vacancy_charge_states.yaml", "relax_O2"),
    ("wo3_vacancy_charge_states.yaml", "hse-parchg_WO2.938_V_O-s_z_q+1"),
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


def _incar(d: Path) -> dict:
    from pymatgen.io.vasp import Incar

    return Incar.from_file(d / "INCAR")


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
    from pymatgen.io.vasp.outputs import Chgcar, Eigenval, Locpot, Oszicar, Outcar, Procar, Vasprun

    d = folders[study] / folder
    incar = _incar(d)
    if incar.get("LPARD") and "IBAND" not in incar:
        # dftflow sets IBAND at run time from the defect-level analysis: the lowest empty band per spin here
        (d / "INCAR").write_text((d / "INCAR").read_text() + f"IBAND = {int(incar['NELECT']) // 2 + 1}\n")
        incar = _incar(d)
    assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-2000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vasprun = Vasprun(d / "vasprun.xml", parse_projected_eigen=True)
    assert vasprun.converged
    nk = len(vasprun.actual_kpoints)
    nbands = int(vasprun.parameters["NBANDS"])
    assert int(vasprun.parameters["NELECT"]) == int(float(incar["NELECT"]))
    outcar = Outcar(d / "OUTCAR")
    assert outcar.nelect == vasprun.parameters["NELECT"]
    assert Oszicar(d / "OSZICAR").final_energy == pytest.approx(vasprun.final_energy, abs=1e-3)
    eigenval = Eigenval(d / "EIGENVAL")
    assert eigenval.nkpt == nk and eigenval.nbands == nbands
    assert eigenval.eigenvalues[next(iter(eigenval.eigenvalues))].shape == (nk, nbands, 2)
    if incar.get("LORBIT", 0) >= 10:
        procar = Procar(d / "PROCAR")
        assert procar.nkpoints == nk and procar.nbands == nbands and procar.nions == len(vasprun.final_structure)
    else:
        assert not (d / "PROCAR").exists()
    if incar.get("LVHAR") or incar.get("LVTOT"):
        assert Locpot.from_file(d / "LOCPOT").dim == tuple(outcar.ngf)
    if incar.get("LEPSILON"):
        assert outcar.lepsilon and np.all(np.linalg.eigvalsh(outcar.dielectric_tensor) > 1)
        assert np.allclose(vasprun.epsilon_static, outcar.dielectric_tensor, atol=1e-5)
        assert np.allclose(vasprun.epsilon_ionic, outcar.dielectric_ionic_tensor, atol=1e-5)
        assert outcar.born.shape == (len(vasprun.final_structure), 3, 3)
    if incar.get("LPARD"):
        names = sorted(p.name for p in d.glob("PARCHG*"))
        assert names == [f"PARCHG.{int(np.ravel(incar['IBAND'])[0]):04d}.ALLK"]
        assert Chgcar.from_file(d / names[0]).data["total"].mean() == pytest.approx(2.0, abs=1e-6)
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
