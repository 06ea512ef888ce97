"""vasprun.xml in VASP's layout, written as the run proceeds (a killed run leaves it truncated).

Order and names follow VASP 6 (checked against pymatgen 2026's parser): generator, incar, kpoints,
parameters (with every tag pymatgen reads, incl. NELM, LHFCALC, AEXX, HFSCREEN, GGA, LDAU), atominfo,
initialpos, one <calculation> per ionic step, eigenvalues/dos/projected in the last one, finalpos.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mock_vasp import MARK_SUBVERSION, VASP_VERSION
from mock_vasp.numformat import rows
from mock_vasp.reported_parameters import PARAMETER_LAYOUT


def _fmt_value(value) -> tuple[str, str, str]:
    """(tag, type attribute, text) of an INCAR value."""
    if isinstance(value, bool):
        return "i", ' type="logical"', " T  " if value else " F  "
    if isinstance(value, int):
        return "i", ' type="int"', f"{value:6d}"
    if isinstance(value, float):
        return "i", "", f"{value:16.8f}"
    if isinstance(value, list):
        if len(value) == 1 and not isinstance(value[0], float):
            return _fmt_value(value[0])
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return "v", ' type="int"', " ".join(f"{v:5d}" for v in value)
        return "v", "", " ".join(f"{float(v):15.8f}" for v in value)
    return "i", ' type="string"', str(value)


def _item(name: str, value, indent: str) -> str:
    tag, typ, text = _fmt_value(value)
    return f'{indent}<{tag}{typ} name="{name}">{text}</{tag}>\n'


def _structure_xml(lattice, frac, name: str | None, indent=" ", selective=None) -> str:
    vol = abs(np.linalg.det(lattice))
    rec = np.linalg.inv(lattice).T
    head = f'{indent}<structure name="{name}" >\n' if name else f"{indent}<structure>\n"
    out = [head, f"{indent} <crystal>\n", f'{indent}  <varray name="basis" >\n']
    out += [f"{indent}   <v>{a[0]:17.8f}{a[1]:17.8f}{a[2]:17.8f} </v>\n" for a in lattice]
    out += [
        f"{indent}  </varray>\n",
        f'{indent}  <i name="volume">{vol:17.8f} </i>\n',
        f'{indent}  <varray name="rec_basis" >\n',
    ]
    out += [f"{indent}   <v>{b[0]:17.8f}{b[1]:17.8f}{b[2]:17.8f} </v>\n" for b in rec]
    out += [f"{indent}  </varray>\n", f"{indent} </crystal>\n", f'{indent} <varray name="positions" >\n']
    out.append(rows(frac, 17, 8, f"{indent}  <v>".encode(), b" </v>\n").decode())
    out.append(f"{indent} </varray>\n")
    if selective is not None:
        out.append(f'{indent} <varray type="logical" name="selective" >\n')
        out += [
            f'{indent}  <v type="logical" >' + "".join(" T " if s else " F " for s in row) + " </v>\n"
            for row in selective
        ]
        out.append(f"{indent} </varray>\n")
    out.append(f"{indent}</structure>\n")
    return "".join(out)


class VasprunWriter:
    def __init__(self, path):
        self.fh = open(path, "wb")

    def write(self, text: str) -> None:
        self.fh.write(text.encode("ISO-8859-1", errors="replace"))
        self.fh.flush()

    def write_bytes(self, data: bytes) -> None:
        self.fh.write(data)

    def close(self) -> None:
        self.fh.close()

    # ------------------------------------------------------------------------- header
    def header(self, run) -> None:
        now = time.localtime()
        out = [
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n <generator>\n',
            '  <i name="program" type="string">vasp </i>\n',
            f'  <i name="version" type="string">{VASP_VERSION}  </i>\n',
            f'  <i name="subversion" type="string">{MARK_SUBVERSION} </i>\n',
            '  <i name="platform" type="string">mock_vasp </i>\n',
            f'  <i name="date" type="string">{time.strftime("%Y %m %d", now)} </i>\n',
            f'  <i name="time" type="string">{time.strftime("%H:%M:%S", now)} </i>\n',
            " </generator>\n <incar>\n",
        ]
        for k, v in run.incar.items():
            if k == "MAGMOM":  # VASP echoes it as an array whatever its length (pymatgen indexes it)
                v = [float(x) for x in run.magmom]
            out.append(_item(k, v, "  "))
        out.append(" </incar>\n")
        out.append(self._kpoints(run))
        out.append(self._parameters(run))
        out.append(self._atominfo(run))
        out.append(_structure_xml(run.lattice0, run.frac0, "initialpos", selective=run.poscar.selective))
        self.write("".join(out))

    def _kpoints(self, run) -> str:
        plan = run.kplan
        out = [" <kpoints>\n"]
        if plan.mode in ("gamma", "monkhorst"):
            mesh = np.array(plan.mesh)
            out.append(f'  <generation param="{plan.generation}">\n')
            out.append('   <v type="int" name="divisions">' + "".join(f"{n:9d}" for n in mesh) + " </v>\n")
            out.append('   <v name="usershift">' + "".join(f"{s:16.8f}" for s in plan.shift) + " </v>\n")
            for i in range(3):
                g = np.zeros(3)
                g[i] = 1.0 / mesh[i]
                out.append(f'   <v name="genvec{i + 1}">' + "".join(f"{x:16.8f}" for x in g) + " </v>\n")
            off = 0.5 * (np.array(plan.mesh) % 2 == 0) * (plan.mode == "monkhorst") + np.array(plan.shift)
            out.append('   <v name="shift">' + "".join(f"{x:16.8f}" for x in off) + " </v>\n")
            out.append("  </generation>\n")
        out.append('  <varray name="kpointlist" >\n')
        out.append(rows(plan.report.kpts, 17, 8, b"   <v>", b" </v>\n").decode())
        out.append('  </varray>\n  <varray name="weights" >\n')
        out.append(rows(plan.report.weights, 17, 8, b"   <v>", b" </v>\n").decode())
        out.append("  </varray>\n </kpoints>\n")
        return "".join(out)

    def _parameters(self, run) -> str:
        p = run.params_out
        out = [" <parameters>\n"]
        for section, names in PARAMETER_LAYOUT:
            out.append(f'  <separator name="{section}" >\n')
            for name in names:
                if name in p:
                    out.append(_item(name, p[name], "   "))
            out.append("  </separator>\n")
        out.append(" </parameters>\n")
        return "".join(out)

    def _atominfo(self, run) -> str:
        species = run.atom_species
        types = run.poscar.species
        type_of = {s: i + 1 for i, s in enumerate(types)}
        out = [
            " <atominfo>\n",
            f"  <atoms>{len(species):8d} </atoms>\n",
            f"  <types>{len(types):8d} </types>\n",
            '  <array name="atoms" >\n   <dimension dim="1">ion</dimension>\n',
            '   <field type="string">element</field>\n   <field type="int">atomtype</field>\n   <set>\n',
        ]
        out += [f"    <rc><c>{s:<2}</c><c>{type_of[s]:4d}</c></rc>\n" for s in species]
        out.append("   </set>\n  </array>\n")
        out.append(
            '  <array name="atomtypes" >\n   <dimension dim="1">type</dimension>\n'
            '   <field type="int">atomspertype</field>\n   <field type="string">element</field>\n'
            "   <field>mass</field>\n   <field>valence</field>\n"
            '   <field type="string">pseudopotential</field>\n   <set>\n'
        )
        for s, n, pot in zip(types, run.poscar.counts, run.potcars, strict=True):
            mass = pot.info.mass if pot.info else 1.0
            out.append(
                f"    <rc><c>{n:4d}</c><c>{s:<2}</c><c>{mass:16.8f}</c><c>{pot.zval:16.8f}</c>"
                f"<c>  {pot.titel:<38}</c></rc>\n"
            )
        out.append("   </set>\n  </array>\n </atominfo>\n")
        return "".join(out)

    # -------------------------------------------------------------------- calculation
    def calculation(self, lattice, frac, scf_steps, result, elapsed: float) -> None:
        out = [" <calculation>\n"]
        for i, st in enumerate(scf_steps):
            out.append(
                f'  <scstep>\n   <time name="total">{elapsed / max(len(scf_steps), 1):8.2f}'
                f"{elapsed / max(len(scf_steps), 1):8.2f}</time>\n   <energy>\n"
            )
            if i == 0 or i == len(scf_steps) - 1:
                c = result.components
                for name, val in (
                    ("alphaZ", 0.0),
                    ("ewald", c["pair"]),
                    ("hartreedc", c["defect_charges"]),
                    ("XCdc", 0.0),
                    ("pawpsdc", 0.0),
                    ("pawaedc", 0.0),
                    ("eentropy", c["entropy"]),
                    ("bandstr", c["band"]),
                    ("atom", c["reference"]),
                ):
                    out.append(f'    <i name="{name}">{val:16.8f} </i>\n')
            ent = result.components["entropy"]
            e_fr = st.energy
            out.append(
                f'    <i name="e_fr_energy">{e_fr:16.8f} </i>\n'
                f'    <i name="e_wo_entrp">{e_fr - ent:16.8f} </i>\n'
                f'    <i name="e_0_energy">{e_fr - 0.5 * ent:16.8f} </i>\n   </energy>\n  </scstep>\n'
            )
        out.append(_structure_xml(lattice, frac, None, indent="  "))
        out.append('  <varray name="forces" >\n')
        out.append(rows(result.forces, 16, 8, b"   <v>", b" </v>\n").decode())
        out.append('  </varray>\n  <varray name="stress" >\n')
        out.append(rows(result.stress_kbar, 16, 8, b"   <v>", b" </v>\n").decode())
        out.append("  </varray>\n  <energy>\n")
        out.append(
            f'   <i name="e_fr_energy">{result.energy_free:16.8f} </i>\n'
            f'   <i name="e_wo_entrp">{result.energy_no_entropy:16.8f} </i>\n'
            f'   <i name="e_0_energy">{result.energy_sigma0:16.8f} </i>\n  </energy>\n'
        )
        out.append(f'  <time name="totalsc">{elapsed:8.2f}{elapsed:8.2f}</time>\n')
        self.write("".join(out))

    def end_calculation(self) -> None:
        self.write(" </calculation>\n")

    def eigenvalues(self, eig, occ, indent="  ") -> None:
        """eig/occ: (ispin, nk, nb), occupations already per VASP convention (0..1)."""
        out = [
            f"{indent}<eigenvalues>\n{indent} <array>\n",
            f'{indent}  <dimension dim="1">band</dimension>\n',
            f'{indent}  <dimension dim="2">kpoint</dimension>\n',
            f'{indent}  <dimension dim="3">spin</dimension>\n{indent}  <field>eigene</field>\n'
            f"{indent}  <field>occ</field>\n{indent}  <set>\n",
        ]
        self.write("".join(out))
        for s in range(eig.shape[0]):
            self.write(f'{indent}   <set comment="spin {s + 1}">\n')
            for k in range(eig.shape[1]):
                self.write(f'{indent}    <set comment="kpoint {k + 1}">\n')
                data = np.stack([eig[s, k], occ[s, k]], axis=1)
                self.write_bytes(rows(data, 10, 4, f"{indent}     <r>".encode(), b" </r>\n"))
                self.write(f"{indent}    </set>\n")
            self.write(f"{indent}   </set>\n")
        self.write(f"{indent}  </set>\n{indent} </array>\n{indent}</eigenvalues>\n")

    def dos(self, efermi, grid, tdos, idos, pdos) -> None:
        """tdos/idos (ispin, n); pdos (ispin, n, natoms, 9) or None."""
        self.write(
            f'  <dos>\n   <i name="efermi">{efermi:16.8f} </i>\n   <total>\n    <array>\n'
            '     <dimension dim="1">gridpoints</dimension>\n     <dimension dim="2">spin</dimension>\n'
            "     <field>energy</field>\n     <field>total</field>\n     <field>integrated</field>\n"
            "     <set>\n"
        )
        for s in range(tdos.shape[0]):
            self.write(f'      <set comment="spin {s + 1}">\n')
            self.write_bytes(rows(np.stack([grid, tdos[s], idos[s]], axis=1), 11, 4, b"       <r>", b" </r>\n"))
            self.write("      </set>\n")
        self.write("     </set>\n    </array>\n   </total>\n")
        if pdos is not None:
            self.write(
                '   <partial>\n    <array>\n     <dimension dim="1">gridpoints</dimension>\n'
                '     <dimension dim="2">spin</dimension>\n     <dimension dim="3">ion</dimension>\n'
                "     <field>energy</field>\n"
                + "".join(f"     <field>{c:>5}</field>\n" for c in LM_NAMES)
                + "     <set>\n"
            )
            for a in range(pdos.shape[2]):
                self.write(f'      <set comment="ion {a + 1}">\n')
                for s in range(pdos.shape[0]):
                    self.write(f'       <set comment="spin {s + 1}">\n')
                    data = np.concatenate([grid[:, None], pdos[s, :, a, :]], axis=1)
                    self.write_bytes(rows(data, 11, 4, b"        <r>", b" </r>\n"))
                    self.write("       </set>\n")
                self.write("      </set>\n")
            self.write("     </set>\n    </array>\n   </partial>\n")
        self.write("  </dos>\n")

    def projected(self, eig, occ, proj_at, procar_sink=None) -> None:
        """proj_at(s, k) -> (nb, natoms, 9) projections; also streams PROCAR when procar_sink is
        (binary file, reported k-set, natoms), so every projection block is made once for both files."""
        from mock_vasp.write_text import ProcarWriter

        procar = ProcarWriter(procar_sink[0], procar_sink[1], eig, occ, procar_sink[2]) if procar_sink else None
        self.write("  <projected>\n")
        self.eigenvalues(eig, occ, indent="   ")
        self.write(
            '   <array>\n    <dimension dim="1">ion</dimension>\n    <dimension dim="2">band</dimension>\n'
            '    <dimension dim="3">kpoint</dimension>\n    <dimension dim="4">spin</dimension>\n'
            + "".join(f"    <field>{c:>5}</field>\n" for c in LM_NAMES)
            + "    <set>\n"
        )
        ispin, nk, nb = eig.shape
        headers = [f'       <set comment="band {b + 1}">\n'.encode() for b in range(nb)]
        # PROCAR is formatted and written by a second thread while this one does vasprun.xml (numpy's
        # array work and file writes release the GIL); one worker keeps PROCAR's order.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for s in range(ispin):
                self.write(f'     <set comment="spin{s + 1}">\n')
                if procar:
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(procar.spin, s)
                for k in range(nk):
                    block = proj_at(s, k).copy()  # (nb, natoms, 9)
                    if procar:
                        if pending is not None:
                            pending.result()
                        pending = pool.submit(procar.kpoint, s, k, block)
                    na = block.shape[1]
                    body = rows(block.reshape(nb * na, 9), 8, 4, b"        <r>", b" </r>\n")
                    chunk = len(body) // nb
                    parts = [f'      <set comment="kpoint {k + 1}">\n'.encode()]
                    for b in range(nb):
                        parts.append(headers[b])
                        parts.append(body[b * chunk : (b + 1) * chunk])
                        parts.append(b"       </set>\n")
                    parts.append(b"      </set>\n")
                    self.write_bytes(b"".join(parts))
                self.write("     </set>\n")
            if pending is not None:
                pending.result()
        self.write("    </set>\n   </array>\n  </projected>\n")

    def finish(self, lattice, frac, selective=None) -> None:
        self.write(_structure_xml(lattice, frac, "finalpos", selective=selective) + "</modeling>\n")
        self.close()


LM_NAMES = ["s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2"]
