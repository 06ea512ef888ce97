"""Validation messages, determinism, restarts, k-point counts and hybrid line-mode band structures."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import BULK_RELAX, HYBRID_STATIC, bulk_structure, run_mock, write_inputs

pytestmark = pytest.mark.filterwarnings("ignore")

STATIC = dict(BULK_RELAX, SYSTEM="static", NSW=0, IBRION=-1, LWAVE=True, LCHARG=False)


def _strip_times(text: str) -> str:
    text = re.sub(r"\d{4} \d\d \d\d|\d\d:\d\d:\d\d|\d{4}\.\d\d\.\d\d", "T", text)
    return re.sub(r"(time|Time|LOOP\+?:|totalsc|total\")[^\n]*", "T", text)


def test_same_inputs_same_outputs(tmp_path):
    outs = []
    for name in ("a", "b"):
        d = tmp_path / name
        write_inputs(d, bulk_structure(), dict(HYBRID_STATIC, ISTART=0, LCHARG=False), ("monkhorst", (2, 2, 2)))
        assert run_mock(d).returncode == 0
        outs.append(
            {
                f: _strip_times((d / f).read_text())
                for f in (
                    "vasprun.xml",
                    "OUTCAR",
                    "OSZICAR",
                    "EIGENVAL",
                    "DOSCAR",
                    "PROCAR",
                    "LOCPOT",
                    "CONTCAR",
                )
            }
        )
    for f in outs[0]:
        assert outs[0][f] == outs[1][f], f


@pytest.mark.parametrize(
    ("mode", "mesh", "isym", "expected"), [("gamma", (4, 4, 4), 2, 30), ("monkhorst", (4, 4, 4), 2, 16)]
)
def test_irreducible_kpoint_counts(tmp_path, mode, mesh, isym, expected):
    write_inputs(tmp_path, bulk_structure(), dict(STATIC, ISYM=isym), (mode, mesh))
    assert run_mock(tmp_path).returncode == 0
    assert int((tmp_path / "IBZKPT").read_text().splitlines()[1]) == expected


def test_restart_from_wavecar_needs_fewer_steps(tmp_path):
    from pymatgen.io.vasp.outputs import Oszicar

    write_inputs(tmp_path, bulk_structure(), dict(STATIC, ISTART=0), ("monkhorst", (2, 2, 2)))
    assert run_mock(tmp_path).returncode == 0
    fresh = len(Oszicar(tmp_path / "OSZICAR").electronic_steps[0])
    write_inputs(tmp_path, bulk_structure(), dict(STATIC, ISTART=1), ("monkhorst", (2, 2, 2)))
    assert run_mock(tmp_path).returncode == 0
    assert len(Oszicar(tmp_path / "OSZICAR").electronic_steps[0]) < fresh
    # a WAVECAR of another mesh is accepted with a message
    write_inputs(tmp_path, bulk_structure(), dict(STATIC, ISTART=1), ("gamma", (3, 3, 3)))
    assert run_mock(tmp_path).returncode == 0
    assert "different k-point set" in (tmp_path / "vasp.out").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FOO": 1}, "unknown INCAR tag FOO"),
        ({"NELECT": 200}, "NELECT = 200"),
        ({"NBANDS": 100}, "TOO FEW BANDS"),
        ({"LDAU": True}, "LDAU"),
    ],
)
def test_invalid_inputs_fail_like_vasp(tmp_path, change, message):
    write_inputs(tmp_path, bulk_structure(), dict(STATIC, **change), ("monkhorst", (2, 2, 2)))
    assert run_mock(tmp_path).returncode != 0
    assert message in (tmp_path / "vasp.out").read_text()


def test_missing_files_and_species_mismatch(tmp_path):
    write_inputs(tmp_path, bulk_structure(), STATIC, ("monkhorst", (2, 2, 2)))
    (tmp_path / "POTCAR.spec").write_text("O\nW_sv\n")
    assert run_mock(tmp_path).returncode != 0
    assert "type information on POSCAR and POTCAR are incompatible" in (tmp_path / "vasp.out").read_text()
    (tmp_path / "POTCAR.spec").unlink()
    assert run_mock(tmp_path).returncode != 0
    assert "POTCAR not found" in (tmp_path / "vasp.out").read_text()


def _band_kpoints(with_duplicate: bool):
    from pymatgen.io.vasp.inputs import Kpoints

    weighted = [(0.25, 0.25, 0.25), (0.25, 0.25, -0.25), (0.25, -0.25, 0.25), (-0.25, 0.25, 0.25)]
    path = [(0, 0, 0), (0.25, 0, 0), (0.5, 0, 0), (0.5, 0.25, 0), (0.5, 0.5, 0)]
    labels = [None] * 4 + ["\\Gamma", None, "X", None, "S"]
    if with_duplicate:
        path[0] = (-0.75, -0.75, -0.75)  # equals the first weighted point modulo a reciprocal vector
    return Kpoints(
        comment="hse-bands",
        style=Kpoints.supported_modes.Reciprocal,
        num_kpts=9,
        kpts=weighted + path,
        kpts_weights=[1] * 4 + [0] * 5,
        labels=labels,
    )


def test_hybrid_band_structure_in_line_mode(tmp_path):
    from pymatgen.io.vasp.outputs import Vasprun

    write_inputs(
        tmp_path,
        bulk_structure(),
        dict(HYBRID_STATIC, ISTART=0, SYSTEM="hse-bands WO3"),
        _band_kpoints(False),
    )
    assert run_mock(tmp_path).returncode == 0, (tmp_path / "vasp.out").read_text()[-1500:]
    v = Vasprun(tmp_path / "vasprun.xml", parse_projected_eigen=True)
    bs = v.get_band_structure(str(tmp_path / "KPOINTS"), line_mode=True)
    assert len(bs.kpoints) == 5 and {"\\Gamma", "X", "S"} <= set(bs.labels_dict)
    assert np.isfinite(bs.get_band_gap()["energy"])


def test_duplicate_kpoints_in_hybrid_list_fail(tmp_path):
    write_inputs(tmp_path, bulk_structure(), dict(HYBRID_STATIC, ISTART=0), _band_kpoints(True))
    assert run_mock(tmp_path).returncode != 0
    assert "IBZKPT_HF: two k-points are equivalent" in (tmp_path / "vasp.out").read_text()


def test_tetrahedra_with_explicit_list_fail(tmp_path):
    write_inputs(tmp_path, bulk_structure(), dict(HYBRID_STATIC, ISTART=0, ISMEAR=-5), _band_kpoints(False))
    assert run_mock(tmp_path).returncode != 0
    assert "Tetrahedron method fails" in (tmp_path / "vasp.out").read_text()
