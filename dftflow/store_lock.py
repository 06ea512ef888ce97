"""The one-process lock of an embedded store: an exclusive flock on `<store>/LOCK` (the OS releases it
when the process dies), and in the file who holds it and since when, for the message a second opener
gets."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from dftflow.errors import InputError

SEVERAL_WORKERS = (
    "an embedded work directory belongs to one process: run one `dftflow run` per work directory, or run "
    "several workers (rlaunch multi, mlaunch, qlaunch) against a MongoDB server (README: Running on a cluster)"
)


class StoreBusy(InputError):
    """Another live process holds the store: `holder` says who and since when."""

    def __init__(self, path: Path, holder: str, what: str = "the embedded store", advice: str = ""):
        self.path, self.holder = path, holder
        super().__init__(f"{what} {path} is busy: in use by another dftflow process, {holder}{advice}")


def take_lock(path: Path) -> int:
    """The open descriptor of `path`/LOCK, exclusively flocked, with this process described in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"cannot use {path} as a work directory: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 4096, 0).decode(errors="replace")
        os.close(fd)
        raise StoreBusy(path, describe_holder(holder), advice="; " + SEVERAL_WORKERS) from None
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": _command_line(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    return fd


def _command_line() -> str:
    """`dftflow run study.yaml` (also when started as python -m dftflow), for the busy message."""
    argv = list(sys.argv) or ["python"]
    program = Path(argv[0])
    name = program.parent.name if program.name == "__main__.py" else program.name
    return " ".join([name if name not in ("", "-c") else "python", *argv[1:]])


def describe_holder(text: str) -> str:
    """'pid 123 on host (dftflow run x.yaml), since 2026-12-02 10:31:05 UTC' from the LOCK file's text."""
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']} ({info['command']}), since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return f"pid {text.strip() or '?'} (it has not said since when)"
