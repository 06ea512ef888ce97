"""The one exception mock-vasp raises for a run VASP would refuse: its text goes to vasp.out."""


class VaspError(Exception):
    """An input or run-time error reported in VASP's words; `exit_code` is the process status."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
