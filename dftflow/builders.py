"""StudySpec -> one FireWorks Workflow (the DAG of DESIGN.md).

bulk relax -> {pristine supercell, each defect} relax (built from the relaxed bulk at run time)
-> hybrid static with DOS (reads the relax WAVECAR) -> hybrid band structure where asked
-> report. Firework names are the job labels; every Firework of a calculation runs
WriteVaspInputs, SkipIfStored, RunVaspCustodian, StoreVaspTask.
"""

from __future__ import annotations

from dataclasses import dataclass

from fireworks import Firework, Workflow

from dftflow import __version__
from dftflow.calculations import Study
from dftflow.firetasks import BuildStudyReport, RunVaspCustodian, SkipIfStored, StoreVaspTask, WriteVaspInputs
from dftflow.steps import Step

REPORT_PREFIX = "report"


@dataclass
class StudyWorkflowBuilder:
    """Build the workflow of a study.

    potcars: "real" for VASP (POTCARs must exist on the worker), "spec" for mock-vasp.
    launch_root: when given (embedded runs), each calculation runs in <launch_root>/<slug of label>,
    so a rerun after a kill finds its own earlier outputs; otherwise FireWorks picks launch dirs.
    report_dir: where the report Firework writes (default: its launch directory).
    """

    study: Study
    potcars: str = "real"
    launch_root: str | None = None
    report_dir: str | None = None

    def report_label(self) -> str:
        return f"{REPORT_PREFIX} {self.study.spec.name}"

    def make(self) -> Workflow:
        study_dict = self.study.to_dict()
        fireworks: dict[str, Firework] = {}
        links: dict[Firework, list[Firework]] = {}
        for calc in self.study.calculations:
            spec = {"study": self.study.spec.name, "task_label": calc.label}
            if self.launch_root:
                spec["_launch_dir"] = f"{self.launch_root}/{calc.dirname}"
            tasks = [
                WriteVaspInputs(study=study_dict, label=calc.label, potcars=self.potcars),
                SkipIfStored(),
                RunVaspCustodian(),
                StoreVaspTask(),
            ]
            fw = Firework(tasks, spec=spec, name=calc.label)
            fireworks[calc.label] = fw
            for required in (calc.parent, *calc.requires):
                if required:
                    links.setdefault(fireworks[required], []).append(fw)
        report_spec = {"study": self.study.spec.name, "task_label": self.report_label()}
        if self.launch_root:
            report_spec["_launch_dir"] = f"{self.launch_root}/report"
        report = Firework(
            [BuildStudyReport(study=study_dict, out_dir=self.report_dir)]
            if self.report_dir
            else [BuildStudyReport(study=study_dict)],
            spec=report_spec,
            name=self.report_label(),
        )
        for calc in self.study.calculations:
            if calc.step.hybrid or calc.step is Step.DIELECTRIC:  # every result the report reads
                links.setdefault(fireworks[calc.label], []).append(report)
        metadata = {
            "study": self.study.spec.name,
            "spec_hash": self.study.spec_hash(),
            "dftflow_version": __version__,
            "potcars": self.potcars,
        }
        return Workflow([*fireworks.values(), report], links_dict=links, name=self.study.spec.name, metadata=metadata)
