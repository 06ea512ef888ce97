"""Console entry point `mock-vasp`: run like vasp_std in the current directory."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

# One BLAS thread per k-point thread: the matrices are small enough that two OpenBLAS threads fighting
# over a busy core are slower than one (measured: 8x on 120x120); parallelism comes from solving
# k-points in parallel threads instead (MOCK_VASP_THREADS, band_solver.py).
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

from mock_vasp.errors import VaspError  # noqa: E402

ERROR_BOX = """ -----------------------------------------------------------------------------
|                                                                             |
|     EEEEEEE  RRRRRR   RRRRRR   OOOOOOO  RRRRRR      ###     ###     ###     |
|     E        R     R  R     R  O     O  R     R     ###     ###     ###     |
|     EEEEE    RRRRRR   RRRRRR   O     O  RRRRRR       #       #       #      |
|     E        R   R    R   R    O     O  R   R                               |
|     EEEEEEE  R     R  R     R  OOOOOOO  R     R     ###     ###     ###     |
|                                                                             |
{body}
|       ---->  I REFUSE TO CONTINUE WITH THIS SICK JOB ... BYE!!! <----       |
|                                                                             |
 -----------------------------------------------------------------------------
"""


def log_invocation(directory: Path, system: str, start: float, status: int) -> None:
    """Append one JSON line per invocation to $MOCK_VASP_RUN_LOG (tests count launches with it)."""
    path = os.environ.get("MOCK_VASP_RUN_LOG")
    if not path:
        return
    line = json.dumps(
        {
            "cwd": str(directory),
            "system": system,
            "start": start,
            "end": time.time(),
            "exit_status": status,
            "pid": os.getpid(),
        }
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _system_of(directory: Path) -> str:
    try:
        from mock_vasp.inputs import read_incar

        return str(read_incar(directory / "INCAR").get("SYSTEM", "unknown system"))
    except Exception:
        return "unknown system"


def main(argv: list[str] | None = None) -> int:
    directory = Path.cwd()
    start = time.time()
    system = _system_of(directory)

    def on_term(signum, frame):
        log_invocation(directory, system, start, -signum)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    from mock_vasp.run import Run

    run = Run(directory)
    try:
        status = run.execute()
    except VaspError as err:
        lines = "\n".join(f"|     {ln:<72}|" for ln in err.message.splitlines())
        sys.stdout.write(err.message + "\n" + ERROR_BOX.format(body=lines))
        sys.stdout.flush()
        for attr in ("outcar",):
            w = getattr(run, attr, None)
            if w is not None and not w.fh.closed:
                w.message(err.message)
                w.close()
        status = err.exit_code
    log_invocation(directory, system, start, status)
    return status


if __name__ == "__main__":
    sys.exit(main())
