"""Formation energies, eFNV corrections and transition levels against pymatgen-analysis-defects, on the
real GaN Mg_Ga cells (four charge states; OUTCARs with atomic-site potentials, no LOCPOT)."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from dftflow.analysis.band_edges import run_band_edges
from dftflow.analysis.rundata import RunData
from dftflow.analysis.thermodynamics import dielectric_tensor, thermodynamics
from dftflow.study import MeasuredLevel
from tests.conftest import REAL_VASP

MG = REAL_VASP / "GaN_Mg_Ga_defect"
TENSOR = [[9.28, 0.0, 0.0], [0.0, 9.28, 0.0], [0.0, 0.0, 10.4]]  # GaN-like, anisotropic (any tensor will do)
CHARGES = (-2, -1, 0, 1)


@pytest.fixture(scope="module")
def runs():
    bulk = RunData.from_directory(MG / "bulk_sc")
    cells = {}
    for q in CHARGES:
        run = RunData.from_directory(MG / f"q={q}")
        run.doc["charge"] = q  # not made by dftflow: the charge comes from the folder name
        cells[q] = run
    return bulk, cells


@pytest.fixture(scope="module")
def reference(runs):
    """pymatgen-analysis-defects on the same directories, through its own readers."""
    from pymatgen.analysis.defects.core import Substitution
    from pymatgen.analysis.defects.corrections.kumagai import get_efnv_correction, get_structure_with_pot
    from pymatgen.analysis.defects.thermo import DefectEntry, FormationEnergyDiagram
    from pymatgen.core import Composition, Element, PeriodicSite
    from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

    bulk, cells = runs
    elemental = {"Ga": -3.0, "N": -8.3, "Mg": -1.6}  # shared references, eV/atom
    e_bulk = bulk.doc["output"]["energy"]
    pd_entries = [ComputedEntry(Composition(el), e) for el, e in elemental.items()]
    pd_entries += [
        ComputedEntry(Composition("GaN"), e_bulk / 16),
        ComputedEntry(Composition("Mg3N2"), 3 * elemental["Mg"] + 2 * elemental["N"] - 4.0),
    ]
    host = bulk.structure.copy()
    ga = next(i for i, s in enumerate(host) if s.specie.symbol == "Ga")
    defect = Substitution(host, PeriodicSite(Element("Mg"), host[ga].frac_coords, host.lattice))
    bulk_entry = ComputedStructureEntry(bulk.structure.copy(), e_bulk)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bulk_pot = get_structure_with_pot(MG / "bulk_sc")
        entries, efnv = [], {}
        for q in CHARGES:
            defect_pot = get_structure_with_pot(MG / f"q={q}")
            efnv[q] = get_efnv_correction(q, defect_pot, bulk_pot, TENSOR).correction_energy if q else 0.0
            sc_entry = ComputedStructureEntry(cells[q].structure.copy(), cells[q].doc["output"]["energy"])
            entries.append(DefectEntry(defect, q, sc_entry, bulk_entry=bulk_entry, corrections={"efnv": efnv[q]}))
    edges = run_band_edges(bulk)["all"]
    fed = FormationEnergyDiagram(entries, pd_entries, vbm=edges.vbm, band_gap=edges.gap, bulk_entry=bulk_entry)
    return fed, efnv, elemental, edges


def test_formation_energies_corrections_and_transitions_equal_pymatgen_analysis_defects(runs, reference):
    bulk, cells = runs
    fed, efnv, elemental, edges = reference
    limits = {
        f"limit {i}": {el.symbol: elemental[el.symbol] + v for el, v in lim.items()}
        for i, lim in enumerate(fed.chempot_limits)
    }
    spec = SimpleNamespace(correction="efnv")
    tensor, source = dielectric_tensor(TENSOR)
    measured = [MeasuredLevel(defect="Mg_Ga", below_cbm=3.6, method="test", source="none")]
    ours = thermodynamics(
        {"Mg_Ga": [(f"q={q}", cells[q]) for q in CHARGES]},
        bulk,
        spec,
        measured,
        vbm=edges.vbm,
        gap=edges.gap,
        tensor=tensor,
        tensor_source=source,
        limits=limits,
        limit_notes=[],
    )
    by_q = {c.charge: c for c in ours.cells}
    for q in CHARGES:
        assert by_q[q].correction == pytest.approx(efnv[q], abs=1e-8)
        assert by_q[q].correction_method == ("efnv" if q else "none needed (q = 0)")
    assert by_q[1].correction_parts["point_charge"] + by_q[1].correction_parts["alignment"] == pytest.approx(efnv[1])
    for i, limit in enumerate(fed.chempot_limits):
        rows = {r.charge: r for r in ours.formation if r.limit == f"limit {i}"}
        for entry in fed.defect_entries:
            assert rows[entry.charge_state].at_vbm == pytest.approx(fed._vbm_formation_energy(entry, limit), abs=1e-8)
        theirs = fed.get_transitions(limit, 0.0, edges.gap)[1:-1]
        assert [t.above_vbm for t in ours.transitions] == pytest.approx([x for x, _ in theirs], abs=1e-8)
    assert ours.transitions, "Mg_Ga has charge-transition levels in the GaN gap"
    for t in ours.transitions:
        assert t.charges[0] == t.charges[1] + 1 and t.below_cbm == pytest.approx(edges.gap - t.above_vbm)
        assert t.measured_below_cbm == 3.6 and t.measured_source.startswith("experiment")


def test_dielectric_tensor_from_the_study_file_or_the_dielectric_step():
    assert dielectric_tensor(None)[0] is None
    assert np.array_equal(dielectric_tensor(12.5)[0], np.eye(3) * 12.5)
    run = RunData({"task_label": "dielectric bulk", "output": {"dielectric": {"total": TENSOR}}})
    tensor, source = dielectric_tensor("compute", run)
    assert np.array_equal(tensor, TENSOR) and "computed" in source
    assert dielectric_tensor("compute", None)[0] is None
