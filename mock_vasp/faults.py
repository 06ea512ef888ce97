"""Fault injection: reproduce named VASP failures so that custodian's handlers can be tested.

Specs come from the environment variable MOCK_VASP_FAULTS and/or a file MOCK_VASP_FAULTS in the run
directory, separated by ';' or newlines:  NAME[:times=N][:ionic=K][:system=JOB LABEL][:delay=S]
A fault fires at ionic step K (default 1) while it has fired fewer than N times (default 1); the
count is kept in .mock_vasp_faults.json in the run directory, so that custodian's corrected rerun
succeeds.  `system` restricts a fault to runs whose INCAR SYSTEM equals the label.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from mock_vasp.errors import VaspError

STATE_FILE = ".mock_vasp_faults.json"
KNOWN = {
    "zbrent",
    "edddav",
    "eddrmm",
    "brmix",
    "too_few_bands",
    "edwav",
    "kmesh",
    "nelm",
    "frozen",
    "walltime",
    "killed",
    "memory",
}


@dataclass
class Fault:
    name: str
    times: int = 1
    ionic: int = 1
    system: str | None = None
    delay: float = 2.0
    spec: str = ""


def parse_specs(text: str) -> list[Fault]:
    faults = []
    for raw in text.replace("\n", ";").split(";"):
        spec = raw.strip()
        if not spec or spec.startswith("#"):
            continue
        parts = spec.split(":")
        name = parts[0].strip().lower()
        if name not in KNOWN:
            raise VaspError(f"mock-vasp: unknown fault '{name}' in MOCK_VASP_FAULTS (known: {sorted(KNOWN)})")
        f = Fault(name, spec=spec)
        for opt in parts[1:]:
            if "=" not in opt:
                raise VaspError(f"mock-vasp: cannot read fault option '{opt}' in '{spec}'")
            k, v = opt.split("=", 1)
            k = k.strip().lower()
            if k == "times":
                f.times = int(v)
            elif k == "ionic":
                f.ionic = int(v)
            elif k == "system":
                f.system = v.strip()
            elif k == "delay":
                f.delay = float(v)
            else:
                raise VaspError(f"mock-vasp: unknown fault option '{k}' in '{spec}'")
        faults.append(f)
    return faults


class FaultPlan:
    """The faults that apply to this run and their firing counts."""

    def __init__(self, directory: Path, system: str):
        self.directory = directory
        text = os.environ.get("MOCK_VASP_FAULTS", "")
        file = directory / "MOCK_VASP_FAULTS"
        if file.is_file():
            text += ";" + file.read_text()
        self.faults = [f for f in parse_specs(text) if f.system is None or f.system == system.strip()]
        self.state_path = directory / STATE_FILE
        self.counts = self._load()

    def _load(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def pending(self, name: str) -> Fault | None:
        """The first fault with this name that still has firings left."""
        for f in self.faults:
            if f.name == name and self.counts.get(f.spec, 0) < f.times:
                return f
        return None

    def due(self, name: str, ionic_step: int) -> Fault | None:
        f = self.pending(name)
        if f is not None and ionic_step == f.ionic:
            return f
        return None

    def fire(self, fault: Fault) -> None:
        """Record one firing before acting (so that a killed run still counts it)."""
        self.counts[fault.spec] = self.counts.get(fault.spec, 0) + 1
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.counts, indent=1, sort_keys=True))
        os.replace(tmp, self.state_path)
