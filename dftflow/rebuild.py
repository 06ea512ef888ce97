"""pymatgen objects rebuilt from a task's stored blobs: its Structure, CompleteDos and BandStructure.

The DOS blob keeps the run's total DOS and every site's orbital-resolved partial DOS as VASP wrote them
(vasprun.xml), so the CompleteDos rebuilt here equals the one pymatgen parses from the run directory;
the eigenvalue blob keeps every k-point's eigenvalues and occupations with the path labels, so a
band-structure run comes back as a line-mode BandStructureSymmLine (the zero-weight path points), any
other run as a BandStructure on its k-points.
"""

from __future__ import annotations

import numpy as np

from dftflow.taskdoc import TaskDocument


def structure(task: TaskDocument):
    return task.pymatgen_structure()


def complete_dos(task: TaskDocument, arrays: dict, meta: dict):
    """The run's CompleteDos (None when the run stored no per-site DOS)."""
    from pymatgen.electronic_structure.core import Orbital, OrbitalType, Spin
    from pymatgen.electronic_structure.dos import CompleteDos, Dos

    if "pdos" not in arrays:
        return None
    spins = [Spin.up, Spin.down][: arrays["total"].shape[0]]
    energies = arrays["energies"]
    total = Dos(meta.get("efermi"), energies, {s: arrays["total"][i] for i, s in enumerate(spins)})
    kind = Orbital if meta.get("orbital_kind") == "lm" else OrbitalType
    orbitals = [kind[name] for name in meta["orbitals"]]
    st = structure(task)
    pdos = {
        site: {orb: {s: arrays["pdos"][a, o, i] for i, s in enumerate(spins)} for o, orb in enumerate(orbitals)}
        for a, site in enumerate(st)
    }
    return CompleteDos(st, total, pdos)


def band_structure(task: TaskDocument, arrays: dict, meta: dict):
    """The run's band structure: BandStructureSymmLine on the zero-weight path of a band-structure run,
    else a BandStructure on every k-point."""
    from pymatgen.core import Lattice
    from pymatgen.electronic_structure.bandstructure import BandStructure, BandStructureSymmLine
    from pymatgen.electronic_structure.core import Spin

    eig, weights, kpoints = arrays["eigenvalues"], arrays["weights"], arrays["kpoints"]
    labels = list(meta.get("labels") or [None] * len(weights))
    spins = [Spin.up, Spin.down][: eig.shape[0]]
    reciprocal = Lattice(meta["reciprocal_lattice"])
    st = structure(task)
    path = weights == 0
    if path.any() and any(labels[i] for i in np.nonzero(path)[0]):
        idx = np.nonzero(path)[0]
        label_dict = {labels[i]: kpoints[i] for i in idx if labels[i]}
        bands = {s: eig[i][idx].T for i, s in enumerate(spins)}
        return BandStructureSymmLine(kpoints[idx], bands, reciprocal, meta.get("efermi"), label_dict, structure=st)
    bands = {s: eig[i].T for i, s in enumerate(spins)}
    return BandStructure(kpoints, bands, reciprocal, meta.get("efermi"), structure=st)
