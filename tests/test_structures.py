import numpy as np
import pytest

from dftflow.errors import InputError
from dftflow.structures import load_host, load_structure, make_supercell, on_lattice, parse_supercell
from tests.conftest import HOST_CIF


def test_host_is_p21n_wo3_with_w_first(host):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    assert host.composition.reduced_formula == "WO3"
    assert len(host) == 32
    assert SpacegroupAnalyzer(host, symprec=1e-3).get_space_group_number() == 14
    assert [s.specie.symbol for s in host][:8] == ["W"] * 8
    assert host.lattice.abc == pytest.approx((7.35594, 7.40099, 7.62157), abs=1e-5)


def test_on_lattice_keeps_fractional_coordinates(host):
    moved = on_lattice(host, a=7.46, b=7.60, c=7.73, beta=90.2)
    assert moved.lattice.abc == pytest.approx((7.46, 7.60, 7.73))
    assert moved.lattice.angles[1] == pytest.approx(90.2)
    assert np.allclose(moved.frac_coords, host.frac_coords)


def test_load_host_with_lattice_option(host):
    moved = load_host(HOST_CIF, {"a": 7.46, "b": 7.60, "c": 7.73, "beta": 90.2})
    assert moved.lattice.c == pytest.approx(7.73)


def test_supercell_parsing_and_size(host):
    assert parse_supercell("1x1x2") == (1, 1, 2)
    assert parse_supercell([2, 2, 2]) == (2, 2, 2)
    for bad in ("1x2", "0x1x1", "1.5x1x1", "axbxc"):
        with pytest.raises(InputError):
            parse_supercell(bad)
    assert len(make_supercell(host, (1, 1, 2))) == 64


def test_missing_and_unreadable_structures(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_structure(tmp_path / "nope.cif")
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not a crystal\n")
    with pytest.raises(InputError, match="cannot read"):
        load_structure(bad)


def test_host_without_w_is_refused(tmp_path):
    from pymatgen.core import Lattice, Structure

    path = tmp_path / "MgO.cif"
    Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(path))
    with pytest.raises(InputError, match="no W"):
        load_host(path)
