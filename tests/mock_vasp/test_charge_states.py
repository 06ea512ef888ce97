"""Charge states of V_O, the eFNV correction on mock outputs, partial charge densities and the O2
reference molecule (MODEL OUTPUT of mock-vasp, not DFT)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import BULK_RELAX, HYBRID_STATIC, bulk_structure, run_mock, supercell_with_vacancies, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

STATIC = dict(HYBRID_STATIC, ISTART=0, NEDOS=301, LCHARG=False, LWAVE=False, LVHAR=False)


def _vasprun(d, projections=True):
    from pymatgen.io.vasp.outputs import Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(d / "vasprun.xml", parse_projected_eigen=projections)


def _vacancy_w(structure) -> list[int]:
    return [
        i
        for i, site in enumerate(structure)
        if site.specie.symbol == "W"
        and sum(1 for n in structure.get_neighbors(site, 2.6) if n.specie.symbol == "O") < 6
    ]


@pytest.fixture(scope="module")
def charge_states(tmp_path_factory):
    """Pristine 1x1x2 and V_O(s_z) at q = 0, +1, +2: NELECT = sum ZVAL - q, ISPIN 2, MAGMOM on the two W
    next to the vacancy for the odd electron count (as dftflow writes them)."""
    base = tmp_path_factory.mktemp("charge_states")
    vacancy = supercell_with_vacancies(("z",))
    seeds = _vacancy_w(vacancy)
    out = {}
    for name, structure, q in (
        ("pristine", bulk_structure() * (1, 1, 2), 0),
        ("q0", vacancy, 0),
        ("q1", vacancy, 1),
        ("q2", vacancy, 2),
    ):
        tags = dict(STATIC)
        if q == 1:
            tags["MAGMOM"] = [0.6 if i in seeds else 0.0 for i in range(len(structure))]
        d = base / name
        write_inputs(d, structure, tags, ("monkhorst", (2, 2, 1)), charge=q)
        assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
        out[name] = d
    return out


def _edges(v):
    from pymatgen.electronic_structure.core import Spin

    e = v.eigenvalues[Spin.up]
    occupied = e[:, :, 1] > 0.5
    return e[:, :, 0][occupied].max(), e[:, :, 0][~occupied].min()


def test_neutral_and_plus_one_bind_their_electrons_below_the_cbm_on_the_vacancy_w(charge_states):
    _, cbm = _edges(_vasprun(charge_states["pristine"], projections=False))
    for name, n_bound in (("q0", 2), ("q1", 1)):
        v = _vasprun(charge_states[name])
        assert v.parameters["NELECT"] == 506 - int(name[1]) and v.parameters["ISPIN"] == 2
        seeds = _vacancy_w(v.final_structure)
        bound = []
        for spin, e in v.eigenvalues.items():
            gap_states = (e[:, :, 1] > 0.5) & (e[:, :, 0] > cbm - 1.5)  # occupied, in the upper half of the gap
            for band in np.unique(np.nonzero(gap_states)[1]):
                assert np.all(e[:, band, 0] < cbm - 0.05)  # below the pristine CBM at every k-point
                weight = v.projected_eigenvalues[spin][:, band].sum(axis=2)  # (nk, natoms)
                assert weight[:, seeds].sum() > 0.4 * weight.sum()  # localised on the two W next to V_O
                bound.append(band)
        assert len(bound) == n_bound


def test_charge_states_give_finite_ordered_transition_levels(charge_states):
    vbm, cbm = _edges(_vasprun(charge_states["pristine"], projections=False))
    energy = {q: _vasprun(charge_states[f"q{q}"], projections=False).final_energy for q in (0, 1, 2)}
    assert len({round(e, 4) for e in energy.values()}) == 3
    # epsilon(q/q-1) = E(q-1) - E(q) on the VBM scale (no correction: same cell, same model screening)
    e21, e10 = energy[1] - energy[2] - vbm, energy[0] - energy[1] - vbm
    assert 0 < e21 < e10 < cbm - vbm  # both levels in the gap, (2+/+) deeper: a positive U


def test_efnv_correction_runs_on_mock_outcars(charge_states):
    """pymatgen-analysis-defects' Kumagai-Oba correction from the OUTCAR site potentials of V_O2+ and
    the pristine cell, as dftflow calls it (site property 'potential' = minus the OUTCAR value)."""
    from pymatgen.analysis.defects.corrections.kumagai import get_efnv_correction
    from pymatgen.io.vasp.outputs import Outcar

    def with_potentials(d):
        potentials = Outcar(d / "OUTCAR").electrostatic_potential
        structure = _vasprun(d, projections=False).final_structure
        assert len(potentials) == len(structure)
        return structure.copy(site_properties={"potential": [-float(p) for p in potentials]})

    result = get_efnv_correction(
        2, with_potentials(charge_states["q2"]), with_potentials(charge_states["pristine"]), np.diag([40.0, 40.0, 20.0])
    )
    parts = result.metadata["efnv_corr"]
    assert np.isfinite(result.correction_energy) and result.correction_energy != 0
    assert np.isfinite(parts.point_charge_correction) and parts.point_charge_correction != 0


def test_partial_charge_of_the_vacancy_state(tmp_path):
    """IBAND = the empty V_O2+ state: PARCHG.BBBB.ALLK (LSEPB) holds 2 electrons (ISPIN 1, all k-points),
    most of them within 1.6 A of the two W next to the vacancy; KPUSE + LSEPK give one file per k-point
    holding 2 electrons each (VASP resets the weights to 1)."""
    from pymatgen.io.vasp.outputs import Chgcar

    vacancy = supercell_with_vacancies(("z",))
    band = 504 // 2 + 1  # NELECT 504: the lowest empty band
    tags = dict(STATIC, ISPIN=1, LPARD=True, IBAND=[band], LSEPB=True, LSEPK=False, LORBIT=11)
    write_inputs(tmp_path, vacancy, tags, ("monkhorst", (2, 2, 1)), charge=2)
    assert run_mock(tmp_path).returncode == 0, (tmp_path / "vasp.out").read_text()[-1500:]
    path = tmp_path / f"PARCHG.{band:04d}.ALLK"
    assert "mock-vasp model output" in path.read_text().splitlines()[0]
    chg = Chgcar.from_file(path)
    rho = chg.data["total"]
    assert rho.mean() == pytest.approx(2.0, abs=1e-6)
    grid = np.stack(np.meshgrid(*[np.arange(n) / n for n in rho.shape], indexing="ij"), -1).reshape(-1, 3)
    lattice = chg.structure.lattice
    seeds = _vacancy_w(chg.structure)
    near = np.zeros(len(grid), bool)
    for i in seeds:
        delta = grid - chg.structure[i].frac_coords
        delta -= np.round(delta)
        near |= np.linalg.norm(delta @ lattice.matrix, axis=1) < 1.6
    assert rho.ravel()[near].sum() > 0.35 * rho.sum()  # the two W hold 2 of the 16 W's volume

    (tmp_path / "INCAR").write_text(
        (tmp_path / "INCAR").read_text().replace("LSEPK = False", "LSEPK = True") + "KPUSE = 1 2\n"
    )
    for old in tmp_path.glob("PARCHG*"):
        old.unlink()
    assert run_mock(tmp_path).returncode == 0, (tmp_path / "vasp.out").read_text()[-1500:]
    names = sorted(p.name for p in tmp_path.glob("PARCHG*"))
    assert names == [f"PARCHG.{band:04d}.0001", f"PARCHG.{band:04d}.0002"]
    for name in names:
        assert Chgcar.from_file(tmp_path / name).data["total"].mean() == pytest.approx(2.0, abs=1e-6)


def test_energy_window_selects_the_gap_state(tmp_path):
    """EINT (absolute, NBMOD -2 by default) around the V_O2+ state gives the same PARCHG as IBAND."""
    from pymatgen.io.vasp.outputs import Chgcar

    vacancy = supercell_with_vacancies(("z",))
    band = 504 // 2 + 1
    results = {}
    for name, extra in (("iband", {"IBAND": [band]}), ("eint", {})):
        d = tmp_path / name
        tags = dict(STATIC, ISPIN=1, LPARD=True, LORBIT=0, **extra)
        if name == "eint":
            e = _vasprun(tmp_path / "iband", projections=False).eigenvalues
            level = next(iter(e.values()))[:, band - 1, 0]
            tags["EINT"] = [float(level.min()) - 0.01, float(level.max()) + 0.01]
        write_inputs(d, vacancy, tags, ("monkhorst", (2, 2, 1)), charge=2)
        assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
        results[name] = Chgcar.from_file(d / "PARCHG").data["total"]
    assert np.allclose(results["iband"], results["eint"], atol=1e-8)


def test_o2_molecule_relaxes_to_a_bound_triplet(tmp_path):
    """O2 in a 10 x 11 x 12 A box at Gamma, ISPIN 2 with NUPDOWN 2 as dftflow's preset writes it, and
    with MAGMOM 1 1 alone: the model gives a triplet bound near 1.21 A, below two O atoms."""
    from pymatgen.core import Lattice, Structure

    box = Lattice.orthorhombic(10.0, 11.0, 12.0)
    o2 = Structure(box, ["O", "O"], [[5.0, 5.5, 5.4], [5.0, 5.5, 6.63]], coords_are_cartesian=True)
    atom = Structure(box, ["O"], [[5.0, 5.5, 6.0]], coords_are_cartesian=True)
    relax = dict(
        BULK_RELAX, ISIF=2, ISPIN=2, ISYM=0, ISMEAR=0, SIGMA=0.01, MAGMOM=[1.0, 1.0], LWAVE=False, LCHARG=False
    )
    energies = {}
    for name, structure, tags in (
        ("nupdown", o2, dict(relax, NUPDOWN=2)),
        ("magmom", o2, relax),
        ("atom", atom, dict(relax, MAGMOM=[2.0], NSW=0, IBRION=-1, NUPDOWN=2)),
    ):
        d = tmp_path / name
        write_inputs(d, structure, tags, ("gamma", (1, 1, 1)), symbols=("O",))
        assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
        v = _vasprun(d, projections=False)
        energies[name] = v.final_energy
        if name != "atom":
            assert v.converged
            bond = v.final_structure.get_distance(0, 1)
            assert 1.17 < bond < 1.25
            from pymatgen.io.vasp.outputs import Oszicar

            assert Oszicar(d / "OSZICAR").ionic_steps[-1]["mag"] == pytest.approx(2.0, abs=1e-6)
    assert energies["magmom"] == pytest.approx(energies["nupdown"], abs=1e-4)
    assert energies["nupdown"] < 2 * energies["atom"] - 2.0  # bound by several eV (model: 3.9 eV)
