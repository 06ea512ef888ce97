"""The model dielectric response (LEPSILON / LCALCEPS, IBRION 5-8) in VASP's formats (MODEL OUTPUT):
pymatgen's Outcar.read_lepsilon / read_lepsilon_ionic and Vasprun.epsilon_static / epsilon_static_wolfe /
epsilon_ionic / force_constants read it, and the Born charges equal the finite-difference derivative of
the model's Berry-phase polarisation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import BULK_RELAX, HYBRID_STATIC, bulk_structure, run_mock, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

DFPT = {
    k: v for k, v in BULK_RELAX.items() if k not in ("ISIF", "EDIFFG", "NSW", "IBRION", "LWAVE", "LCHARG", "SYSTEM")
}
DFPT.update(SYSTEM="dielectric", IBRION=8, LEPSILON=True, LRPA=False, NSW=1, EDIFF=1e-8, ISYM=0, LWAVE=False)


def _outputs(d):
    from pymatgen.io.vasp.outputs import Outcar, Vasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Outcar(d / "OUTCAR"), Vasprun(d / "vasprun.xml")


@pytest.fixture(scope="module")
def dfpt_dir(tmp_path_factory):
    """Bulk relaxed at fixed cell, then IBRION 8 + LEPSILON at the relaxed geometry (as the workflow's
    dielectric step follows the bulk relax)."""
    from pymatgen.core import Structure

    base = tmp_path_factory.mktemp("dfpt")
    relax, d = base / "relax", base / "dfpt"
    write_inputs(relax, bulk_structure(), dict(BULK_RELAX, ISIF=2), ("monkhorst", (2, 2, 2)))
    assert run_mock(relax).returncode == 0
    write_inputs(d, Structure.from_file(relax / "CONTCAR"), DFPT, ("monkhorst", (2, 2, 2)))
    assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
    return d


@pytest.fixture(scope="module")
def electronic_dir(tmp_path_factory):
    """LEPSILON at a static on a 4x4x4 Gamma mesh (electronic tensor and Born charges only)."""
    d = tmp_path_factory.mktemp("lepsilon")
    write_inputs(d, bulk_structure(), dict(DFPT, IBRION=-1, NSW=0), ("gamma", (4, 4, 4)))
    assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
    return d


def test_dfpt_blocks_parse_like_vasps(dfpt_dir):
    outcar, vasprun = _outputs(dfpt_dir)
    assert outcar.lepsilon and outcar.dfpt
    eps, eps_ion = np.array(outcar.dielectric_tensor), np.array(outcar.dielectric_ionic_tensor)
    assert np.allclose(eps, eps.T) and np.all(np.linalg.eigvalsh(eps) > 1.0)
    assert np.all(np.linalg.eigvalsh(eps_ion) > -1e-6)
    assert np.allclose(vasprun.epsilon_static, eps, atol=1e-5)
    assert np.allclose(vasprun.epsilon_static_wolfe, eps, atol=1e-5)  # the model has no local-field effects
    assert np.allclose(vasprun.epsilon_ionic, eps_ion, atol=1e-5)
    born = np.array(outcar.born)
    assert born.shape == (32, 3, 3)
    assert np.abs(born.sum(axis=0)).max() < 1e-3  # acoustic sum rule
    assert born[0].trace() / 3 > 6.0  # W carries more than its nominal +6, as WO3's anomalous Born charges do
    assert vasprun.force_constants.shape == (32, 32, 3, 3)
    modes = np.sort(vasprun.normalmode_eigenvals)  # -omega^2: negative for a stable mode
    assert np.all(np.abs(modes[-3:]) < 1e-6)  # the three translations
    assert np.all(modes[:-3] < 0)  # the relaxed bulk is stable: no imaginary mode


def test_born_charges_are_the_berry_phase_derivative(electronic_dir):
    """Z*(W_1) from the mock's OUTCAR against (V/e) dP/du, P from the discrete Berry phase (King-Smith and
    Vanderbilt) of the same model Hamiltonian on the same 4x4x4 mesh, by central differences."""
    from mock_vasp.parameters import load_params
    from mock_vasp.tight_binding import TightBinding

    outcar, _ = _outputs(electronic_dir)
    assert not outcar.dfpt  # IBRION -1: no ionic part
    s = bulk_structure()
    lattice, frac0, species = s.lattice.matrix, s.frac_coords, [x.specie.symbol for x in s]
    params = load_params()
    n0 = np.array([params["reference_population"][x] for x in species], float)
    onsite_of = {"W": params["tight_binding"]["onsite"]["W_d"] + params["exact_exchange"]["gga_offsets"]["PS"]}
    onsite_of["O"] = params["tight_binding"]["onsite"]["O_p"]
    nocc = int(n0.sum()) // 2
    n = 4
    recip = 2 * np.pi * np.linalg.inv(lattice).T
    volume = abs(np.linalg.det(lattice))

    def polarisation(frac):
        tb = TightBinding(lattice, frac, species, params["tight_binding"])
        onsite = np.array([onsite_of[species[a]] for a in tb.basis.atom_of_orbital])
        cart = (frac @ lattice)[tb.basis.atom_of_orbital]
        grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
        vecs = {tuple(g): np.linalg.eigh(tb.hamiltonian(g / n, onsite))[1][:, :nocc] for g in grid}
        p = (n0[:, None] * (frac @ lattice)).sum(axis=0)
        for d in range(3):
            link = np.exp(-1j * cart @ (recip[d] / n))[:, None]
            strings = []
            for g in grid[grid[:, d] == 0]:
                prod = 1.0 + 0j
                for t in range(n):
                    a, b = g.copy(), g.copy()
                    a[d], b[d] = t, (t + 1) % n
                    prod *= np.linalg.det(vecs[tuple(a)].conj().T @ (link * vecs[tuple(b)]))
                strings.append(-np.angle(prod))
            phase = np.angle(np.mean(np.exp(1j * np.array(strings))))
            p += -2.0 * phase / (2 * np.pi) * lattice[d]  # two electrons per band, charge -e
        return p / volume

    step = 0.005  # W_1 moved along x: the first column Z*_(a, x)
    shift = np.linalg.solve(lattice.T, step * np.eye(3)[0])
    plus, minus = frac0.copy(), frac0.copy()
    plus[0] += shift
    minus[0] -= shift
    z = (polarisation(plus) - polarisation(minus)) / (2 * step) * volume
    born = np.array(outcar.born)[0][:, 0]
    assert np.allclose(born, z, atol=0.06 * np.abs(z).max()), (born, z)


def test_hybrid_finite_field_screens_less_than_the_semilocal(tmp_path):
    """LCALCEPS at a hybrid static: a wider gap, a smaller eps_inf than PBEsol's."""
    eps = {}
    for name, tags in (
        ("pbesol", dict(DFPT, IBRION=-1, NSW=0)),
        ("hse", dict(HYBRID_STATIC, ISTART=0, LCALCEPS=True, ISYM=0, LVHAR=False, LORBIT=0, LWAVE=False)),
    ):
        d = tmp_path / name
        write_inputs(d, bulk_structure(), tags, ("monkhorst", (2, 2, 2)))
        assert run_mock(d).returncode == 0, (d / "vasp.out").read_text()[-1500:]
        outcar, _ = _outputs(d)
        outcar.read_lepsilon()
        eps[name] = np.trace(np.array(outcar.dielectric_tensor)) / 3
    assert 1.0 < eps["hse"] < eps["pbesol"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"LCALCEPS": True}, "two methods"),
        ({"IBRION": 2, "NSW": 10}, "needs a fixed geometry"),
        ({"LHFCALC": True}, "not available for LHFCALC"),
        ({"LEPSILON": 1}, "must be .TRUE. or .FALSE."),
        ({"IBRION": 0, "NSW": 10}, "IBRION = 0 is not modelled"),
    ],
)
def test_contradictory_response_tags_fail(tmp_path, change, message):
    write_inputs(tmp_path, bulk_structure(), dict(DFPT, **change), ("monkhorst", (2, 2, 2)))
    assert run_mock(tmp_path).returncode != 0
    assert message in (tmp_path / "vasp.out").read_text()
