"""`python -m dftflow.vasp.tether CMD ...`: run CMD so that it dies with the process that started it.

The embedded runner launches VASP (or mock-vasp) from inside the `dftflow run` process through
custodian. If that process is SIGKILLed, a plain child would keep running and keep writing into the
run directory while the rerun starts there. On Linux this wrapper asks the kernel to SIGKILL it when
its parent dies (PR_SET_PDEATHSIG, kept across exec) and then becomes CMD. Elsewhere it just execs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        sys.exit("usage: python -m dftflow.vasp.tether -- COMMAND [ARGS...]")
    if sys.platform.startswith("linux"):
        parent = os.getppid()
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            sys.exit(1)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
