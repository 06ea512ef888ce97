"""OUTCAR and vasprun.xml sections of a dielectric / phonon run, in VASP's layout (checked against real
VASP 5.4 OUTCARs with LEPSILON + IBRION 8 and vasprun.xml files with <dynmat>, from pymatgen's test set):

OUTCAR: " HEAD OF MICROSCOPIC STATIC DIELECTRIC TENSOR (INDEPENDENT PARTICLE, ...)", " MACROSCOPIC STATIC
DIELECTRIC TENSOR (including local field effects in DFT)" (LRPA = .FALSE.; "... in RPA (Hartree)" for
.TRUE.), " BORN EFFECTIVE CHARGES (including local field effects) (in e, cummulative output)",
" SECOND DERIVATIVES (NOT SYMMETRIZED)", " Eigenvectors and eigenvalues of the dynamical matrix" and
" MACROSCOPIC STATIC DIELECTRIC TENSOR IONIC CONTRIBUTION" - what pymatgen's Outcar.read_lepsilon and
read_lepsilon_ionic read.  vasprun.xml, inside the <calculation>: <varray name="epsilon_rpa">,
<varray name="epsilon">, <varray name="epsilon_ion">, <array name="born_charges"> and <dynmat> (hessian,
eigenvalues, eigenvectors), read by Vasprun.epsilon_static(_wolfe) / epsilon_ionic / force_constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEP = " " + "-" * 54
THZ = 15.633302  # sqrt(eV / A^2 / amu) in THz (x 2 pi)
CM1_PER_THZ = 33.35641
MEV_PER_THZ = 4.135669


@dataclass
class Response:
    """What a dielectric / phonon run computed (None where not asked for)."""

    eps_inf: np.ndarray | None = None  # (3, 3)
    born: np.ndarray | None = None  # (natoms, 3, 3), row = field direction
    phi: np.ndarray | None = None  # (natoms, 3, natoms, 3) eV / A^2
    eps_ion: np.ndarray | None = None  # (3, 3)
    hessian: np.ndarray | None = None  # (3N, 3N) -Phi / sqrt(m m)
    lrpa: bool = False


def _tensor(title: str, t: np.ndarray) -> str:
    rows = "".join("  " + "".join(f"{x:12.6f}" for x in row) + "\n" for row in t)
    return f" {title}\n{SEP}\n{rows}{SEP}\n\n\n"


def outcar_text(resp: Response, cart: np.ndarray) -> str:
    out = []
    if resp.eps_inf is not None:
        out.append(
            _tensor(
                "HEAD OF MICROSCOPIC STATIC DIELECTRIC TENSOR (INDEPENDENT PARTICLE, excluding Hartree and local "
                "field effects)",
                resp.eps_inf,
            )
        )
        kind = "RPA (Hartree)" if resp.lrpa else "DFT"
        out.append(
            _tensor(f"MACROSCOPIC STATIC DIELECTRIC TENSOR (including local field effects in {kind})", resp.eps_inf)
        )
    if resp.born is not None:
        lines = [
            " BORN EFFECTIVE CHARGES (including local field effects) (in e, cummulative output)\n",
            " " + "-" * 81 + "\n",
        ]
        for i, z in enumerate(resp.born):
            lines.append(f" ion {i + 1:4d}\n")
            lines += [f"    {a + 1:d} " + "".join(f"{x:12.5f}" for x in z[a]) + "\n" for a in range(3)]
        out.append("".join(lines) + "\n\n")
    if resp.phi is not None:
        out.append(_second_derivatives(resp.phi))
        out.append(_modes(resp.hessian, cart))
    if resp.eps_ion is not None:
        out.append(_tensor("MACROSCOPIC STATIC DIELECTRIC TENSOR IONIC CONTRIBUTION", resp.eps_ion))
    return "".join(out)


def _second_derivatives(phi: np.ndarray) -> str:
    """VASP prints dF/du = -Phi, columns of 12 characters, every atom x y z."""
    natoms = phi.shape[0]
    flat = -phi.reshape(3 * natoms, 3 * natoms)
    names = [f"{i + 1}{c}" for i in range(natoms) for c in "XYZ"]
    head = "      " + "".join(f"{n:>12}" for n in names) + "\n"
    body = "".join(f"{names[r]:>4}  " + "".join(f"{x:12.6f}" for x in flat[r]) + "\n" for r in range(3 * natoms))
    return f" SECOND DERIVATIVES (NOT SYMMETRIZED)\n ------------------------------------\n{head}{body}\n\n"


def _modes(hessian: np.ndarray, cart: np.ndarray) -> str:
    w, v = np.linalg.eigh(hessian)  # most negative (= highest frequency) first
    natoms = len(cart)
    out = [" Eigenvectors and eigenvalues of the dynamical matrix\n " + "-" * 52 + "\n\n\n"]
    for m in range(len(w)):
        f = np.sqrt(abs(w[m])) * THZ / (2 * np.pi)
        label = "f  =" if w[m] <= 0 else "f/i="
        out.append(
            f"{m + 1:4d} {label}{f:12.6f} THz {2 * np.pi * f:12.6f} 2PiTHz{f * CM1_PER_THZ:12.6f} cm-1 "
            f"{f * MEV_PER_THZ:12.6f} meV\n             X         Y         Z           dx          dy          dz\n"
        )
        vec = v[:, m].reshape(natoms, 3)
        out += [
            "".join(f"{x:10.6f}" for x in cart[i]) + "  " + "".join(f"{x:12.6f}" for x in vec[i]) + "\n"
            for i in range(natoms)
        ]
        out.append("\n")
    return "".join(out) + "\n"


def _varray(name: str, t: np.ndarray) -> str:
    rows = "".join("   <v>" + "".join(f"{x:17.8f}" for x in row) + " </v>\n" for row in t)
    return f'  <varray name="{name}" >\n{rows}  </varray>\n'


def vasprun_text(resp: Response) -> str:
    out = []
    if resp.eps_inf is not None:
        out.append(_varray("epsilon_rpa", resp.eps_inf))
        out.append(_varray("epsilon", resp.eps_inf))
    if resp.eps_ion is not None:
        out.append(_varray("epsilon_ion", resp.eps_ion))
    if resp.born is not None:
        out.append('  <array name="born_charges" >\n')
        for z in resp.born:
            out.append("   <set>\n" + "".join("    <v>" + "".join(f"{x:16.8f}" for x in r) + " </v>\n" for r in z))
            out.append("   </set>\n")
        out.append("  </array>\n")
    if resp.hessian is not None:
        w, v = np.linalg.eigh(resp.hessian)
        out.append('  <dynmat>\n   <varray name="hessian" >\n')
        out += ["    <v>" + "".join(f"{x:17.8f}" for x in row) + " </v>\n" for row in resp.hessian]
        out.append('   </varray>\n   <v name="eigenvalues">' + "".join(f"{x:16.8E}" for x in w) + "</v>\n")
        out.append('   <varray name="eigenvectors" >\n')
        out += ["    <v>" + "".join(f"{x:16.8E}" for x in v[:, m]) + "</v>\n" for m in range(len(w))]
        out.append("   </varray>\n  </dynmat>\n")
    return "".join(out)
