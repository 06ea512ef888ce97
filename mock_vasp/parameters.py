"""Loads params.yaml, the single documented parameter file of the model."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PARAMS_FILE = Path(__file__).with_name("params.yaml")


@lru_cache(maxsize=1)
def load_params() -> dict:
    """The parsed parameter file (cached; treat as read-only)."""
    with PARAMS_FILE.open() as fh:
        return yaml.safe_load(fh)
