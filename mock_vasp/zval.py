"""POTCAR symbol table of mock-vasp (no POTCAR can be shipped, so the facts it needs live here).

Each entry gives what the model needs from a POTCAR: the valence charge ZVAL, the TITEL that VASP
writes into vasprun.xml/OUTCAR, the element, its mass, and how the ZVAL electrons split into
semicore states (flat, deep levels outside the tight-binding diagonalisation) and valence states.
ZVAL values are those of the PBE_54 set (W_pv only exists in the old PBE / PBE_52 sets).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PotcarInfo:
    """What mock-vasp knows about one POTCAR symbol."""

    symbol: str
    element: str
    zval: float
    titel: str
    mass: float
    semicore: tuple[str, ...]  # semicore shells, each holding 2 (s) or 6 (p) electrons
    vrhfin: str


# semicore shells: "s" holds 2 electrons (one flat level), "p" holds 6 (three flat levels)
ZVAL_TABLE: dict[str, PotcarInfo] = {
    "W_sv": PotcarInfo("W_sv", "W", 14.0, "PAW_PBE W_sv 04Sep2015", 183.84, ("s", "p"), "W: 5s5p5d6s"),
    "W_pv": PotcarInfo("W_pv", "W", 12.0, "PAW_PBE W_pv 06Sep2000", 183.84, ("p",), "W: 5p5d6s"),
    "W": PotcarInfo("W", "W", 6.0, "PAW_PBE W 08Apr2002", 183.84, (), "W: 5d6s"),
    "O": PotcarInfo("O", "O", 6.0, "PAW_PBE O 08Apr2002", 16.0, ("s",), "O: s2p4"),
    "O_s": PotcarInfo("O_s", "O", 6.0, "PAW_PBE O_s 07Sep2000", 16.0, ("s",), "O: s2p4"),
    "O_h": PotcarInfo("O_h", "O", 6.0, "PAW_PBE O_h 06Feb2004", 16.0, ("s",), "O: s2p4"),
    "H": PotcarInfo("H", "H", 1.0, "PAW_PBE H 15Jun2001", 1.0, (), "H: ultrasoft test"),
    "H_h": PotcarInfo("H_h", "H", 1.0, "PAW_PBE H_h 06Feb2004", 1.0, (), "H: ultrasoft test"),
}

MODEL_ELEMENTS = ("W", "O", "H")


def semicore_electrons(info: PotcarInfo) -> int:
    """Electrons held in the flat semicore levels of one atom of this POTCAR."""
    return sum(2 if shell == "s" else 6 for shell in info.semicore)


def lookup(symbol: str) -> PotcarInfo | None:
    """Table entry for a POTCAR symbol, or None when mock-vasp does not know it."""
    return ZVAL_TABLE.get(symbol.strip())
