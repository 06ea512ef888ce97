"""gzip_outputs: multi-member gzip files (pigz's layout) that every reader dftflow and its users use reads
as the original bytes, and a stored run whose bulky outputs are replaced only once their copy is complete."""

from __future__ import annotations

import gzip
import subprocess
import warnings
import zlib

import numpy as np
from monty.io import zopen
from pymatgen.io.vasp import Vasprun

from dftflow import fileio
from dftflow.fileio import gzip_file, gzip_outputs
from dftflow.vasp.vasprun_fast import FastVasprun
from tests.conftest import REAL_VASP

CEO2 = REAL_VASP / "CeO2_hse06" / "vasprun.xml.gz"


def _members(path) -> int:
    """Number of gzip members: each starts with the magic bytes and ends where the next one starts."""
    data = path.read_bytes()
    count, rest = 0, data
    while rest:
        assert rest[:2] == b"\x1f\x8b", "a member does not start with the gzip magic"
        decomp = zlib.decompressobj(31)
        decomp.decompress(rest)
        rest = decomp.unused_data
        count += 1
    return count


def test_many_members_read_back_as_the_original_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "GZIP_MEMBER", 4096)
    original = gzip.decompress(CEO2.read_bytes())
    source = tmp_path / "vasprun.xml"
    source.write_bytes(original)
    target = gzip_file(source, tmp_path / "vasprun.xml.gz", threads=2)
    assert _members(target) == -(-len(original) // 4096) > 100
    assert gzip.decompress(target.read_bytes()) == original
    with zopen(target, "rb") as fh:  # pymatgen's reader
        assert fh.read() == original
    zcat = subprocess.run(["gzip", "-dc", str(target)], capture_output=True, check=True)
    assert zcat.stdout == original


def test_fast_reader_and_pymatgen_parse_the_multi_member_file_like_the_original(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "GZIP_MEMBER", 64 * 1024)
    source = tmp_path / "vasprun.xml"
    source.write_bytes(gzip.decompress(CEO2.read_bytes()))
    target = gzip_file(source, tmp_path / "vasprun.xml.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = FastVasprun(target, projections="full")
        reference = Vasprun(str(CEO2), parse_projected_eigen=True, parse_potcar_file=False)
    assert fast.final_energy == reference.final_energy
    for spin, values in reference.eigenvalues.items():
        assert np.array_equal(fast.eigenvalues[spin], values)
    for spin, values in reference.projected_eigenvalues.items():
        assert np.array_equal(fast.projected_eigenvalues[spin], values)


def test_empty_file_is_one_empty_member(tmp_path):
    source = tmp_path / "EIGENVAL"
    source.write_bytes(b"")
    target = gzip_file(source, tmp_path / "EIGENVAL.gz")
    assert gzip.decompress(target.read_bytes()) == b""


def test_outputs_are_replaced_by_their_gz_and_the_rest_kept(tmp_path):
    (tmp_path / "OUTCAR").write_text("OUTCAR text\n" * 1000)
    (tmp_path / "CONTCAR").write_text("kept plain: the next calculation starts from it\n")
    done = gzip_outputs(tmp_path)
    assert [p.name for p in done] == ["OUTCAR.gz"]
    assert not (tmp_path / "OUTCAR").exists()
    assert (tmp_path / "CONTCAR").exists()
    assert gzip.open(tmp_path / "OUTCAR.gz", "rt").read() == "OUTCAR text\n" * 1000
    assert not list(tmp_path.glob(".*.tmp"))
