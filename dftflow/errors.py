"""Exception types that separate a user's mistake from a bug.

Anything a user can cause (bad study file, unknown site label, missing POTCARs, unreachable
database...) raises :class:`InputError`; the CLI prints its message on one line and exits with code 2.
Every other exception is a bug and keeps its traceback.
"""


class DftflowError(Exception):
    """Base class of dftflow's own errors."""


class InputError(DftflowError):
    """A problem with the user's input or environment, reported as one clear message (exit code 2)."""
