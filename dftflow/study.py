"""StudySpec: the typed, strict form of a study file in workflows/*.yaml.

Every key is declared here; an unknown key, a wrong type or a non-integer charge is an InputError
naming the file and the key path. workflows/README.md documents each key. The loader reads YAML with
yaml.safe_load only (no Python object tags), and paths inside the file are relative to the file.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from dftflow.defects import Hydrogen, Vacancy
from dftflow.errors import InputError
from dftflow.vasp.kpoints import STYLES, TRIM_POINTS

SiteLabel = Literal["s_x", "s_y", "s_z"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatticeSpec(_Strict):
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    c: float = Field(gt=0)
    alpha: float = 90.0
    beta: float = 90.0
    gamma: float = 90.0


class HostSpec(_Strict):
    """The host: a structure file, optionally put on a given lattice (a published cell), and how the
    bulk step treats the cell: `cell: relax` (ISIF 3: shape and volume relaxed) or `cell: fixed` (the
    lattice as given, positions relaxed, ISIF 2); `functional`: the bulk relax's functional preset
    (default functional.relax; a hybrid preset such as hsesol relaxes the bulk with the hybrid)."""

    structure: str
    lattice: LatticeSpec | None = None
    cell: Literal["relax", "fixed"] = "relax"
    functional: str | None = None


class PotcarSpec(_Strict):
    functional: str = "PBE_54"
    symbols: dict[str, str] = Field(default_factory=lambda: {"W": "W_sv", "O": "O", "H": "H"})


class FunctionalSpec(_Strict):
    relax: str = "pbesol"
    hybrid: str = "hse06-28"
    aexx: float | None = Field(default=None, ge=0, le=1)
    hfscreen: float | None = Field(default=None, ge=0)
    base_gga: Literal["PE", "PS"] | None = None
    hybrid_relax: StrictBool = False  # relax every cell again with the hybrid (ions only) before its statics


class KpointSpec(_Strict):
    style: str = "Monkhorst-Pack"
    bulk: tuple[StrictInt, StrictInt, StrictInt] = (4, 4, 4)
    supercell: tuple[StrictInt, StrictInt, StrictInt] = (4, 4, 2)

    @field_validator("style")
    @classmethod
    def _style(cls, v):
        if v not in STYLES:
            raise ValueError(f"must be one of {', '.join(STYLES)}")
        return v

    @field_validator("bulk", "supercell")
    @classmethod
    def _positive(cls, v):
        if any(n < 1 for n in v):
            raise ValueError("k-point divisions must be positive")
        return v


class BandPathSpec(_Strict):
    path: list[list[str]] = Field(default_factory=lambda: [["Z", "\\Gamma", "X", "S", "Y", "T", "R", "U"]])
    line_density: float = Field(default=20.0, gt=0)

    @field_validator("path")
    @classmethod
    def _labels(cls, v):
        for branch in v:
            if len(branch) < 2:
                raise ValueError("each branch needs at least two labels")
            for label in branch:
                if label not in TRIM_POINTS:
                    raise ValueError(f"unknown label {label!r}; use {', '.join(TRIM_POINTS)}")
        return v


Spacing = Literal["neighbour", "cell"]


class VacancyDefect(_Strict):
    type: Literal["vacancy"]
    site: SiteLabel
    count: StrictInt = Field(default=1, ge=1)
    orbit: Annotated[int, Field(ge=1, strict=True)] | Literal["all"] | None = None  # "all": one system per orbit
    spacing: Spacing | list[Spacing] = "cell"  # a list: one system per arrangement, the report marks the lowest
    charge: StrictInt = 2

    @field_validator("spacing")
    @classmethod
    def _spacings(cls, v):
        if isinstance(v, list) and (not v or len(set(v)) != len(v)):
            raise ValueError("a list of spacings must name each arrangement once")
        return v

    def variants(self, n_orbits: int) -> list[VacancyDefect]:
        """One concrete vacancy per orbit (orbit: all) and per spacing (a list of spacings)."""
        orbits = list(range(1, n_orbits + 1)) if self.orbit == "all" else [self.orbit]
        spacings = self.spacing if isinstance(self.spacing, list) else [self.spacing]
        return [self.model_copy(update={"orbit": o, "spacing": s}) for o in orbits for s in spacings]

    def recipe(self) -> Vacancy:
        if self.orbit == "all" or isinstance(self.spacing, list):
            raise ValueError("expand the vacancy into its variants first (SystemSpec.expand)")
        return Vacancy(site=self.site, count=self.count, orbit=self.orbit, spacing=self.spacing, charge=self.charge)


class HydrogenDefect(_Strict):
    type: Literal["hydrogen"]
    count: StrictInt | None = Field(default=None, ge=0)
    x: str | float | None = None
    placement: Literal["bonded", "cavity"] = "bonded"
    oxygen_site: Literal["auto", "s_x", "s_y", "s_z"] = "auto"
    cavity: Literal["large", "small", "any"] = "large"
    charge: StrictInt = 0

    @field_validator("x")
    @classmethod
    def _fraction(cls, v):
        if v is None:
            return v
        try:
            value = Fraction(str(v)).limit_denominator(10_000)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"x must be a number or a fraction like 1/64, got {v!r}") from None
        if value < 0:
            raise ValueError("x must not be negative")
        return str(value)

    def recipe(self) -> Hydrogen:
        if (self.count is None) == (self.x is None):
            raise InputError("hydrogen needs exactly one of count or x")
        x = Fraction(self.x) if self.x is not None else None
        return Hydrogen(
            count=self.count,
            x=x,
            placement=self.placement,
            oxygen_site=self.oxygen_site,
            cavity=self.cavity,
            charge=self.charge,
        )


DefectEntry = Annotated[VacancyDefect | HydrogenDefect, Field(discriminator="type")]


SYSTEM_NAME = r"^[A-Za-z0-9_.+()=,/\-]+( [A-Za-z0-9_.+()=,/\-]+)*$"  # goes into INCAR SYSTEM: no ; # ! quotes


class SystemSpec(_Strict):
    name: str | None = Field(default=None, pattern=SYSTEM_NAME, max_length=80)  # default: "WO2.938 V_O(s_z) q=+2"
    defects: list[DefectEntry] = Field(default_factory=list)
    charge: StrictInt | None = None  # total charge; default: sum of the defects' charges
    charges: list[StrictInt] | None = None  # several charge states: one system per charge
    band_structure: StrictBool = False
    partial_charge: StrictBool = False  # PARCHG of the in-gap states the defect-level analysis finds

    @model_validator(mode="after")
    def _one_charge_key(self):
        if self.charges is not None:
            if self.charge is not None:
                raise ValueError("give either charge or charges, not both")
            if not self.charges or len(set(self.charges)) != len(self.charges):
                raise ValueError("charges must list each charge state once")
        return self

    def recipes(self) -> list:
        return [d.recipe() for d in self.defects]

    def expand(self, n_orbits: dict[str, int]) -> list[tuple[SystemSpec, dict]]:
        """The concrete systems this entry stands for, each with what distinguishes it ({"charge": 1,
        "orbit": 2, "spacing": "cell"}, only the keys that vary): one per charge of `charges`, per orbit
        of a vacancy with orbit: all, per spacing of a vacancy with a list of spacings. `n_orbits`:
        crystallographic orbits of each O label in the supercell."""
        options = [d.variants(n_orbits.get(d.site, 1)) if isinstance(d, VacancyDefect) else [d] for d in self.defects]
        out = []
        for combo in itertools.product(*options):
            for charge in self.charges or [self.charge]:
                variant = {"charge": charge} if self.charges is not None else {}
                for given, concrete in zip(self.defects, combo, strict=True):
                    if isinstance(given, VacancyDefect) and given.orbit == "all":
                        variant["orbit"] = concrete.orbit
                    if isinstance(given, VacancyDefect) and isinstance(given.spacing, list):
                        variant["spacing"] = concrete.spacing
                update = {"defects": list(combo), "charge": charge, "charges": None}
                out.append((self.model_copy(update=update), variant))
        return out


class FormationEnergySpec(_Strict):
    """Inputs of formation energies and charge-transition levels.

    Chemical potentials, either absolute (eV/atom, in the hybrid's energy scale) per named limit,
    e.g. chemical_potentials: {O-rich: {O: -4.9}, O-poor: {O: -7.8}}, or relative to a reference computed
    in the workflow: o2_reference: true adds an O2 molecule (relax + hybrid static) and `limits` give
    dmu_O against E(O2)/2, e.g. {O-rich: {O: 0.0}, O-poor: {O: -2.91}}.
    dielectric: a number, a 3x3 tensor, or "compute" (a DFPT step on the relaxed bulk).
    correction: efnv (Kumagai-Oba, from the OUTCAR atomic-site potentials), freysoldt (from the LOCPOT
    planar averages) or none; both through pymatgen-analysis-defects."""

    chemical_potentials: dict[str, dict[str, float]] | None = None
    o2_reference: StrictBool = False
    limits: dict[str, dict[str, float]] | None = None
    dielectric: float | list[list[float]] | Literal["compute"] | None = None
    correction: Literal["efnv", "freysoldt", "none"] = "efnv"

    @field_validator("dielectric")
    @classmethod
    def _dielectric(cls, v):
        if isinstance(v, list) and (len(v) != 3 or any(len(row) != 3 for row in v)):
            raise ValueError("dielectric must be a number, a 3x3 tensor or 'compute'")
        if isinstance(v, int | float) and v <= 0:
            raise ValueError("dielectric must be positive")
        return v

    @model_validator(mode="after")
    def _chemical_potentials(self):
        if (self.chemical_potentials is None) == (not self.o2_reference):
            raise ValueError("give absolute chemical_potentials, or o2_reference: true with limits (not both)")
        if self.o2_reference and not self.limits:
            raise ValueError("o2_reference needs limits: dmu per element against the references, e.g. {O-rich: {O: 0}}")
        if self.chemical_potentials is not None and self.limits is not None:
            raise ValueError("limits are relative to o2_reference; with absolute chemical_potentials leave them out")
        if self.chemical_potentials is not None and not self.chemical_potentials:
            raise ValueError("chemical_potentials needs at least one limit")
        return self


class MeasuredLevel(_Strict):
    """A measured defect level to show beside the computed transition levels (experiment, not computed)."""

    defect: str  # which computed defect it compares with, e.g. "V_O"
    below_cbm: float  # eV below the conduction band
    method: str = ""
    source: str = ""


class StudySpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    reference: str = ""
    notes: str = ""
    host: HostSpec
    supercell: tuple[StrictInt, StrictInt, StrictInt]
    potcars: PotcarSpec = Field(default_factory=PotcarSpec)
    functional: FunctionalSpec = Field(default_factory=FunctionalSpec)
    encut: float = Field(default=520.0, gt=0)
    kpoints: KpointSpec = Field(default_factory=KpointSpec)
    band_path: BandPathSpec = Field(default_factory=BandPathSpec)
    incar: dict[Literal["bulk-relax", "dielectric", "relax", "hybrid"], dict[str, object]] = Field(default_factory=dict)
    systems: list[SystemSpec] = Field(min_length=1)
    formation_energy: FormationEnergySpec | None = None
    measured_levels: list[MeasuredLevel] = Field(default_factory=list)
    _source: str | None = PrivateAttr(default=None)

    @field_validator("supercell")
    @classmethod
    def _supercell(cls, v):
        if any(n < 1 for n in v):
            raise ValueError("supercell multipliers must be positive")
        return v

    @field_validator("incar")
    @classmethod
    def _incar_keys(cls, v):
        for step, tags in v.items():
            for tag in tags:
                if not tag.isupper() or not tag.replace("_", "").isalnum():
                    raise ValueError(f"{step}: {tag!r} is not a VASP INCAR tag (tags are upper case)")
        return v

    @property
    def base_dir(self) -> Path:
        return Path(self._source).parent if self._source else Path.cwd()

    @property
    def source(self) -> str | None:
        """The study file this spec was read from (None when built in code)."""
        return self._source

    def structure_path(self) -> Path:
        path = Path(self.host.structure)
        return path if path.is_absolute() else self.base_dir / path

    def systems_with_pristine(self) -> list[SystemSpec]:
        """The systems, with the pristine supercell first (added when the file has none: every
        study needs it as the reference for defect levels and formation energies)."""
        pristine = [s for s in self.systems if not s.defects]
        if len(pristine) > 1:
            raise InputError(f"study {self.name}: more than one pristine system (no defects)")
        if pristine:
            return pristine + [s for s in self.systems if s.defects]
        return [SystemSpec()] + list(self.systems)


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; every problem is one InputError naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"study file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {yaml_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: a study file is a mapping of keys (name, host, supercell, systems, ...)")
    return study_from_dict(data, source=str(path))


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: what and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def study_from_dict(data: dict, source: str | None = None) -> StudySpec:
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source or 'study'}: " + "; ".join(_describe(err) for err in exc.errors())) from None
    spec._source = source
    return spec


def _describe(err: dict) -> str:
    where = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-union")))
    where = where.replace(".vacancy.", ".").replace(".hydrogen.", ".")
    if err["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    if err["type"] == "missing":
        return f"missing key '{where}'"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"
