"""The task document: what the results database stores for every VASP run, as a typed model.

Field names follow emmet-core's TaskDoc (what atomate2 stores) wherever the meaning is the same:
`task_label`, `state`, `dir_name`, `completed_at`, `formula_pretty`, `nsites`, `structure`,
`input.incar`, `input.kpoints`, `input.nkpoints`, `input.potcar_spec` ([{titel, hash}]),
`input.parameters`, `output.energy`, `output.energy_per_atom`, `output.bandgap`, `output.forces`,
`output.stress`, `custodian` (one record per custodian correction: errors, actions, handler; emmet
keeps {corrections, job} per run, dftflow the corrections of its one job). dftflow adds what its
analysis and a referee need: the study context (`study`, `step`, `system`, `parent`, `charge`,
`defect`), the functional as run (`functional`: base GGA, AEXX, HFSCREEN, never a run-type label), the
band edges, core potentials, dielectric tensors, partial-charge files, the executor (`vasp` or `mock`)
and provenance (input and parent-input hashes, POTCAR hashes, the starting structure, whether the
WAVECAR was read, the lattice used).

Documents written before this model (schema 1) still load: `TaskDocument.from_stored` migrates them
(`formula` -> `formula_pretty`, `input.potcar_symbols` -> `input.potcar_spec`); nothing is lost, unknown
fields are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2


class _Doc(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class FunctionalDoc(_Doc):
    base_gga: str = "PE"
    lhfcalc: bool = False
    aexx: float = 0.0
    hfscreen: float = 0.0
    ldau: bool = False
    label: str = ""


class DefectDoc(_Doc):
    descriptor: str | None = None
    charge: int = 0
    sites: list[dict] = Field(default_factory=list)
    seed_w: list[int] = Field(default_factory=list)
    defect_electrons: int = 0


class KpointsDoc(_Doc):
    n: int = 0
    n_zero_weight: int = 0
    description: Any = None
    path: list[dict] | None = None  # band-structure runs: [{"label", "frac_coords"}] of the labelled path points


class PotcarSpecDoc(_Doc):
    symbol: str
    titel: str | None = None
    hash: str | None = None  # md5 of the POTCAR block actually used (real POTCARs only)
    functional: str | None = None  # POTCAR set, e.g. PBE_54


class InputDoc(_Doc):
    hash: str | None = None
    parent_hash: str | None = None
    incar: dict = Field(default_factory=dict)
    parameters: dict | None = None
    encut: float = 0.0
    nelect: float = 0.0
    nbands: int = 0
    ispin: int = 1
    kpoints: KpointsDoc = Field(default_factory=KpointsDoc)
    nkpoints: int | None = None
    potcar_spec: list[PotcarSpecDoc] = Field(default_factory=list)
    wavecar_read: bool | None = None
    structure_provenance: dict | None = None


class OutputDoc(_Doc):
    energy: float | None = None
    energy_per_atom: float | None = None
    efermi: float | None = None
    bandgap: float | None = None
    cbm: float | None = None
    vbm: float | None = None
    is_gap_direct: bool | None = None
    is_metal: bool | None = None
    ionic_steps: int = 0
    max_force: float | None = None
    forces: list[list[float]] | None = None
    stress: list[list[float]] | None = None
    converged_electronic: bool | None = None
    converged_ionic: bool | None = None
    total_magnetization: float | None = None
    magnetization: list[float] | None = None  # per-atom moments (OUTCAR), mu_B
    core_potentials: list[float] = Field(default_factory=list)
    dielectric: dict | None = None
    parchg_files: list[str] | None = None


class TaskDocument(_Doc):
    schema_version: int = SCHEMA_VERSION
    task_id: str | None = None
    task_label: str
    study: str | None = None
    step: str | None = None
    system: str | None = None
    parent: str | None = None
    state: str = "successful"
    executor: str = "vasp"
    executor_version: str = ""
    code_version: str = ""
    dir_name: str | None = None
    completed_at: str | None = None
    formula_pretty: str | None = None
    nsites: int | None = None
    composition_label: str | None = None
    charge: int | None = None
    defect: DefectDoc | None = None
    functional: FunctionalDoc = Field(default_factory=FunctionalDoc)
    approximations: list[str] = Field(default_factory=list)
    lattice: str | None = None
    reference: bool = False
    structure: dict = Field(default_factory=dict)
    input: InputDoc = Field(default_factory=InputDoc)
    output: OutputDoc = Field(default_factory=OutputDoc)
    custodian: list[dict] = Field(default_factory=list)
    blobs: dict[str, dict] = Field(default_factory=dict)
    doc_bytes: int | None = None

    @classmethod
    def from_stored(cls, doc: dict) -> TaskDocument:
        """A stored document of any schema version, migrated to this one."""
        data = {k: v for k, v in doc.items() if k != "_id"}
        if "_id" in doc:
            data.setdefault("task_id", str(doc["_id"]))
        if data.get("schema_version", 1) < 2:
            data = migrate_v1(data)
        return cls.model_validate(data)

    def to_stored(self) -> dict:
        """The document as the database stores it (plain JSON types)."""
        return self.model_dump(mode="json", exclude={"task_id"}, exclude_none=False)

    def pymatgen_structure(self):
        from pymatgen.core import Structure

        return Structure.from_dict(self.structure)


def migrate_v1(doc: dict) -> dict:
    """Schema 1 (dftflow before the typed model) -> schema 2: renamed fields; everything else kept."""
    data = dict(doc)
    if "formula" in data and "formula_pretty" not in data:
        data["formula_pretty"] = data.pop("formula")
    inputs = dict(data.get("input") or {})
    if "potcar_symbols" in inputs and "potcar_spec" not in inputs:
        inputs["potcar_spec"] = [{"symbol": s} for s in inputs.pop("potcar_symbols")]
    data["input"] = inputs
    data["schema_version"] = SCHEMA_VERSION
    return data
