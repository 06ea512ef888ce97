"""LOCPOT and CHGCAR on a real 3D grid (VASP's CHGCAR format), and the FFT grid rule.

Grid rule (VASP's, PREC-dependent): NGX = smallest even 2^a 3^b 5^c 7^d >= f * G_cut * |a| / pi with
G_cut = sqrt(ENCUT / 3.81) 1/A, f = 2 for PREC Accurate/High and 1.5 otherwise; NGXF = 2 NGX.
The files are written on the NGX grid (documented coarser rule: the model fields are smooth).

LOCPOT = sum of Gaussian wells at the atoms + the screened potential of the defect charges, as an
electron's potential energy in eV; the same rule for every cell, so bulk and defect LOCPOTs differ far
from the defect only by the defect's potential (what potential-alignment corrections look for).
"""

from __future__ import annotations

import numpy as np

from mock_vasp import MARK
from mock_vasp.electrostatics import COULOMB


def _good_size(x: float) -> int:
    n = max(2, int(np.ceil(x)))
    while True:
        if n % 2 == 0:
            m = n
            for p in (2, 3, 5, 7):
                while m % p == 0:
                    m //= p
            if m == 1:
                return n
        n += 1


def fft_grid(lattice, encut: float, prec: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    gcut = np.sqrt(encut / 3.80998)
    f = 2.0 if prec.lower()[:1] in ("a", "h") else 1.5
    ng = tuple(_good_size(f * gcut * np.linalg.norm(a) / np.pi) for a in lattice)
    return ng, tuple(2 * n for n in ng)


class Spectrum:
    """The part of the FFT grid's reciprocal space a set of Gaussians of width >= `width` reaches
    (exp(-G^2 width^2 / 2) > 1e-14), on the half spectrum a real field needs; fields are built there
    and brought to the grid by one inverse real FFT.  For the 0.45-0.7 A Gaussians of the model this is
    a few % of VASP's fine grid, so the structure factors cost that much less."""

    def __init__(self, lattice, ng, width: float):
        self.lattice = np.asarray(lattice, float)
        self.ng = tuple(int(n) for n in ng)
        self.volume = abs(np.linalg.det(self.lattice))
        gmax = np.sqrt(2 * 32.3) / width
        hmax = [int(np.ceil(gmax * np.linalg.norm(a) / (2 * np.pi))) + 1 for a in self.lattice]
        self.freqs = []
        for axis, (n, h) in enumerate(zip(self.ng, hmax, strict=True)):
            full = np.fft.fftfreq(n, 1.0 / n).astype(int) if axis < 2 else np.arange(n // 2 + 1)
            keep = np.abs(full) <= h
            self.freqs.append((np.nonzero(keep)[0], full[keep]))
        recip = 2 * np.pi * np.linalg.inv(self.lattice).T
        fx, fy, fz = (f for _, f in self.freqs)
        g = fx[:, None, None, None] * recip[0] + fy[None, :, None, None] * recip[1] + fz[None, None, :, None] * recip[2]
        self.g2 = np.einsum("...i,...i->...", g, g)

    def structure_factor(self, frac, amp) -> np.ndarray:
        """sum_i amp_i exp(-2 pi i G.r_i) on this spectrum (separable phases, one matmul)."""
        frac = np.asarray(frac, float)
        fx, fy, fz = (f for _, f in self.freqs)
        ex = np.exp(-2j * np.pi * np.outer(frac[:, 0], fx)) * np.asarray(amp, float)[:, None]
        ey = np.exp(-2j * np.pi * np.outer(frac[:, 1], fy))
        ez = np.exp(-2j * np.pi * np.outer(frac[:, 2], fz))
        xy = (ex[:, :, None] * ey[:, None, :]).reshape(len(frac), -1)
        return (xy.T @ ez).reshape(len(fx), len(fy), len(fz))

    def to_grid(self, coeff: np.ndarray) -> np.ndarray:
        """Real field on the grid: sum_G coeff_G exp(i G.r) (coefficients given on this spectrum)."""
        nx, ny, nz = self.ng
        half = np.zeros((nx, ny, nz // 2 + 1), complex)
        (ix, _), (iy, _), (iz, _) = self.freqs
        half[np.ix_(ix, iy, iz)] = coeff
        return np.fft.irfftn(half * (nx * ny * nz), s=self.ng)


def locpot_grid(lattice, frac, species, params, defect_field, ng) -> np.ndarray:
    lp = params["locpot"]
    w = lp["well_width"]
    sp = Spectrum(lattice, ng, min(w, defect_field.sigma) if defect_field is not None else w)
    vol, g2 = sp.volume, sp.g2
    depth = np.array([lp["well_depth"][s] for s in species])
    # Gaussian well A exp(-r^2/2w^2): Fourier coefficient A (2 pi w^2)^(3/2) / V exp(-G^2 w^2 / 2)
    coeff = sp.structure_factor(frac, depth) * (2 * np.pi * w * w) ** 1.5 / vol * np.exp(-0.5 * g2 * w * w)
    if defect_field is not None and defect_field.active:
        sig = defect_field.sigma
        sq = sp.structure_factor(defect_field.centres, defect_field.q)
        with np.errstate(divide="ignore", invalid="ignore"):
            kern = np.where(g2 > 0, 4 * np.pi / (vol * defect_field.eps) * np.exp(-0.5 * g2 * sig * sig) / g2, 0.0)
        coeff = coeff - COULOMB * kern * sq
    coeff.flat[0] = 0.0
    return sp.to_grid(coeff)


def density_grid(lattice, frac, electrons, width, ng, uniform: float = 0.0) -> np.ndarray:
    """Model density times the cell volume (CHGCAR convention: the grid average is the electron count):
    a normalised Gaussian of `width` (one value, or one per atom) holding each atom's electrons, plus
    `uniform` electrons spread evenly over the cell."""
    electrons = np.asarray(electrons, float)
    widths = np.broadcast_to(np.asarray(width, float), electrons.shape)
    sp = Spectrum(lattice, ng, float(widths.min()) if widths.size else 1.0)
    coeff = np.zeros(sp.g2.shape, complex)
    for w in np.unique(widths):
        sel = widths == w
        coeff += sp.structure_factor(np.asarray(frac)[sel], electrons[sel]) / sp.volume * np.exp(-0.5 * sp.g2 * w * w)
    coeff.flat[0] += uniform / sp.volume
    return sp.to_grid(coeff) * sp.volume


def write_volumetric(path, comment, lattice, species_types, counts, frac, blocks) -> None:
    """CHGCAR-format file: POSCAR header, blank line, grid, data (x fastest) per block, as VASP writes
    it: five values per line in Fortran (1X,E17.11), e.g. ' 0.34998022007E+02 -.12000000000E+01'."""
    from mock_vasp.numformat import fortran_e_array
    from mock_vasp.write_text import poscar_text

    with open(path, "wb") as fh:
        fh.write(poscar_text(f"{comment} [{MARK} model output]", lattice, species_types, counts, frac).encode())
        for data in blocks:
            ng = data.shape
            fh.write(f"\n{ng[0]:5d}{ng[1]:5d}{ng[2]:5d}\n".encode())
            flat = data.ravel(order="F")
            per_chunk = 5 * 200000
            for start in range(0, flat.size, per_chunk):
                part = flat[start : start + per_chunk]
                fields = fortran_e_array(part, 11)
                fields = np.concatenate([np.full((len(part), 1), ord(" "), np.uint8), fields], axis=1)
                full = len(part) // 5 * 5
                lines = fields[:full].reshape(-1, 5 * 18)
                lines = np.concatenate([lines, np.full((len(lines), 1), ord("\n"), np.uint8)], axis=1)
                fh.write(lines.tobytes())
                if full < len(part):
                    fh.write(fields[full:].tobytes() + b"\n")
