"""Readers for the files VASP reads: INCAR, POSCAR, KPOINTS, POTCAR / POTCAR.spec, STOPCAR.

Hand-written on purpose: importing pymatgen costs about a second, which is most of the budget of a
32-atom run, and these formats are small.  Errors raise `VaspError` with VASP-like wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mock_vasp.errors import VaspError
from mock_vasp.zval import PotcarInfo, lookup


# ----------------------------------------------------------------------------------------- INCAR
def _parse_value(raw: str):
    """Convert an INCAR value: logicals, ints, floats, 'N*x' lists, or the string itself."""
    text = raw.strip()
    low = text.lower()
    if low in (".true.", "t", "true", ".t."):
        return True
    if low in (".false.", "f", "false", ".f."):
        return False
    tokens = text.split()
    values = []
    for tok in tokens:
        m = re.fullmatch(r"(\d+)\*(.+)", tok)
        if m:
            values.extend([_scalar(m.group(2))] * int(m.group(1)))
        else:
            values.append(_scalar(tok))
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return values
    return text


def _scalar(tok: str):
    low = tok.lower()
    if low in (".true.", "t", "true"):
        return True
    if low in (".false.", "f", "false"):
        return False
    try:
        return int(tok)
    except ValueError:
        pass
    try:
        return float(tok.replace("d", "e").replace("D", "E"))
    except ValueError:
        return tok


def read_incar(path: Path) -> dict:
    """INCAR as an ordered dict of UPPER-CASE tags; '!' and '#' start comments, ';' separates tags."""
    tags: dict = {}
    for raw_line in path.read_text(errors="replace").splitlines():
        line = re.split(r"[!#]", raw_line, maxsplit=1)[0]
        for part in line.split(";"):
            if "=" not in part:
                if part.strip():
                    raise VaspError(f"Error reading item in INCAR: cannot parse line '{raw_line.strip()}'")
                continue
            key, value = part.split("=", 1)
            key = key.strip().upper()
            if not key:
                continue
            tags[key] = value.strip() if key == "SYSTEM" else _parse_value(value)
    return tags


# ---------------------------------------------------------------------------------------- POSCAR
@dataclass
class Poscar:
    """A structure as VASP reads it; positions are fractional, lattice rows in Angstrom."""

    comment: str
    lattice: np.ndarray
    species: list[str]  # one entry per species block
    counts: list[int]
    frac: np.ndarray
    selective: np.ndarray | None = None  # (n, 3) booleans, True = free

    @property
    def atom_species(self) -> list[str]:
        return [s for s, n in zip(self.species, self.counts, strict=True) for _ in range(n)]

    @property
    def natoms(self) -> int:
        return int(sum(self.counts))


def read_poscar(path: Path, potcar_elements: list[str] | None = None) -> Poscar:
    """VASP 5 POSCAR/CONTCAR; a VASP 4 file (no species line) takes species from the POTCAR."""
    lines = path.read_text(errors="replace").splitlines()
    try:
        comment = lines[0].strip()
        scale = [float(x) for x in lines[1].split()[:3] if _is_number(x)]
        lattice = np.array([[float(x) for x in lines[i].split()[:3]] for i in (2, 3, 4)])
        idx = 5
        first = lines[idx].split()
        if all(_is_int(x) for x in first):
            if potcar_elements is None:
                raise VaspError("POSCAR has no species line and no POTCAR to take the species from")
            species = list(potcar_elements)
        else:
            species = [s.split("/")[0].split("_")[0] for s in first]
            idx += 1
        counts = [int(x) for x in lines[idx].split()]
        idx += 1
        selective = None
        mode = lines[idx].strip()
        if mode[:1] in "sS":
            selective = []
            idx += 1
            mode = lines[idx].strip()
        cartesian = mode[:1] in "cCkK"
        idx += 1
        n = sum(counts)
        pos = []
        for i in range(n):
            toks = lines[idx + i].split()
            pos.append([float(x) for x in toks[:3]])
            if selective is not None:
                selective.append([t.upper().startswith("T") for t in toks[3:6]])
    except (IndexError, ValueError) as exc:
        raise VaspError(f"ERROR: the POSCAR file could not be read ({exc})") from exc
    if len(species) != len(counts):
        raise VaspError("ERROR: the number of species and of atom counts on the POSCAR differ")
    if len(scale) == 1:
        s = scale[0]
        if s < 0:  # negative scale = target volume
            s = (abs(s) / abs(np.linalg.det(lattice))) ** (1.0 / 3.0)
        lattice = lattice * s
        factor = np.array([s, s, s])
    else:
        lattice = lattice * np.array(scale)[None, :]
        factor = np.array(scale)
    pos = np.array(pos)
    if cartesian:
        frac = np.linalg.solve(lattice.T, (pos * factor).T).T
    else:
        frac = pos
    sel = np.array(selective, bool) if selective is not None else None
    return Poscar(comment, lattice, species, counts, frac, sel)


def _is_number(tok: str) -> bool:
    try:
        float(tok)
        return True
    except ValueError:
        return False


def _is_int(tok: str) -> bool:
    try:
        int(tok)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------------------- KPOINTS
@dataclass
class KpointsFile:
    """KPOINTS contents: an automatic mesh, an explicit list, or a line-mode path."""

    comment: str
    mode: str  # "gamma", "monkhorst", "explicit", "line"
    mesh: tuple[int, int, int] | None = None
    shift: tuple[float, float, float] = (0.0, 0.0, 0.0)
    kpts: np.ndarray | None = None  # explicit list (fractional)
    weights: np.ndarray | None = None
    labels: list[str | None] = field(default_factory=list)
    cartesian: bool = False
    line_density: int = 0


def read_kpoints(path: Path, lattice: np.ndarray) -> KpointsFile:
    """Automatic (Gamma / Monkhorst-Pack / Auto length), explicit (with weights) or line mode."""
    lines = [ln.rstrip() for ln in path.read_text(errors="replace").splitlines()]
    try:
        comment = lines[0].strip()
        nk = int(lines[1].split()[0])
        style = lines[2].strip()
        key = style[:1].lower()
        if nk == 0 and key in "gm":
            mesh = tuple(int(x) for x in lines[3].split()[:3])
            shift = (0.0, 0.0, 0.0)
            if len(lines) > 4 and lines[4].split():
                shift = tuple(float(x) for x in lines[4].split()[:3])
            return KpointsFile(comment, "gamma" if key == "g" else "monkhorst", mesh, shift)
        if nk == 0 and key == "a":  # fully automatic: subdivisions from a length
            length = float(lines[3].split()[0])
            recip = np.linalg.inv(lattice).T
            mesh = tuple(int(max(1, np.floor(length * np.linalg.norm(b) + 0.5))) for b in recip)
            return KpointsFile(comment, "gamma", mesh)
        if key == "l":  # line mode
            coord = lines[3].strip()[:1].lower()
            pts, labels = [], []
            for ln in lines[4:]:
                toks = ln.split("!")[0].split()
                if len(toks) >= 3:
                    pts.append([float(x) for x in toks[:3]])
                    lab = ln.split("!")[1].strip() if "!" in ln else None
                    labels.append(lab)
            return KpointsFile(
                comment, "line", kpts=np.array(pts), labels=labels, cartesian=coord in "ck", line_density=nk
            )
        coord = style.strip()[:1].lower()
        pts, weights, labels = [], [], []
        for ln in lines[3 : 3 + nk]:
            toks = ln.split()
            pts.append([float(x) for x in toks[:3]])
            weights.append(float(toks[3]))
            lab = toks[4] if len(toks) > 4 else None
            labels.append(None if lab in (None, "None") else lab)
        if len(pts) != nk:
            raise VaspError(f"ERROR: KPOINTS announces {nk} k-points but lists {len(pts)}")
        return KpointsFile(
            comment,
            "explicit",
            kpts=np.array(pts),
            weights=np.array(weights),
            labels=labels,
            cartesian=coord in "ck",
        )
    except (IndexError, ValueError) as exc:
        raise VaspError(f"ERROR: the KPOINTS file could not be read ({exc})") from exc


# ---------------------------------------------------------------------------------------- POTCAR
@dataclass
class PotcarEntry:
    symbol: str
    titel: str
    zval: float
    element: str
    info: PotcarInfo | None


def read_potcar(directory: Path) -> tuple[list[PotcarEntry], str]:
    """Entries of POTCAR (read ZVAL/TITEL from the file) or of POTCAR.spec (symbols + ZVAL table)."""
    potcar = directory / "POTCAR"
    spec = directory / "POTCAR.spec"
    if potcar.is_file():
        text = potcar.read_text(errors="replace")
        entries = []
        for block in re.split(r"End of Dataset", text):
            m_t = re.search(r"TITEL\s*=\s*(.+)", block)
            m_z = re.search(r"ZVAL\s*=\s*([-\d.]+)", block)
            if not (m_t and m_z):
                continue
            titel = m_t.group(1).strip()
            symbol = titel.split()[1] if len(titel.split()) > 1 else titel
            info = lookup(symbol)
            m_e = re.search(r"VRHFIN\s*=\s*([A-Za-z]+)\s*:", block)
            element = m_e.group(1) if m_e else symbol.split("_")[0]
            entries.append(PotcarEntry(symbol, titel, float(m_z.group(1)), element, info))
        if not entries:
            raise VaspError("ERROR: the POTCAR file could not be read (no TITEL/ZVAL found)")
        return entries, "POTCAR"
    if spec.is_file():
        entries = []
        for line in spec.read_text().splitlines():
            sym = line.strip()
            if not sym or sym.startswith("#"):
                continue
            info = lookup(sym)
            if info is None:
                raise VaspError(
                    f"ERROR: POTCAR symbol {sym} (POTCAR.spec) is unknown: mock-vasp's ZVAL table has "
                    "W_sv, W_pv, W, O, O_s, O_h, H, H_h"
                )
            entries.append(PotcarEntry(sym, info.titel, info.zval, info.element, info))
        if not entries:
            raise VaspError("ERROR: POTCAR.spec is empty")
        return entries, "POTCAR.spec"
    raise VaspError("ERROR: file POTCAR not found (mock-vasp also accepts POTCAR.spec)")


def read_stopcar(directory: Path) -> tuple[bool, bool]:
    """(LSTOP, LABORT) from a STOPCAR, as VASP checks it between steps."""
    path = directory / "STOPCAR"
    if not path.is_file():
        return False, False
    try:
        tags = read_incar(path)
    except VaspError:
        return False, False
    return bool(tags.get("LSTOP", False)), bool(tags.get("LABORT", False))
