"""Firetasks of one VASP calculation: write inputs, skip if stored, run under custodian, store."""

from __future__ import annotations

import os

from fireworks import FiretaskBase, FWAction, explicit_serialize

from dftflow.firetasks.env import env_chk, results_db


def _calc_loc(label: str, path: str) -> dict:
    return {"name": label, "path": path, "filesystem": None}


@explicit_serialize
class WriteVaspInputs(FiretaskBase):
    """Build the structure from the parent's outputs and write the inputs of calculation `label`.

    study: Study.to_dict() (spec + host structure); potcars: "real" (POTCARs from PMG_VASP_PSP_DIR)
    or "spec" (offline POTCAR.spec, for mock-vasp).
    """

    required_params = ["study", "label"]
    optional_params = ["potcars", "db_file"]

    def run_task(self, fw_spec):
        from dftflow.calculations import Study
        from dftflow.jobs import prepare_calculation

        study = Study.from_dict(self["study"], potcars=self.get("potcars", "real"))
        db_file = env_chk(self.get("db_file", ">>db_file<<"), fw_spec, strict=False)
        db = results_db(fw_spec, db_file) if db_file else None
        record = prepare_calculation(study, self["label"], os.getcwd(), fw_spec.get("calc_locs", []), db)
        if record.get("skip"):  # nothing to compute (a partial-charge step of a cell without in-gap states)
            return FWAction(stored_data={"skipped": record["skip"]}, exit=True)
        return FWAction(stored_data={"input_hash": record["input_hash"]})


@explicit_serialize
class SkipIfStored(FiretaskBase):
    """When a successful task with the same inputs hash is already stored, skip the run and pass on the
    stored calculation's directory instead (duplicate detection)."""

    required_params = []
    optional_params = ["db_file"]

    def run_task(self, fw_spec):
        from dftflow.jobs import read_inputs_record, stored_duplicate

        duplicate = stored_duplicate(results_db(fw_spec, self.get("db_file", ">>db_file<<")), os.getcwd())
        if duplicate is None:
            return FWAction()
        label = read_inputs_record(os.getcwd())["label"]
        return FWAction(
            stored_data={"duplicate_of": str(duplicate["_id"]), "duplicate_dir": duplicate["dir_name"]},
            mod_spec=[{"_push": {"calc_locs": _calc_loc(label, duplicate["dir_name"])}}],
            exit=True,
        )


@explicit_serialize
class RunVaspCustodian(FiretaskBase):
    """Run VASP under custodian with the handlers of this step. Machine values from the worker:
    vasp_cmd, scratch_dir, and optional custodian settings (polling_time_step, monitor_freq,
    frozen_timeout, wall_time)."""

    required_params = []
    optional_params = ["vasp_cmd", "scratch_dir", "custodian_settings"]

    def run_task(self, fw_spec):
        from dftflow.jobs import run_calculation

        settings = dict(env_chk(self.get("custodian_settings", ">>custodian_settings<<"), fw_spec, strict=False) or {})
        record = run_calculation(
            os.getcwd(),
            env_chk(self.get("vasp_cmd", ">>vasp_cmd<<"), fw_spec),
            scratch_dir=env_chk(self.get("scratch_dir", ">>scratch_dir<<"), fw_spec, strict=False),
            **settings,
        )
        return FWAction(
            stored_data={"custodian": record["corrections"], "reused_finished_run": record.get("reused", False)}
        )


@explicit_serialize
class StoreVaspTask(FiretaskBase):
    """Parse the finished directory into the results database and pass its location to the children."""

    required_params = []
    optional_params = ["db_file"]

    def run_task(self, fw_spec):
        from dftflow.jobs import store_calculation

        doc = store_calculation(results_db(fw_spec, self.get("db_file", ">>db_file<<")), os.getcwd())
        return FWAction(
            stored_data={"task_label": doc["task_label"], "executor": doc["executor"]},
            mod_spec=[{"_push": {"calc_locs": _calc_loc(doc["task_label"], os.getcwd())}}],
        )
