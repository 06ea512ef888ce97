"""Thin FireWorks adapters: each Firetask reads its parameters (machine values through env_chk) and
calls one library function in dftflow.jobs or dftflow.report. Class names and module paths are stored
in every workflow document, so they do not change."""

from dftflow.firetasks.calc import RunVaspCustodian, SkipIfStored, StoreVaspTask, WriteVaspInputs
from dftflow.firetasks.report import BuildStudyReport

__all__ = ["BuildStudyReport", "RunVaspCustodian", "SkipIfStored", "StoreVaspTask", "WriteVaspInputs"]
