"""Machine configuration: built-in defaults < ~/.dftflow.yaml < environment variables DFTFLOW_*.

Only machine matters live here (where to work, how to start VASP, where the production databases
are); scientific settings come from presets and study files and never from here. Unknown keys in
the file are errors, so a typo cannot silently fall back to a default.

| key | env | meaning |
|---|---|---|
| home | DFTFLOW_HOME | embedded work directory (default: ./.dftflow) |
| vasp_cmd | DFTFLOW_VASP_CMD | command that runs real VASP, e.g. "srun vasp_std" (unset: offline mock) |
| scratch_dir | DFTFLOW_SCRATCH_DIR | custodian scratch directory for real runs (optional) |
| launchpad | DFTFLOW_LAUNCHPAD | my_launchpad.yaml of the production LaunchPad |
| db_file | DFTFLOW_DB_FILE | results database file (JSON/YAML: host, port, database, username, password | uri) |
| frozen_timeout | DFTFLOW_FROZEN_TIMEOUT | seconds without VASP output before custodian kills a run (embedded runs) |
| wall_time | DFTFLOW_WALL_TIME | seconds a `dftflow run` may use before VASP is stopped cleanly (embedded runs) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from dftflow.errors import InputError

CONFIG_FILE = Path("~/.dftflow.yaml")


@dataclass(frozen=True)
class Settings:
    home: str = ".dftflow"
    vasp_cmd: str | None = None
    scratch_dir: str | None = None
    launchpad: str | None = None
    db_file: str | None = None
    frozen_timeout: str | None = None
    wall_time: str | None = None

    def custodian_settings(self) -> dict:
        """Per-machine custodian settings for embedded runs (numbers checked here)."""
        out = {}
        for key in ("frozen_timeout", "wall_time"):
            value = getattr(self, key)
            if value is None:
                continue
            try:
                out[key] = float(value)
            except ValueError:
                raise InputError(f"setting {key} must be a number of seconds, got {value!r}") from None
            if out[key] <= 0:
                raise InputError(f"setting {key} must be positive, got {value!r}")
        return out

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()


def load_settings(config_file: str | Path | None = None, environ: dict | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    values: dict = {}
    path = Path(config_file or environ.get("DFTFLOW_CONFIG") or CONFIG_FILE).expanduser()
    names = {f.name for f in fields(Settings)}
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            from dftflow.study import yaml_problem

            raise InputError(f"{path}: not valid YAML: {yaml_problem(exc)}") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a mapping of settings")
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"{path}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        values.update({k: (str(v) if v is not None else None) for k, v in data.items()})
    for name in names:
        env = environ.get(f"DFTFLOW_{name.upper()}")
        if env:
            values[name] = env
    return Settings(**values)
