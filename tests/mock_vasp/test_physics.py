"""The model's physics: exact exchange opens the gap, V_O2+ states split off below the CBM."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import HYBRID_STATIC, bulk_structure, run_mock, supercell_with_vacancies, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

STATIC = dict(HYBRID_STATIC, ISTART=0, LORBIT=11, LWAVE=False, LCHARG=False, LVHAR=False, NEDOS=601)


def _vasprun(d):
    from pymatgen.io.vasp.outputs import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(d / "vasprun.xml", parse_projected_eigen=True)


def _gap(tmp_path, name, structure, incar, mesh, charge=0):
    d = tmp_path / name
    write_inputs(d, structure, incar, ("monkhorst", mesh), charge=charge)
    assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-2000:]
    return _vasprun(d)


def test_exact_exchange_orders_gaps(tmp_path):
    s = bulk_structure()
    pbe = dict(STATIC, LHFCALC=False, GGA="PS", ALGO="Normal")
    gaps = {}
    for name, incar in (
        ("pbesol", pbe),
        ("hse25", dict(STATIC, AEXX=0.25)),
        ("hse28", dict(STATIC, AEXX=0.28)),
    ):
        gaps[name] = _gap(tmp_path, name, s, incar, (4, 4, 4)).eigenvalue_band_properties[0]
    print(gaps)
    assert gaps["pbesol"] < gaps["hse25"] < gaps["hse28"]
    assert 1.2 < gaps["pbesol"] < 2.4
    assert 2.2 < gaps["hse28"] < 3.3


@pytest.fixture(scope="module")
def supercells(tmp_path_factory):
    base = tmp_path_factory.mktemp("sc")
    out = {}
    mesh = (2, 2, 1)
    out["pristine"] = _gap(base, "pristine", bulk_structure() * (1, 1, 2), STATIC, mesh)
    for axis in "xyz":
        out[axis] = _gap(base, f"vo_{axis}", supercell_with_vacancies((axis,)), STATIC, mesh, charge=2)
    out["2z"] = _gap(base, "2vo_z", supercell_with_vacancies(("z",), n=2), STATIC, mesh, charge=4)
    return out


def test_vacancy_state_below_cbm_on_neighbouring_w(supercells):
    from pymatgen.electronic_structure.core import Spin

    gap0 = supercells["pristine"].eigenvalue_band_properties[0]
    v = supercells["x"]
    gap, cbm, vbm, _ = v.eigenvalue_band_properties
    assert gap < gap0 - 0.05  # an empty state split off below the pristine CBM
    eig = v.eigenvalues[Spin.up]
    k, b = np.unravel_index(np.argmin(np.where(eig[:, :, 1] < 1e-8, eig[:, :, 0], np.inf)), eig.shape[:2])
    assert eig[k, b, 1] < 1e-8  # empty
    weights = v.projected_eigenvalues[Spin.up][k, b].sum(axis=1)
    s = v.final_structure
    under = [
        i
        for i, site in enumerate(s)
        if site.specie.symbol == "W" and sum(1 for n in s.get_neighbors(site, 2.6) if n.specie.symbol == "O") < 6
    ]
    assert len(under) == 2
    assert weights[under].sum() > 0.5 * weights.sum()


def test_two_vacancies_narrow_the_gap_more(supercells):
    assert supercells["2z"].eigenvalue_band_properties[0] < supercells["z"].eigenvalue_band_properties[0]


def test_vacancy_sites_differ_in_energy(supercells):
    energies = [supercells[a].final_energy for a in "xyz"]
    assert len({round(e, 3) for e in energies}) == 3
