"""Small text outputs: OSZICAR (and the matching vasp.out lines), CONTCAR, EIGENVAL, DOSCAR, IBZKPT, PROCAR.

OSZICAR carries no model marker: pymatgen's Oszicar reads every unrecognised non-empty line as an
ionic step, so a comment line would corrupt it (README, "Marking").
"""

from __future__ import annotations

import numpy as np

from mock_vasp import MARK
from mock_vasp.numformat import fixed, fortran_e, fortran_e0, rows

OSZICAR_HEADER = "       N       E                     dE             d eps       ncg     rms          rms(c)\n"


def scf_line(n: int, st) -> str:
    rmsc = f"   {st.rmsc:9.3E}" if st.rmsc is not None else ""
    return (
        f"{st.label}: {n:3d}   {fortran_e0(st.energy)}   {st.de:12.5E}   {st.deps:12.5E}"
        f"{st.ncg:6d}   {st.rms:9.3E}{rmsc}\n"
    )


def ionic_line(n: int, result, de: float, mag: float | None) -> str:
    line = f"{n:4d} F= {fortran_e(result.energy_free)} E0= {fortran_e(result.energy_sigma0)}  d E ={fortran_e(de, 6)}"
    if mag is not None:
        line += f"  mag={mag:11.4f}"
    return line + "\n"


def poscar_text(comment: str, lattice, species, counts, frac, selective=None) -> str:
    if MARK not in comment:
        comment = f"{comment}  [{MARK} model output]".strip()
    out = [f"{comment}\n", "   1.00000000000000     \n"]
    out += ["  " + "".join(f"{x:22.16f}" for x in row) + "\n" for row in lattice]
    out.append("   " + "".join(f"{s:>5}" for s in species) + "\n")
    out.append("   " + "".join(f"{n:>5d}" for n in counts) + "\n")
    if selective is not None:
        out.append("Selective dynamics\n")
    out.append("Direct\n")
    for i, row in enumerate(frac):
        line = "  " + "".join(f"{x:20.16f}" for x in row)
        if selective is not None:
            line += "".join("   T" if f else "   F" for f in selective[i])
        out.append(line + "\n")
    return "".join(out)


def eigenval_text(system, natoms, ispin, nelect, lattice, kpts, weights, eig, occ) -> str:
    vol = abs(np.linalg.det(lattice))
    lengths = np.linalg.norm(lattice, axis=1) * 1e-10
    nk, nb = eig.shape[1], eig.shape[2]
    out = [
        f"{natoms:5d}{natoms:5d}{1:5d}{ispin:5d}\n",
        f"  {vol:.7E}  " + "  ".join(f"{x:.7E}" for x in lengths) + "  0.5000000E-15\n",
        "  1.000000000000000E-004\n  CAR \n",
        f" {system}  [{MARK} model output]\n",
        f"{int(round(nelect)):7d}{nk:7d}{nb:7d}\n",
    ]
    for k in range(nk):
        out.append("\n" + "".join(f"{x:15.7E}" for x in kpts[k]) + f"{weights[k]:15.7E}\n")
        idx = np.arange(1, nb + 1)
        if ispin == 1:
            data = np.stack([eig[0, k], occ[0, k]], axis=1)
            body = rows(data, 12, 6, b"", b"\n").decode().splitlines()
        else:
            data = np.stack([eig[0, k], eig[1, k], occ[0, k], occ[1, k]], axis=1)
            body = rows(data, 15, 6, b"", b"\n").decode().splitlines()
        out += [f"{i:5d}  {line}\n" for i, line in zip(idx, body, strict=True)]
    return "".join(out)


def doscar_text(system, natoms, lattice, efermi, grid, tdos, idos, pdos) -> bytes:
    vol = abs(np.linalg.det(lattice))
    lengths = np.linalg.norm(lattice, axis=1) * 1e-10
    ispin = tdos.shape[0]
    head = (
        f"{natoms:4d}{natoms:4d}{1 if pdos is not None else 0:4d}{0:4d}\n"
        f"  {vol / natoms:.7E}  " + "  ".join(f"{x:.7E}" for x in lengths) + "  0.5000000E-15\n"
        "  1.000000000000000E-004\n  CAR \n" + f" {system}  [{MARK} model output]\n"
    )
    line6 = f"{grid[-1]:15.8f}{grid[0]:15.8f}{len(grid):6d}{efermi:15.8f}{1.0:15.8f}\n"
    parts = [head.encode(), line6.encode()]
    cols = [grid] + [tdos[s] for s in range(ispin)] + [idos[s] for s in range(ispin)]
    parts.append(rows(np.stack(cols, axis=1), 12, 4, b"", b"\n"))
    if pdos is not None:
        for a in range(pdos.shape[2]):
            parts.append(line6.encode())
            if ispin == 1:
                data = np.concatenate([grid[:, None], pdos[0, :, a, :]], axis=1)
            else:
                inter = np.stack([pdos[0, :, a, :], pdos[1, :, a, :]], axis=2).reshape(len(grid), 18)
                data = np.concatenate([grid[:, None], inter], axis=1)
            parts.append(rows(data, 12, 4, b"", b"\n"))
    return b"".join(parts)


def ibzkpt_text(kset) -> str:
    w = kset.int_weights if kset.int_weights is not None else kset.weights
    out = ["Automatically generated mesh\n", f"{len(kset):8d}\n", "Reciprocal lattice\n"]
    for k, wt in zip(kset.kpts, w, strict=True):
        out.append("".join(f"{x:20.14f}" for x in k) + f"{int(round(wt)) if float(wt).is_integer() else wt:14}\n")
    return "".join(out)


class ProcarWriter:
    """PROCAR (LORBIT = 11), streamed: per spin, k-point and band, the lm projections of every ion."""

    NAMES = ["s", "py", "pz", "px", "dxy", "dyz", "dz2", "dxz", "x2-y2", "tot"]

    def __init__(self, fh, kset, eig, occ, natoms: int):
        self.fh, self.kset, self.eig, self.occ, self.natoms = fh, kset, eig, occ, natoms
        self.ion_header = ("ion " + "".join(f"{n:>7}" for n in self.NAMES) + "\n").encode()
        self.idx_col = fixed(np.arange(1, natoms + 1), 5, 0)
        fh.write(f"PROCAR lm decomposed  [{MARK} model output]\n".encode())

    def spin(self, s: int) -> None:
        _, nk, nb = self.eig.shape
        self.fh.write(
            f"# of k-points:  {nk:3d}         # of bands:  {nb:3d}         # of ions:  {self.natoms:3d}\n\n".encode()
        )

    def kpoint(self, s: int, k: int, proj: np.ndarray) -> None:
        """proj: (nbands, natoms, 9) at reported k-point k for spin s (energy order)."""
        nb, natoms = proj.shape[0], self.natoms
        kp = self.kset.kpts[k]
        parts = [
            f" k-point {k + 1:5d} :    {kp[0]:11.8f}{kp[1]:11.8f}{kp[2]:11.8f}     weight = "
            f"{self.kset.weights[k]:10.8f}\n\n".encode()
        ]
        block = np.concatenate([proj, proj.sum(axis=2, keepdims=True)], axis=2)  # (nb, na, 10)
        body = fixed(block.reshape(-1), 7, 3).reshape(nb, natoms, 70)
        lines = np.concatenate(
            [np.repeat(self.idx_col[None], nb, axis=0), body, np.full((nb, natoms, 1), ord("\n"), np.uint8)],
            axis=2,
        )
        tot = fixed(block.sum(axis=1).reshape(-1), 7, 3).reshape(nb, 70)
        energies, occupations = self.eig[s, k], self.occ[s, k]
        for b in range(nb):
            parts.append(f"band {b + 1:5d} # energy {energies[b]:14.8f} # occ. {occupations[b]:11.8f}\n\n".encode())
            parts.append(self.ion_header)
            parts.append(lines[b].tobytes())
            parts.append(b"tot  " + tot[b].tobytes() + b"\n\n")
        parts.append(b"\n")
        self.fh.write(b"".join(parts))
