"""RunData: one calculation's scalars (the task document) and arrays, from the database or a directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

from dftflow.taskdoc import TaskDocument


@dataclass
class RunData:
    doc: dict
    arrays: dict[str, tuple[dict, dict]] = field(default_factory=dict)  # name -> (arrays, meta)

    @classmethod
    def from_db(cls, db, doc: dict, names=("eigenvalues", "dos", "projections", "locpot", "parchg")) -> RunData:
        arrays = {}
        for name in names:
            if name in doc.get("blobs", {}):
                arrays[name] = db.arrays(doc, name)
        return cls(doc, arrays)

    @classmethod
    def from_directory(cls, directory: str | Path) -> RunData:
        from dftflow.db import pack_arrays, unpack_arrays
        from dftflow.vasp.task_document import task_document

        doc, contents = task_document(directory)
        # round-trip through the blob format, so directory and database runs are identical
        arrays = {name: unpack_arrays(pack_arrays(**content)) for name, content in contents.items()}
        return cls(doc, arrays)

    # --- convenient views -------------------------------------------------------------------------
    @cached_property
    def task(self) -> TaskDocument:
        """The document as the typed model (documents of earlier schema versions migrated)."""
        return TaskDocument.from_stored(self.doc)

    @property
    def label(self) -> str:
        return self.task.task_label

    @cached_property
    def structure(self) -> Structure:
        return Structure.from_dict(self.task.structure)

    def _eig(self) -> tuple[dict, dict]:
        if "eigenvalues" not in self.arrays:
            raise KeyError(f"{self.label}: no eigenvalues stored")
        return self.arrays["eigenvalues"]

    @property
    def eigenvalues(self) -> np.ndarray:
        """(spin, k, band) in eV."""
        return self._eig()[0]["eigenvalues"]

    @property
    def occupations(self) -> np.ndarray:
        return self._eig()[0]["occupations"]

    @property
    def kpoints(self) -> np.ndarray:
        return self._eig()[0]["kpoints"]

    @property
    def weights(self) -> np.ndarray:
        return self._eig()[0]["weights"]

    @property
    def kpoint_labels(self) -> list:
        return list(self._eig()[1].get("labels") or [None] * len(self.weights))

    @property
    def efermi(self) -> float | None:
        return self.task.output.efermi

    @property
    def executor(self) -> str:
        return self.task.executor

    def projections(self) -> Projections | None:
        """The stored projections of the band window near the gap, or None."""
        if "projections" not in self.arrays:
            return None
        arrays, meta = self.arrays["projections"]
        return Projections(
            weights=arrays["weights"],
            orbitals=arrays.get("orbitals"),
            elements=list(meta.get("elements") or []),
            first_band=int(meta.get("first_band", 0)),
        )


@dataclass(frozen=True)
class Projections:
    """Projections of the bands first_band .. first_band + nbands - 1 (0-based) at every k-point:
    `weights` (spin, k, band, atom) summed over orbitals, and `orbitals` (spin, k, band, element, 4) summed
    over each element's atoms and over m for l = s, p, d, f (None in documents written before it was kept)."""

    weights: np.ndarray
    orbitals: np.ndarray | None
    elements: list[str]
    first_band: int

    @property
    def nbands(self) -> int:
        return self.weights.shape[2]
