"""The last Firework of a study: tables (and figures) from the results database."""

from __future__ import annotations

import os

from fireworks import FiretaskBase, FWAction, explicit_serialize

from dftflow.firetasks.env import env_chk, results_db


@explicit_serialize
class BuildStudyReport(FiretaskBase):
    """Write the study's report from the stored results into `out_dir` (default: the launch directory)."""

    required_params = ["study"]
    optional_params = ["out_dir", "db_file"]

    def run_task(self, fw_spec):
        from dftflow.calculations import Study
        from dftflow.report import write_report

        study = Study.from_dict(self["study"], potcars="spec")
        out_dir = env_chk(self.get("out_dir"), fw_spec, strict=False) or os.getcwd()
        paths = write_report(study, results_db(fw_spec, self.get("db_file", ">>db_file<<")), out_dir)
        return FWAction(stored_data={"report": str(paths["markdown"])})
