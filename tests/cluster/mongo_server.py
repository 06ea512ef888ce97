"""A MongoDB wire-protocol server for the tests, started as a process and stopped by its PID.

A real `mongod` is used wherever one is on PATH; otherwise jongodb, an in-memory MongoDB wire-protocol
server shipped as a binary in the npm package @jongodb/memory-server-bin-linux-x64-gnu, which .ci/run
installs with `npm ci --prefix tests/cluster` (tests/cluster/package.json pins it). dftflow and
FireWorks reach it only through the files a user writes (my_launchpad.yaml, db.json, FW_config.yaml).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
JONGODB = HERE / "node_modules" / "@jongodb" / "memory-server-bin-linux-x64-gnu" / "bin" / "jongodb"
INSTALL_HINT = "npm ci --prefix tests/cluster (what .ci/run does)"


def missing_part(reason: str):
    """Skip a test whose real part cannot be had here; in CI (which installs every part) that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MongoServer:
    kind: str  # "mongod" or "jongodb"
    host: str
    port: int
    process: subprocess.Popen
    base: Path
    fw_settings: dict = field(default_factory=dict)
    proxy: object = None  # the LoginProxy in front of the server, for mongo_login's views

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def write_fw_config(self, path: Path, **settings) -> Path:
        """FW_config.yaml for FireWorks with this server: jongodb has no drop/dropDatabase, which FireWorks'
        GridFS fallback collection needs on `lpad reset`, so it is switched off there."""
        path.write_text(yaml.safe_dump({**self.fw_settings, **settings}))
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait()


def start_mongo_server(base: Path) -> MongoServer:
    base.mkdir(parents=True, exist_ok=True)
    log = open(base / "server.log", "w")  # noqa: SIM115 - kept open for the server's lifetime
    mongod = shutil.which("mongod")
    if mongod:
        port = free_port()
        (base / "data").mkdir(exist_ok=True)
        cmd = [mongod, "--dbpath", str(base / "data"), "--bind_ip", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        server = MongoServer("mongod", "127.0.0.1", port, process, base)
    elif JONGODB.is_file():
        port = free_port()
        cmd = [str(JONGODB), "--host=127.0.0.1", f"--port={port}"]
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        server = MongoServer("jongodb", "127.0.0.1", port, process, base, {"GRIDFS_FALLBACK_COLLECTION": None})
    else:
        missing_part(f"no MongoDB-protocol server: no mongod on PATH and no {JONGODB} ({INSTALL_HINT})")
    _wait_until_answering(server)
    return server


def _wait_until_answering(server: MongoServer, timeout: float = 60) -> None:
    import pymongo

    client = pymongo.MongoClient(server.host, server.port, serverSelectionTimeoutMS=500)
    deadline = time.time() + timeout
    try:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.kind} exited: {(server.base / 'server.log').read_text()[-2000:]}")
            try:
                client.admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                if time.time() > deadline:
                    server.stop()
                    raise
    finally:
        client.close()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """One MongoDB-protocol server per test session (per xdist worker); tests use their own databases."""
    server = start_mongo_server(tmp_path_factory.mktemp("mongo"))
    yield server
    server.stop()


@pytest.fixture
def mongo_login(mongo_server):
    """A factory: password -> the session's server behind a SCRAM login for user 'me' with that password
    (tests/cluster/login_proxy.py), as a MongoServer whose host and port are the login's."""
    from tests.cluster.login_proxy import LoginProxy

    proxies = []

    def _with_login(password: str) -> MongoServer:
        proxy = LoginProxy((mongo_server.host, mongo_server.port), "me", password)
        proxies.append(proxy)
        kind = f"{mongo_server.kind} behind a SCRAM login"
        return dataclasses.replace(mongo_server, host=proxy.host, port=proxy.port, kind=kind, proxy=proxy)

    yield _with_login
    for proxy in proxies:
        proxy.close()
