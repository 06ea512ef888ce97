import numpy as np
import pytest

from dftflow.defects import Hydrogen, Vacancy, build_defect_cell
from dftflow.errors import InputError
from dftflow.vasp.kpoints import equivalent_pairs, irreducible_kpoints, space_group, zero_weight_kpoints


def _count(structure, mesh, style, isym=2):
    frac, weights = irreducible_kpoints(structure, mesh, style, isym)
    assert weights.sum() == np.prod(mesh)
    return len(frac)


def test_irreducible_counts_match_the_reference_table(host, supercell_112, supercell_222):
    """shared/docs/vasp_settings.md, 'k-point counts (spglib, time reversal on)'."""
    assert (_count(host, (4, 4, 4), "Gamma"), _count(host, (4, 4, 4), "Monkhorst-Pack")) == (30, 16)
    assert (_count(supercell_112, (4, 4, 2), "Gamma"), _count(supercell_112, (4, 4, 2), "Monkhorst-Pack")) == (18, 8)
    assert (_count(supercell_222, (2, 2, 2), "Gamma"), _count(supercell_222, (2, 2, 2), "Monkhorst-Pack")) == (8, 2)
    one_vo = build_defect_cell(supercell_112, [Vacancy("s_z")]).structure
    assert space_group(one_vo).startswith("P1 ")
    assert (_count(one_vo, (4, 4, 2), "Gamma"), _count(one_vo, (4, 4, 2), "Monkhorst-Pack")) == (20, 16)
    one_h = build_defect_cell(supercell_222, [Hydrogen(count=1)]).structure
    assert (_count(one_h, (2, 2, 2), "Gamma"), _count(one_h, (2, 2, 2), "Monkhorst-Pack")) == (8, 4)


def test_isym0_uses_time_reversal_only(supercell_112):
    assert _count(supercell_112, (4, 4, 2), "Monkhorst-Pack", isym=0) == 16


def test_zero_weight_kpoints_are_weighted_then_labelled_path(supercell_112):
    kpts = zero_weight_kpoints(supercell_112, (4, 4, 2), "Monkhorst-Pack", isym=0)
    weights = np.array(kpts.kpts_weights)
    n_weighted = int(np.count_nonzero(weights))
    assert n_weighted == 16 and weights.sum() == 32
    assert np.all(weights[:n_weighted] > 0) and np.all(weights[n_weighted:] == 0)
    assert equivalent_pairs(np.array(kpts.kpts)) == []
    labels = [lab for lab in kpts.labels[n_weighted:] if lab]
    assert labels == ["Z", "\\Gamma", "X", "S", "Y", "T", "R", "U"]
    assert kpts.labels[n_weighted] == "Z" and kpts.labels[-1] == "U"


def test_written_kpoints_round_trip_through_pymatgen(supercell_112, tmp_path):
    from pymatgen.io.vasp import Kpoints

    kpts = zero_weight_kpoints(supercell_112, (4, 4, 2), "Monkhorst-Pack", isym=0)
    kpts.write_file(tmp_path / "KPOINTS")
    back = Kpoints.from_file(tmp_path / "KPOINTS")
    assert back.num_kpts == kpts.num_kpts
    assert [lab for lab in back.labels if lab] == [lab for lab in kpts.labels if lab]
    assert "None" not in (tmp_path / "KPOINTS").read_text()


def test_duplicate_points_are_refused(supercell_112):
    with pytest.raises(InputError, match="IBZKPT_HF"):
        zero_weight_kpoints(supercell_112, (4, 4, 2), "Gamma", isym=0)  # Gamma is on the mesh and the path
    with pytest.raises(InputError, match="IBZKPT_HF"):
        zero_weight_kpoints(
            supercell_112, (4, 4, 2), "Monkhorst-Pack", isym=0, path=(("\\Gamma", "X", "S", "\\Gamma"),)
        )  # a closed loop repeats Gamma
