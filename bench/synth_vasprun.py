"""Write a SYNTHETIC vasprun.xml with the shape of a 256-atom WO3 hybrid static with LORBIT = 11.

Only for benchmarking the parsers while mock-vasp cannot yet write the real benchmark input: the
numbers are made up (sorted random eigenvalues with a gap, Gaussian-broadened DOS, random sparse
projections), the layout is VASP's (tags, nesting, set comments, fixed-width number formats as in
VASP 5.4/6 files). Default shape: 2x2x2 supercell of structures/WO3_P21n.cif (256 atoms), 8 k-points
(Gamma 2x2x2, ISYM = 0), 1228 bands, ISPIN = 2, NEDOS = 3001, 9 lm-orbitals: ~620 MB.

    python bench/synth_vasprun.py OUT.xml [--supercell 2 2 2] [--nbands 1228] [--kmesh 2 2 2] [--check]

--check parses the result with pymatgen's Vasprun (slow for the full size) to validate the format.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ORBITALS = ["s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2"]


def fixed(values: np.ndarray, width: int, prefix: bytes, suffix: bytes) -> np.ndarray:
    """Rows of '%{width}.4f' numbers as a uint8 array (rows, line length), like Fortran F{width}.4."""
    q = np.rint(np.asarray(values, dtype=float) * 1e4).astype(np.int64)
    n, m = q.shape
    a, neg = np.abs(q), q < 0
    ip, fp = a // 10000, a % 10000
    out = np.full((n, m, width), ord(" "), dtype=np.uint8)
    for d in range(4):
        out[:, :, width - 1 - d] = ord("0") + (fp // 10**d) % 10
    out[:, :, width - 5] = ord(".")
    ndig = np.ones_like(ip)
    for d in range(width - 6):
        present = (ip >= 10**d) | (d == 0)
        out[:, :, width - 6 - d] = np.where(present, ord("0") + (ip // 10**d) % 10, out[:, :, width - 6 - d])
        ndig = np.where(present, d + 1, ndig)
    if (ip >= 10 ** (width - 7)).any():
        raise ValueError(f"value too large for width {width}")
    rows, cols = np.nonzero(neg)
    out[rows, cols, width - 6 - ndig[rows, cols]] = ord("-")
    pre = np.frombuffer(prefix, dtype=np.uint8)
    post = np.frombuffer(suffix + b"\n", dtype=np.uint8)
    return np.concatenate([np.broadcast_to(pre, (n, len(pre))), out.reshape(n, m * width),
                           np.broadcast_to(post, (n, len(post)))], axis=1)  # fmt: skip


def structure(supercell):
    import warnings

    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CIF has no formula keys; pymatgen warns about it
        s = Structure.from_file(ROOT / "structures" / "WO3_P21n.cif")
    s.make_supercell(supercell)
    return s.get_sorted_structure(key=lambda site: site.specie.symbol != "W")  # W first, then O


def header(s, kpts, nbands: int, nedos: int, nelect: float) -> str:
    species = [sp.symbol for sp in s.composition.elements]
    counts = [int(s.composition[sp]) for sp in species]
    titel = {"W": "PAW_PBE W_sv 04Sep2015", "O": "PAW_PBE O 08Apr2002"}
    zval = {"W": 14.0, "O": 6.0}
    mass = {"W": 183.85, "O": 16.0}
    i = lambda name, val, typ=None: f'  <i{f" type={chr(34)}{typ}{chr(34)}" if typ else ""} name="{name}">{val}</i>\n'  # noqa: E731
    incar = (i("SYSTEM", "WO3 2x2x2 synthetic", "string") + i("ISPIN", "     2", "int") + i("LORBIT", "    11", "int")
             + i("NEDOS", f"{nedos:6d}", "int") + i("ISYM", "     0", "int") + i("NELECT", f"{nelect:16.8f}")
             + i("NBANDS", f"{nbands:6d}", "int") + i("LHFCALC", " T  ", "logical") + i("AEXX", "      0.28000000")
             + i("HFSCREEN", "      0.20000000") + i("GGA", "PE", "string") + i("ENCUT", "    520.00000000")
             + i("ISMEAR", "     0", "int") + i("SIGMA", "      0.05000000") + i("NSW", "     0", "int")
             + i("IBRION", "    -1", "int") + i("EDIFF", "      0.00000100"))  # fmt: skip
    params = (i("NELM", "    60", "int") + i("NBANDS", f"{nbands:6d}", "int") + i("NELECT", f"{nelect:16.8f}")
              + i("ISPIN", "     2", "int") + i("LNONCOLLINEAR", " F  ", "logical") + i("LSORBIT", " F  ", "logical")
              + i("ENMAX", "    520.00000000") + i("EDIFF", "      0.00000100") + i("ISMEAR", "     0", "int")
              + i("SIGMA", "      0.05000000") + i("NSW", "     0", "int") + i("IBRION", "    -1", "int")
              + i("ISIF", "     2", "int") + i("EDIFFG", "      0.00001000") + i("NEDOS", f"{nedos:6d}", "int")
              + i("LORBIT", "    11", "int") + i("GGA", "PE", "string") + i("LHFCALC", " T  ", "logical")
              + i("AEXX", "      0.28000000") + i("AGGAX", "      0.72000000") + i("HFSCREEN", "      0.20000000")
              + i("LDAU", " F  ", "logical") + i("ISYM", "     0", "int"))  # fmt: skip
    atoms = "".join(f"    <rc><c>{site.specie.symbol:2s}</c><c>{species.index(site.specie.symbol) + 1:4d}</c></rc>\n"
                    for site in s)  # fmt: skip
    types = "".join(f"    <rc><c>{n:4d}</c><c>{e:2s}</c><c>{mass[e]:16.8f}</c><c>{zval[e]:16.8f}</c>"
                    f"<c>  {titel[e]}                   </c></rc>\n"
                    for e, n in zip(species, counts, strict=True))  # fmt: skip
    kl = "".join(f"    <v>{k[0]:16.8f}{k[1]:16.8f}{k[2]:16.8f} </v>\n" for k in kpts)
    kw = "".join(f"    <v>{1 / len(kpts):16.8f} </v>\n" for _ in kpts)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n <generator>\n'
        '  <i name="program" type="string">vasp </i>\n'
        '  <i name="version" type="string">6.4.2 synthetic-benchmark-file (not VASP output) </i>\n'
        '  <i name="subversion" type="string">(build Jan 01 2025) complex parallel </i>\n'
        '  <i name="platform" type="string">synthetic </i>\n  <i name="date" type="string">2025 01 01 </i>\n'
        '  <i name="time" type="string">00:00:00 </i>\n </generator>\n'
        f" <incar>\n{incar} </incar>\n"
        ' <kpoints>\n  <generation param="Gamma">\n   <v type="int" name="divisions">       2        2        2 </v>\n'
        '   <v name="usershift">      0.00000000      0.00000000      0.00000000 </v>\n  </generation>\n'
        f'  <varray name="kpointlist" >\n{kl}  </varray>\n  <varray name="weights" >\n{kw}  </varray>\n </kpoints>\n'
        f' <parameters>\n  <separator name="general" >\n{params}  </separator>\n </parameters>\n'
        f" <atominfo>\n  <atoms>{len(s):8d} </atoms>\n  <types>{len(species):8d} </types>\n"
        '  <array name="atoms" >\n   <dimension dim="1">ion</dimension>\n   <field type="string">element</field>\n'
        f'   <field type="int">atomtype</field>\n   <set>\n{atoms}   </set>\n  </array>\n'
        '  <array name="atomtypes" >\n   <dimension dim="1">type</dimension>\n'
        '   <field type="int">atomspertype</field>\n   <field type="string">element</field>\n   <field>mass</field>\n'
        '   <field>valence</field>\n   <field type="string">pseudopotential</field>\n'
        f"   <set>\n{types}   </set>\n  </array>\n </atominfo>\n"
        f"{struct_xml(s, 'initialpos')}"
    )


def struct_xml(s, name: str | None) -> str:
    v = lambda rows: "".join(f"    <v>{r[0]:16.8f}{r[1]:16.8f}{r[2]:16.8f} </v>\n" for r in rows)  # noqa: E731
    attr = f' name="{name}" ' if name else ""
    return (f" <structure{attr}>\n  <crystal>\n   <varray name=\"basis\" >\n{v(s.lattice.matrix)}   </varray>\n"
            f'   <i name="volume">{s.volume:16.8f} </i>\n   <varray name="rec_basis" >\n'
            f"{v(s.lattice.reciprocal_lattice_crystallographic.matrix)}   </varray>\n  </crystal>\n"
            f'  <varray name="positions" >\n{v(s.frac_coords)}  </varray>\n </structure>\n')  # fmt: skip


def energy(e: float, indent: str = "  ") -> str:
    rows = [("alphaZ", 0.1), ("ewald", -5000.0), ("hartreedc", -3000.0), ("XCdc", 400.0), ("pawpsdc", 9000.0),
            ("pawaedc", -9500.0), ("eentropy", -0.0), ("bandstr", -2000.0), ("atom", 90000.0),
            ("e_fr_energy", e), ("e_wo_entrp", e), ("e_0_energy", e)]  # fmt: skip
    body = "".join(f'{indent} <i name="{n}"> {x:16.8f} </i>\n' for n, x in rows)
    return f"{indent}<energy>\n{body}{indent}</energy>\n"


def write(path: Path, supercell=(2, 2, 2), nbands: int = 1228, kmesh=(2, 2, 2), nedos: int = 3001, seed: int = 0):
    rng = np.random.default_rng(seed)
    s = structure(supercell)
    natoms, nspin, norb = len(s), 2, len(ORBITALS)
    nelect = 14.0 * s.composition["W"] + 6.0 * s.composition["O"]  # ZVAL of W_sv and O: 2048 for 256 atoms
    nocc = int(nelect // 2)
    kpts = [np.array(k) / np.array(kmesh) for k in itertools.product(*(range(n) for n in kmesh))]
    nk = len(kpts)
    # eigenvalues (spin, k, band): valence below 0 eV, conduction from 2.8 eV, sorted, weak k and spin dependence
    val = np.sort(rng.uniform(-22.0, 0.0, nocc))
    con = np.sort(rng.uniform(2.8, 18.0, nbands - nocc))
    bands = np.concatenate([val, con])
    eig = bands[None, None, :] + 0.05 * rng.standard_normal((nspin, nk, nbands))
    eig.sort(axis=2)
    occ = np.zeros_like(eig)
    occ[:, :, :nocc] = 1.0
    emin, emax = eig.min() - 2, eig.max() + 2
    grid = np.linspace(emin, emax, nedos)
    sigma = 0.05
    with open(path, "wb") as fh:
        fh.write(header(s, kpts, nbands, nedos, nelect).encode())
        fh.write(b" <calculation>\n")
        e0 = -7.1234 * natoms
        for step in range(18):
            e = e0 + 10.0 * 0.3**step
            step_xml = f'  <scstep>\n   <time name="total">  100.00  100.00</time>\n{energy(e, "   ")}  </scstep>\n'
            fh.write(step_xml.encode())
        forces = 0.01 * rng.standard_normal((natoms, 3))
        fh.write(struct_xml(s, None).encode())
        fh.write(b'  <varray name="forces" >\n')
        fh.write("".join(f"   <v>{f[0]:16.8f}{f[1]:16.8f}{f[2]:16.8f} </v>\n" for f in forces).encode())
        fh.write(b'  </varray>\n  <varray name="stress" >\n')
        fh.write("".join(f"   <v>{f[0]:16.8f}{f[1]:16.8f}{f[2]:16.8f} </v>\n" for f in 2 * np.eye(3)).encode())
        fh.write(f"  </varray>\n{energy(e0)}".encode())
        fh.write(b'  <time name="totalsc">  1800.00  1800.00</time>\n')
        eig_xml = eigenvalues_xml(eig, occ)
        fh.write(eig_xml)
        fh.write(b'  <separator name="orbital magnetization" >\n   <v name="MAGDIPOLOUT">      0.00000000      '
                 b"0.00000000      0.00000000</v>\n  </separator>\n")  # fmt: skip
        # DOS: Gaussian-broadened eigenvalues (zero in the gap), weights 1/nk per spin
        tdos = np.empty((nspin, nedos))
        for sp in range(nspin):
            hist = np.histogram(eig[sp].ravel(), bins=nedos, range=(emin, emax))[0] / nk
            half = min(200, (nedos - 1) // 2)
            kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * (grid[1] - grid[0]) / sigma) ** 2)
            tdos[sp] = np.convolve(hist, kernel / kernel.sum(), mode="same") / (grid[1] - grid[0])
        efermi = float(eig[:, :, nocc - 1].max() + 0.3)  # in the gap, as VASP puts it for an insulator
        fh.write(f'  <dos>\n   <i name="efermi">{efermi:16.8f} </i>\n   <total>\n    <array>\n'.encode())
        fh.write(b'     <dimension dim="1">gridpoints</dimension>\n     <dimension dim="2">spin</dimension>\n'
                 b"     <field>energy</field>\n     <field>total</field>\n     <field>integrated</field>\n"
                 b"     <set>\n")  # fmt: skip
        for sp in range(nspin):
            integ = np.cumsum(tdos[sp]) * (grid[1] - grid[0])
            rows = fixed(np.stack([grid, tdos[sp], integ], axis=1), 11, b"       <r>", b" </r>")
            fh.write(f'      <set comment="spin {sp + 1}">\n'.encode() + rows.tobytes() + b"      </set>\n")
        fh.write(b"     </set>\n    </array>\n   </total>\n   <partial>\n    <array>\n"
                 b'     <dimension dim="1">gridpoints</dimension>\n     <dimension dim="2">spin</dimension>\n'
                 b'     <dimension dim="3">ion</dimension>\n     <field>energy</field>\n')  # fmt: skip
        fh.write("".join(f"     <field>{o:>5s}</field>\n" for o in ORBITALS).encode() + b"     <set>\n")
        for at in range(natoms):
            fh.write(f'      <set comment="ion {at + 1}">\n'.encode())
            for sp in range(nspin):
                w = rng.dirichlet(np.ones(norb)) * rng.uniform(0.0, 4.0 / natoms)
                rows = fixed(np.column_stack([grid, np.outer(tdos[sp], w)]), 11, b"        <r>", b" </r>")
                fh.write(f'       <set comment="spin {sp + 1}">\n'.encode() + rows.tobytes() + b"       </set>\n")
            fh.write(b"      </set>\n")
        fh.write(b"     </set>\n    </array>\n   </partial>\n  </dos>\n")
        # projections: (spin, k, band, ion, orbital), mostly zero, sum over ions and orbitals <= 1
        fh.write(b"  <projected>\n" + eig_xml)
        fh.write(b'   <array>\n    <dimension dim="1">ion</dimension>\n    <dimension dim="2">band</dimension>\n'
                 b'    <dimension dim="3">kpoint</dimension>\n    <dimension dim="4">spin</dimension>\n')  # fmt: skip
        fh.write("".join(f"    <field>{o:>5s}</field>\n" for o in ORBITALS).encode() + b"    <set>\n")
        for sp in range(nspin):
            fh.write(f'     <set comment="spin{sp + 1}">\n'.encode())
            for k in range(nk):
                fh.write(f'      <set comment="kpoint {k + 1}">\n'.encode())
                p = rng.random((nbands * natoms, norb)) ** 6 * (rng.random((nbands * natoms, 1)) < 0.15) / 3
                lines = fixed(p, 8, b"        <r>", b" </r>")
                for b in range(nbands):
                    block = lines[b * natoms : (b + 1) * natoms].tobytes()
                    fh.write(f'       <set comment="band {b + 1}">\n'.encode() + block + b"       </set>\n")
                fh.write(b"      </set>\n")
            fh.write(b"     </set>\n")
        fh.write(b"    </set>\n   </array>\n  </projected>\n </calculation>\n")
        fh.write(struct_xml(s, "finalpos").encode() + b"</modeling>\n")


def eigenvalues_xml(eig: np.ndarray, occ: np.ndarray) -> bytes:
    out = [b'  <eigenvalues>\n   <array>\n    <dimension dim="1">band</dimension>\n'
           b'    <dimension dim="2">kpoint</dimension>\n    <dimension dim="3">spin</dimension>\n'
           b"    <field>eigene</field>\n    <field>occ</field>\n    <set>\n"]  # fmt: skip
    for sp in range(eig.shape[0]):
        out.append(f'     <set comment="spin {sp + 1}">\n'.encode())
        for k in range(eig.shape[1]):
            rows = fixed(np.stack([eig[sp, k], occ[sp, k]], axis=1), 10, b"       <r>", b" </r>")
            out.append(f'      <set comment="kpoint {k + 1}">\n'.encode() + rows.tobytes() + b"      </set>\n")
        out.append(b"     </set>\n")
    out.append(b"    </set>\n   </array>\n  </eigenvalues>\n")
    return b"".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--supercell", type=int, nargs=3, default=(2, 2, 2))
    ap.add_argument("--kmesh", type=int, nargs=3, default=(2, 2, 2))
    ap.add_argument("--nbands", type=int, default=1228)
    ap.add_argument("--nedos", type=int, default=3001)
    ap.add_argument("--check", action="store_true", help="parse the result with pymatgen's Vasprun")
    args = ap.parse_args(argv)
    write(args.out, tuple(args.supercell), args.nbands, tuple(args.kmesh), args.nedos)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, synthetic)")
    if args.check:
        from pymatgen.io.vasp import Vasprun

        v = Vasprun(str(args.out), parse_projected_eigen=True, parse_potcar_file=False)
        print("pymatgen: gap, cbm, vbm, direct =", v.eigenvalue_band_properties, "E =", v.final_energy,
              "projections", {str(k): a.shape for k, a in v.projected_eigenvalues.items()})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
