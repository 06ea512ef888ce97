"""custodian's vasprun.xml checks, reading the file with dftflow's streaming reader.

custodian's VasprunXMLValidator and UnconvergedErrorHandler each parse the whole vasprun.xml with
pymatgen's Vasprun at the end of every run. pymatgen needs ~5-7x the file size in memory (the trap in
shared/docs/vasp_settings.md: sumo #130, pymatgen #251): on a 256-atom hybrid band structure with
LORBIT = 11 (a 4.0 GB vasprun.xml) the study-Y run peaked at 20.7 GB and the two checks added ~100 s per
band structure (custodian + mock-vasp 151 s against 53 s for mock-vasp alone; bench/study_run.py,
2026-12-02), before dftflow read the run itself. These subclasses ask the same questions - does the file parse, did the
run converge - of :class:`~dftflow.vasp.vasprun_fast.FastVasprun` with the projections skipped (the
numbers it reads are pymatgen's, bit for bit). The rest is custodian's: the validator's logger and the
handler's corrections, which parse the file with pymatgen again but only
run once a check has found the run unconverged.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings

from custodian.vasp.handlers import UnconvergedErrorHandler
from custodian.vasp.validators import VasprunXMLValidator


def _read(directory: str, name: str):
    """The run's vasprun.xml without projections; the handler and the validator check the same finished
    file one after the other, so the last read is kept while the file is unchanged (one parse, not two)."""
    path = os.path.realpath(os.path.join(directory, name))
    stat = os.stat(path)  # a missing file raises here, as a parse would
    return _read_unchanged(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _read_unchanged(path: str, size: int, mtime_ns: int):
    from dftflow.vasp.vasprun_fast import FastVasprun

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen's unconverged-run warning: the check answers that
        return FastVasprun(path, projections=None)


class FastVasprunXMLValidator(VasprunXMLValidator):
    """VasprunXMLValidator whose parse is dftflow's streaming reader (truncated or corrupted -> True)."""

    def check(self, directory="./") -> bool:
        try:
            _read(directory, "vasprun.xml")
        except Exception:  # logged as custodian logs it, under the same logger
            logging.getLogger(VasprunXMLValidator.__name__).exception("Failed to load vasprun.xml")
            return True
        return False


class FastUnconvergedErrorHandler(UnconvergedErrorHandler):
    """UnconvergedErrorHandler whose check reads vasprun.xml with dftflow's streaming reader; its
    corrections are custodian's."""

    def check(self, directory="./") -> bool:
        try:
            return not _read(directory, self.output_filename).converged
        except Exception:  # an unreadable file is the validator's finding, as in custodian
            return False
