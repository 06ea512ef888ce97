"""Fixtures of the cluster tests: a one-node SLURM cluster per test session (per xdist worker), the
MongoDB-protocol server of tests/cluster/mongo_server.py (shared with the other production tests), and
a cluster setup made the way a user makes one (`dftflow cluster init`, FireWorks' qlaunch)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.slurm import SlurmCluster, start_slurm_cluster
from tests.conftest import production_env, production_files


@pytest.fixture(scope="session")
def slurm_session(tmp_path_factory):
    cluster = start_slurm_cluster(tmp_path_factory.mktemp("slurm"))
    yield cluster
    cluster.stop()


@pytest.fixture
def slurm(slurm_session: SlurmCluster):
    """The session's SLURM cluster; jobs a test leaves behind are cancelled after it."""
    yield slurm_session
    slurm_session.command("scancel", "--full", "--user", str(os.getuid()), check=False)
    slurm_session.wait_until_no_job_is_active(timeout=60)


@dataclass
class ClusterSetup:
    files: dict
    env: dict
    launches: Path  # where qlaunch is run (its block_*/launcher_* directories go here)
    run_log: Path  # mock-vasp's MOCK_VASP_RUN_LOG
    slurm: SlurmCluster

    def jobs(self) -> list[dict]:
        """The SLURM jobs of this test (the session's cluster also lists earlier tests' finished jobs)."""
        return [j for j in self.slurm.jobs() if Path(j["workdir"]).resolve().is_relative_to(self.launches.resolve())]

    def qlaunch(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """FireWorks' own qlaunch with the files of `dftflow cluster init` (-c DIR)."""
        return subprocess.run(
            [qlaunch_path(), "-c", str(self.files["config"]), *args],
            cwd=self.launches,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def qlaunch_background(self, *args: str) -> subprocess.Popen:
        log = open(self.launches.parent / "qlaunch.log", "a")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(
            [qlaunch_path(), "-c", str(self.files["config"]), *args],
            cwd=self.launches,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def qlaunch_path() -> str:
    path = shutil.which("qlaunch", path=str(Path(sys.executable).parent))
    assert path, "FireWorks' qlaunch is not installed beside this Python"
    return path


@pytest.fixture
def cluster_setup(tmp_path, mongo_server, slurm) -> ClusterSetup:
    """`dftflow cluster init` files for the session's server and cluster (SLURM adapter as written,
    reservation mode), the environment of a user's shell on the login node (SLURM_CONF, FW_CONFIG_FILE),
    and an empty launch directory."""
    files = production_files(tmp_path, mongo_server, QUEUE_UPDATE_INTERVAL=1)
    run_log = tmp_path / "runs.jsonl"
    env = production_env(tmp_path, files, MOCK_VASP_RUN_LOG=run_log, **slurm.env)
    launches = tmp_path / "launches"
    launches.mkdir()
    return ClusterSetup(files, env, launches, run_log, slurm)
