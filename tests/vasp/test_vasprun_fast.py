"""The fast vasprun.xml reader against pymatgen's Vasprun on real VASP outputs (tests/data/real_vasp).

Reference: Vasprun(parse_projected_eigen=True, parse_potcar_file=False), what dftflow used before.
Numbers are compared exactly (np.array_equal / ==): both read the same decimal text into float64.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from pymatgen.electronic_structure.core import Spin
from pymatgen.io.vasp import Vasprun
from pymatgen.io.vasp.outputs import UnconvergedVASPWarning

from dftflow.errors import InputError
from dftflow.vasp import outputs, run_arrays, vasprun_arrays, vasprun_fast, vasprun_numbers
from dftflow.vasp.vasprun_fast import FastVasprun, VasprunCorruptedError, read_vasprun

REAL = Path(__file__).resolve().parents[1] / "data" / "real_vasp"
FILES = sorted(REAL.glob("**/vasprun.xml.gz"))
IDS = [str(f.parent.relative_to(REAL)) for f in FILES]
CEO2 = REAL / "CeO2_hse06" / "vasprun.xml.gz"  # HSE, ISPIN 2, f-orbital projections: every block
BANDS = REAL / "Cs2SnI6_hse_bands"


def _quiet(factory, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unconverged-run and CIF warnings
        return factory(*args, **kwargs)


_cache: dict = {}


def _read(path, kind):
    """Parsed once per session: kind is 'pymatgen' or a projections mode of FastVasprun."""
    key = (str(path), kind)
    if key not in _cache:
        if kind == "pymatgen":
            _cache[key] = _quiet(Vasprun, str(path), parse_projected_eigen=True, parse_potcar_file=False)
        else:
            _cache[key] = _quiet(FastVasprun, path, projections=None if kind == "none" else kind)
    return _cache[key]


def _spins(v):
    return [Spin.up, Spin.down] if v.is_spin else [Spin.up]


def _assert_same_structure(a, b):
    assert a.species == b.species
    assert np.array_equal(a.lattice.matrix, b.lattice.matrix)
    assert np.array_equal(a.frac_coords, b.frac_coords)
    assert a.site_properties.keys() == b.site_properties.keys()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_header_steps_and_scalars_match_pymatgen(path):
    ref, fast = _read(path, "pymatgen"), _read(path, "atom")
    assert isinstance(fast, Vasprun)
    assert fast.generator == ref.generator
    assert fast.incar == ref.incar and type(fast.incar) is type(ref.incar)
    assert fast.parameters == ref.parameters
    assert {k: type(v) for k, v in fast.parameters.items()} == {k: type(v) for k, v in ref.parameters.items()}
    assert fast.potcar_symbols == ref.potcar_symbols and fast.atomic_symbols == ref.atomic_symbols
    assert fast.is_spin == ref.is_spin and fast.run_type == ref.run_type
    _assert_same_structure(fast.initial_structure, ref.initial_structure)
    _assert_same_structure(fast.final_structure, ref.final_structure)
    assert fast.actual_kpoints == ref.actual_kpoints
    assert fast.actual_kpoints_weights == ref.actual_kpoints_weights
    assert fast.final_energy == ref.final_energy and fast.efermi == ref.efermi
    assert (fast.converged_electronic, fast.converged_ionic, fast.converged) == (
        ref.converged_electronic,
        ref.converged_ionic,
        ref.converged,
    )
    assert fast.nionic_steps == ref.nionic_steps and len(fast.ionic_steps) == len(ref.ionic_steps)
    for mine, theirs in zip(fast.ionic_steps, ref.ionic_steps, strict=True):
        assert mine.keys() == theirs.keys()
        for key in ("e_fr_energy", "e_wo_entrp", "e_0_energy", "electronic_steps"):
            assert mine[key] == theirs[key]
        for key in ("forces", "stress"):  # Cs2SnI6: VASP wrote '*****' forces, nan for both
            assert np.array_equal(mine[key], theirs[key], equal_nan=True)
        _assert_same_structure(mine["structure"], theirs["structure"])


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_eigenvalues_and_band_edges_match_pymatgen(path):
    ref = _read(path, "pymatgen")
    for kind in ("atom", "full", "none"):
        fast = _read(path, kind)
        assert fast.eigenvalues.keys() == ref.eigenvalues.keys()
        for spin, eig in ref.eigenvalues.items():
            assert fast.eigenvalues[spin].shape == eig.shape == (len(ref.actual_kpoints), ref.parameters["NBANDS"], 2)
            assert np.array_equal(fast.eigenvalues[spin], eig)  # energies and occupations
        gap, cbm, vbm, direct = fast.eigenvalue_band_properties
        assert (gap, cbm, vbm, direct) == ref.eigenvalue_band_properties
        assert outputs.band_edges(fast) == outputs.band_edges(ref)  # what dftflow reports


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_dos_matches_pymatgen(path):
    ref, fast = _read(path, "pymatgen"), _read(path, "atom")
    assert fast.tdos.efermi == ref.tdos.efermi
    for mine, theirs in ((fast.tdos, ref.tdos), (fast.idos, ref.idos)):
        assert np.array_equal(mine.energies, theirs.energies)
        assert mine.densities.keys() == theirs.densities.keys()
        assert all(np.array_equal(mine.densities[s], theirs.densities[s]) for s in theirs.densities)
    mine, theirs = fast.complete_dos, ref.complete_dos
    assert len(mine.pdos) == len(theirs.pdos) > 0
    for site, orbitals in theirs.pdos.items():
        assert mine.pdos[site].keys() == orbitals.keys()
        for orbital, by_spin in orbitals.items():
            assert all(np.array_equal(mine.pdos[site][orbital][s], by_spin[s]) for s in by_spin)
    for element in theirs.structure.composition.elements:  # the element/orbital sums dftflow stores
        a, b = mine.get_element_spd_dos(element), theirs.get_element_spd_dos(element)
        assert a.keys() == b.keys()
        assert all(np.array_equal(a[o].densities[s], b[o].densities[s]) for o in b for s in b[o].densities)
    assert mine.get_gap() == theirs.get_gap() and mine.get_cbm_vbm() == theirs.get_cbm_vbm()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_projections_match_pymatgen(path):
    ref = _read(path, "pymatgen")
    natoms, norb = len(ref.atomic_symbols), ref.projected_eigenvalues[Spin.up].shape[3]
    full, atom, none = _read(path, "full"), _read(path, "atom"), _read(path, "none")
    assert full.projected_eigenvalues.keys() == ref.projected_eigenvalues.keys()
    for spin, proj in ref.projected_eigenvalues.items():
        assert np.array_equal(full.projected_eigenvalues[spin], proj)
    per_atom = np.array([ref.projected_eigenvalues[s].sum(axis=3) for s in _spins(ref)])  # as run_arrays.run_arrays
    assert atom.atom_projections.shape == (len(_spins(ref)), len(ref.actual_kpoints), ref.parameters["NBANDS"], natoms)
    assert atom.atom_projections.dtype == np.float64
    assert np.array_equal(atom.atom_projections, per_atom) and np.array_equal(full.atom_projections, per_atom)
    assert atom.projected_eigenvalues is None and len(atom.projection_orbitals) == norb
    assert none.projected_eigenvalues is None and none.atom_projections is None
    by_l = _read(path, "l")  # sums by l while reading: as numpy sums pymatgen's projections, bit for bit
    assert by_l.projected_eigenvalues is None and by_l.atom_projections.tobytes() == per_atom.tobytes()
    columns = vasprun_numbers.l_columns(norb)
    expected = np.array([np.stack([ref.projected_eigenvalues[s][..., c].sum(axis=-1) for c in columns], axis=-1)
                         for s in _spins(ref)])  # fmt: skip
    assert by_l.l_projections.shape == expected.shape and by_l.l_projections.tobytes() == expected.tobytes()


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_run_arrays_of_dftflow_are_unchanged(path):
    """dftflow's run_arrays.run_arrays from a FastVasprun gives the blobs it gave from pymatgen's Vasprun and
    CompleteDos (the element/orbital sums by CompleteDos.get_element_spd_dos, as dftflow computed them)."""
    directory = path.parent
    ref, fast = _read(path, "pymatgen"), _read(path, "l")  # as outputs.load_vasprun reads it
    a, b = run_arrays.run_arrays(fast, directory), run_arrays.run_arrays(ref, directory)
    spins = _spins(ref)
    dos = ref.complete_dos
    expected = {"energies": np.array(dos.energies), "total": np.array([dos.densities[s] for s in spins])}
    for element in dos.structure.composition.elements:
        for orbital, part in dos.get_element_spd_dos(element).items():
            expected[f"{element.symbol}_{orbital.name}"] = np.array([part.densities[s] for s in spins])
    assert a.keys() == b.keys() == {"eigenvalues", "dos", "projections"}
    assert list(a["dos"]["arrays"]) == [*expected, "pdos"] and a["dos"]["meta"]["efermi"] == dos.efermi
    assert all(a["dos"]["arrays"][k].tobytes() == v.tobytes() for k, v in expected.items())  # bit for bit
    orbitals = list(next(iter(dos.pdos.values())))  # per site and orbital: what rebuilds the CompleteDos
    assert a["dos"]["meta"]["orbitals"] == [o.name for o in orbitals]
    per_site = np.array([[[dos.pdos[site][o][s] for s in spins] for o in orbitals] for site in dos.structure])
    assert np.array_equal(a["dos"]["arrays"]["pdos"], per_site)
    for name in b:
        assert a[name]["arrays"].keys() == b[name]["arrays"].keys()
        assert all(np.array_equal(a[name]["arrays"][k], b[name]["arrays"][k]) for k in b[name]["arrays"])
        assert a[name]["meta"].keys() == b[name]["meta"].keys()


@pytest.mark.parametrize("explicit", [False, True])
def test_hybrid_zero_weight_band_structure_matches_pymatgen(explicit):
    """Cs2SnI6: 36 weighted + 60 zero-weight k-points; pymatgen's own line-mode code does the work."""
    kwargs = {"kpoints_filename": str(BANDS / "KPOINTS.gz")} if explicit else {}
    ref, fast = _read(BANDS / "vasprun.xml.gz", "pymatgen"), _read(BANDS / "vasprun.xml.gz", "atom")
    bs_ref, bs = ref.get_band_structure(line_mode=True, **kwargs), fast.get_band_structure(line_mode=True, **kwargs)
    assert type(bs) is type(bs_ref) and type(bs).__name__ == "BandStructureSymmLine"
    assert len(bs.kpoints) == 60
    assert [k.label for k in bs.kpoints] == [k.label for k in bs_ref.kpoints]
    assert set(bs.labels_dict) == set(bs_ref.labels_dict) == {"\\Gamma", "L", "W"}
    assert bs.branches == bs_ref.branches
    assert bs.get_band_gap() == bs_ref.get_band_gap()
    assert bs.is_metal() == bs_ref.is_metal() and bs.efermi == bs_ref.efermi
    assert all(np.array_equal(bs.bands[s], bs_ref.bands[s]) for s in bs_ref.bands)


def test_small_chunks_and_the_loadtxt_path_give_the_same_numbers(monkeypatch):
    """Every buffer boundary case (tiny reads and sub-blocks, one thread), and every block read by
    numpy.loadtxt instead of the fixed-width conversion."""
    ref = _read(CEO2, "pymatgen")
    monkeypatch.setattr(vasprun_arrays, "CHUNK", 4099)
    monkeypatch.setattr(vasprun_numbers, "SUB_ROWS", 7)
    monkeypatch.setattr(vasprun_fast, "MAX_THREADS", 1)
    small = _quiet(FastVasprun, CEO2, projections="full")
    monkeypatch.undo()
    monkeypatch.setattr(vasprun_arrays, "fixed_width_rows", lambda *args: None)
    loadtxt = _quiet(FastVasprun, CEO2, projections="full")
    for fast in (small, loadtxt):
        for spin in _spins(ref):
            assert np.array_equal(fast.eigenvalues[spin], ref.eigenvalues[spin])
            assert np.array_equal(fast.projected_eigenvalues[spin], ref.projected_eigenvalues[spin])
            assert np.array_equal(fast.tdos.densities[spin], ref.tdos.densities[spin])
        assert all(np.array_equal(fast.pdos[i][o][s], p[o][s]) for i, p in enumerate(ref.pdos) for o in p for s in p[o])


ROWS = b'  <set comment="band 1">\n   <r>  0.2275 10.0001  0.0000 </r>\n   <r> 99.9999  0.0010  1.5000 </r>\n'
ROWS += b"  </set>\n"  # <projected>'s layout (f8.4)
SIGNED = b"  <set>\n   <r>   -69.0000     0.0000 </r>\n   <r>    -0.0000    12.3456 </r>\n"
SIGNED += b"   <r>     1.5000    -9.1000 </r>\n"  # <dos>'s layout (f11.4)


def test_fixed_width_rows_are_read_exactly_as_float_reads_them():
    five = b"   <r>   0.22750  -2.00001 </r>\n   <r>  -0.00000  13.14159 </r>\n"  # 5 decimals (f10.5)
    more = (SIGNED.replace(b"     1.5000", b"    -1.5000"), ROWS.replace(b"<r>  0.2275", b"<r> -0.2275"), five)
    for text in (ROWS, SIGNED, *more):
        ncols = 3 if text.startswith(b"  <set comment") else 2
        values = vasprun_numbers.fixed_width_rows(text, ncols)
        expected = [[float(t) for t in line.split(b"<r>")[1].split(b"</r>")[0].split()] for line in
                    text.splitlines() if b"<r>" in line]  # fmt: skip
        assert values is not None and values.dtype == np.float64
        assert values.tobytes() == np.array(expected).tobytes()  # bit for bit, -0.0 included
        sums = vasprun_numbers.fixed_width_rows(text, ncols, (tuple(range(ncols)),))
        assert sums.tobytes() == np.array(expected).sum(axis=1).tobytes()
    assert np.signbit(vasprun_numbers.fixed_width_rows(SIGNED, 2)[1, 0])


@pytest.mark.parametrize(
    "bad",
    [b" -0.0010", b"********", b"  0.1E+1", b"  0.12 4", b"  x.1234", b"   .1234", b"0.123456", b"x 0.1234",
     b"+10.1234", b":10.1234", b"1 0.1234", b" x0.1234", b"#10.1234", b"  0,2275", b"--0.1234", b"-  .1234",
     b"999.9999", b" -0-1234", b"  0.22-5"],
)  # fmt: skip
def test_fixed_width_rows_refuse_what_float_would_read_differently(bad):
    """Anything but blanks, an optional '-' before the digits, digits and the point where the first row
    has it makes the fast path give up (numpy.loadtxt then reads or refuses the piece)."""
    text = ROWS.replace(b"  0.2275", bad)
    values = vasprun_numbers.fixed_width_rows(text, 3)
    if bad == b" -0.0010":  # well-formed: read as float() reads it
        assert values[0, 0] == -0.001
    else:
        assert values is None, bad
    signed = vasprun_numbers.fixed_width_rows(SIGNED.replace(b"    -0.0000", b"   " + bad), 2)  # an f11.4 field
    if bad in (b" -0.0010", b"999.9999"):  # well-formed there
        assert signed[1, 0] == float(bad)
    else:
        assert signed is None, bad


@pytest.mark.parametrize("ncols", [1, 3, 7, 8, 9, 16, 17, 130])
def test_row_sums_are_numpys_sums_bit_for_bit(ncols):
    rng = np.random.default_rng(ncols)
    rows = np.round(rng.random((999, ncols)) * 10.0 ** rng.integers(-3, 3, (999, ncols)), 4)
    rows[rng.random(rows.shape) < 0.3] = -0.0
    rows[::5] = -0.0
    assert vasprun_numbers.row_sums(rows, np.empty(999)).tobytes() == rows.sum(axis=1).tobytes()


def test_fixed_width_rows_refuse_irregular_lines():
    assert vasprun_numbers.fixed_width_rows(ROWS.replace(b"<r>  0.2275", b"<r>   0.2275"), 3) is None  # ragged
    assert vasprun_numbers.fixed_width_rows(ROWS.replace(b" </r>", b"  1.0000 </r>"), 3) is None  # 4 fields
    assert vasprun_numbers.fixed_width_rows(ROWS.replace(b"   <r> 99", b"   <x> 99"), 3) is None  # not a row
    assert vasprun_numbers.fixed_width_rows(SIGNED.replace(b"   -69.0000", b"  -169.0000"), 2) is None  # >= 100
    assert vasprun_numbers.fixed_width_rows(ROWS + b"   <r>  0.1000  0.2000  0.3000 </r> \n", 3) is None


@pytest.mark.parametrize("threads", [1, 2])
def test_plain_files_in_small_pieces_match_pymatgen(tmp_path, monkeypatch, ceo2_text, threads):
    """An uncompressed file: its pieces are converted straight into the block arrays, by 1 or 2 threads."""
    ref = _read(CEO2, "pymatgen")
    path = _write(tmp_path, ceo2_text)
    monkeypatch.setattr(vasprun_arrays, "CHUNK", 50_001)
    monkeypatch.setattr(vasprun_numbers, "SUB_ROWS", 333)
    monkeypatch.setattr(vasprun_fast, "MAX_THREADS", threads)
    fast = _quiet(FastVasprun, path, projections="full")
    for spin in _spins(ref):
        assert np.array_equal(fast.eigenvalues[spin], ref.eigenvalues[spin])
        assert np.array_equal(fast.projected_eigenvalues[spin], ref.projected_eigenvalues[spin])
        assert np.array_equal(fast.tdos.densities[spin], ref.tdos.densities[spin])
    assert all(np.array_equal(fast.pdos[i][o][s], p[o][s]) for i, p in enumerate(ref.pdos) for o in p for s in p[o])
    assert np.array_equal(_quiet(FastVasprun, path).atom_projections, _read(CEO2, "atom").atom_projections)


@pytest.fixture(scope="module")
def ceo2_text():
    return gzip.decompress(CEO2.read_bytes())


def _write(tmp_path, data: bytes, name="vasprun.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("what", ["overflow", "negative"])
def test_odd_numbers_are_read_as_pymatgen_reads_them(tmp_path, ceo2_text, what):
    """VASP's '********' overflow becomes nan (pymatgen's rule); a negative projection leaves the SWAR path."""
    start = ceo2_text.index(b'<set comment="spin1">')
    row = ceo2_text.index(b"<r>  0.0000", start)
    text = ceo2_text[:row] + (b"<r>********" if what == "overflow" else b"<r> -0.0003") + ceo2_text[row + 11 :]
    path = _write(tmp_path, text)
    ref = _quiet(Vasprun, str(path), parse_projected_eigen=True, parse_potcar_file=False)
    fast = _quiet(FastVasprun, path, projections="full")
    for spin in _spins(ref):
        assert np.array_equal(fast.projected_eigenvalues[spin], ref.projected_eigenvalues[spin], equal_nan=True)
    assert np.isnan(fast.projected_eigenvalues[Spin.up]).sum() == (what == "overflow")


def _cut_points(text: bytes) -> dict[str, int]:
    proj = text.index(b"<projected>")
    array = text.index(b'<set comment="spin1">')
    return {
        "header": 3000,
        "parameters": text.index(b"<parameters>") + 200,
        "scstep": text.index(b"<scstep>") + 100,
        "eigenvalues": text.index(b"<eigenvalues>") + 2000,
        "dos total": text.index(b"<total>") + 1000,
        "dos partial": text.index(b"<partial>") + 20000,
        "projected eigenvalues": proj + 3000,
        "projected rows, mid-number": array + 100_000 + 5,
        "projected rows, line end": text.index(b"\n", array + 2_000_000) + 1,
        "projected end tag": text.index(b"</projected>") + 5,
        "final structure": text.index(b'name="finalpos"') + 300,
        "last bytes": len(text) - 5,
    }


@pytest.mark.parametrize("projections", ["atom", None])
def test_truncated_files_raise_a_clear_error(tmp_path, ceo2_text, projections):
    for where, cut in _cut_points(ceo2_text).items():
        path = _write(tmp_path, ceo2_text[:cut])
        with pytest.raises(VasprunCorruptedError, match="incomplete or corrupted") as info:
            FastVasprun(path, projections=projections)
        assert isinstance(info.value, InputError), where  # the CLI's exit code 2
        assert str(path) in str(info.value)


def test_truncated_gzip_and_corrupted_rows_raise_a_clear_error(tmp_path, ceo2_text):
    gz = gzip.compress(ceo2_text)
    cases = {
        "vasprun.xml.gz": gz[: len(gz) // 2],  # compressed stream cut
        "missing_row.xml": ceo2_text.replace(b"<r>  0.2275", b"<rX>", 1).replace(b"<rX>", b"", 1),
        "lost_row.xml": _drop_line(ceo2_text, ceo2_text.index(b"<r>", ceo2_text.index(b'<set comment="spin2">'))),
        "garbage.xml": ceo2_text.replace(b"<r>  0.2275", b"<r>  0.2x75", 1),
        "garbage_dos.xml": ceo2_text.replace(b"<r>   -36.4286", b"<r>   -36.4y86", 1),
        "wrong_width.xml": ceo2_text.replace(b"<r>  -31.0448    1.0000 </r>", b"<r>  -31.0448 </r>", 1),
    }
    for name, data in cases.items():
        path = _write(tmp_path, data, name)
        with pytest.raises(VasprunCorruptedError, match="incomplete or corrupted") as info:
            _quiet(FastVasprun, path)
        if name == "lost_row.xml":
            assert "do not fit the header" in str(info.value)


def _drop_line(text: bytes, at: int) -> bytes:
    return text[: text.rindex(b"\n", 0, at) + 1] + text[text.index(b"\n", at) + 1 :]


def test_api_details(tmp_path):
    with pytest.raises(ValueError, match="projections"):
        FastVasprun(CEO2, projections="orbital")
    with pytest.raises(FileNotFoundError):
        FastVasprun(tmp_path / "vasprun.xml")
    plain = tmp_path / "vasprun.xml"
    with gzip.open(CEO2) as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    fast = _quiet(read_vasprun, plain, projections="atom")
    assert np.array_equal(fast.atom_projections, _read(CEO2, "atom").atom_projections)
    assert fast.projection_orbitals[:4] == ["s", "py", "pz", "px"]
    with pytest.warns(UnconvergedVASPWarning, match="unconverged"):  # as pymatgen: CeO2 stopped at NELM
        FastVasprun(plain)
