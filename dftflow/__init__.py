"""dftflow: WO3 defect workflows (PBEsol relax -> hybrid static) on FireWorks + custodian.

The Python API of the results database: ``dftflow.ResultsDB.from_db_file("db.json").query_tasks({...})``
gives typed task documents (``dftflow.TaskDocument``); ``complete_dos(task)``, ``band_structure(task)`` and
``structure(task)`` rebuild the pymatgen objects from the stored blobs.
"""

__version__ = "0.1.0"
__all__ = ["ResultsDB", "TaskDocument", "__version__"]


def __getattr__(name: str):  # lazy: `dftflow --help` must not import the database stack
    if name == "ResultsDB":
        from dftflow.db import ResultsDB

        return ResultsDB
    if name == "TaskDocument":
        from dftflow.taskdoc import TaskDocument

        return TaskDocument
    raise AttributeError(f"module 'dftflow' has no attribute {name!r}")
