"""Per-machine values of a Firetask come from the worker (FWorker env), written ">>key<<" (atomate's
env_chk convention): the same workflow runs on a laptop and on any cluster."""

from __future__ import annotations

from dftflow.errors import InputError


def env_chk(value, fw_spec: dict, strict: bool = True, default=None):
    """Resolve ">>key<<" from fw_spec['_fw_env']; other values pass through unchanged."""
    if isinstance(value, str) and value.startswith(">>") and value.endswith("<<"):
        key = value[2:-2]
        env = fw_spec.get("_fw_env", {}) or {}
        if key in env:
            return env[key]
        if strict:
            raise InputError(f"the worker's FWorker env has no '{key}' (set it in my_fworker.yaml)")
        return default
    return value


def results_db(fw_spec: dict, db_file: str = ">>db_file<<"):
    from dftflow.db import connect_results

    return connect_results(env_chk(db_file, fw_spec))
