"""A one-node SLURM cluster on this machine for the tests: Debian's slurm-wlm and munge, started by hand
(no systemd) in a temporary directory and stopped by their PIDs.

The slurm.conf is written for the machine it runs on (`slurmd -C` gives the node's CPUs and memory):
localhost controller and node on free ports, ProctrackType=proctrack/linuxproc and TaskPlugin=task/none
(no cgroups needed), no accounting. Clients (sbatch, squeue, scancel and so FireWorks' qlaunch) find
it through SLURM_CONF; a SLURM job inherits the environment of its sbatch (SLURM's default
--export=ALL), so the jobs do too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.mongo_server import free_port, missing_part

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
INSTALL_HINT = "apt-get install slurm-wlm munge (what .ci/run does)"


def _binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.path.exists(p)), None)


@dataclass
class SlurmCluster:
    base: Path
    node: str
    cpus: int
    env: dict  # SLURM_CONF for clients
    processes: dict = field(default_factory=dict)  # name -> Popen, in start order

    def command(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env}
        out = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {out.stderr.strip()}")
        return out

    def jobs(self) -> list[dict]:
        """Every job SLURM still knows (running, pending and recently finished)."""
        fmt = "%i|%j|%T|%Z"
        out = self.command("squeue", "-h", "-a", "-t", "all", "-o", fmt).stdout
        keys = ("id", "name", "state", "workdir")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in out.splitlines() if line.strip()]

    def wait_until_no_job_is_active(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while any(j["state"] in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING") for j in self.jobs()):
            if time.time() > deadline:
                raise TimeoutError(f"SLURM jobs still active: {self.jobs()}")
            time.sleep(0.5)

    def stop(self) -> None:
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.command("scancel", "--full", "--user", str(os.getuid()), check=False)  # jobs of this cluster only
            try:
                self.wait_until_no_job_is_active(timeout=30)
            except (TimeoutError, RuntimeError, subprocess.TimeoutExpired):
                pass
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                os.kill(process.pid, 15)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, 9)
                    process.wait()

    def log(self, name: str) -> str:
        path = self.base / f"{name}.log"
        return path.read_text()[-3000:] if path.exists() else ""


def slurm_conf(base: Path, node_line: str, ctld_port: int, slurmd_port: int, munge_socket: Path) -> str:
    return f"""# one-node test cluster written by tests/cluster/slurm.py
ClusterName=dftflowtest
SlurmctldHost={node_line.split()[0].split("=", 1)[1]}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={base}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=5
MinJobAge=600
{node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def start_slurm_cluster(base: Path, timeout: float = 90) -> SlurmCluster:
    missing = [name for name in DAEMONS if _binary(name) is None]
    if missing:
        missing_part(f"no {', '.join(missing)}: {INSTALL_HINT}")
    base.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool", "munge"):
        (base / sub).mkdir(mode=0o700, exist_ok=True)
    key = base / "munge" / "munge.key"
    subprocess.run([_binary("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
    socket_path = base / "munge" / "munge.socket"
    node_line = subprocess.run([_binary("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    node_line = node_line.splitlines()[0].strip()  # "NodeName=vm CPUs=2 ... RealMemory=24105"
    node = node_line.split()[0].split("=", 1)[1]
    cpus = int(next(f for f in node_line.split() if f.startswith("CPUs=")).split("=")[1])
    conf = base / "slurm.conf"
    conf.write_text(slurm_conf(base, node_line, free_port(), free_port(), socket_path))
    (base / "plugstack.conf").write_text("")
    cluster = SlurmCluster(base, node, cpus, {"SLURM_CONF": str(conf)})
    daemon_env = {**os.environ, "SLURM_CONF": str(conf)}
    commands = {
        "munged": [
            *(_binary("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={socket_path}"),
            *(f"--pid-file={base}/munge/munged.pid", f"--log-file={base}/munged.log", f"--seed-file={base}/munge/seed"),
        ],
        "slurmctld": [_binary("slurmctld"), "-D", "-i", "-f", str(conf)],
        "slurmd": [_binary("slurmd"), "-D", "-f", str(conf), "-N", node],
    }
    try:
        for name, cmd in commands.items():
            out = open(base / f"{name}.stdout", "w")  # noqa: SIM115 - the daemon's, closed with the process
            cluster.processes[name] = subprocess.Popen(cmd, env=daemon_env, stdout=out, stderr=subprocess.STDOUT)
            if name == "munged":
                _wait_for(lambda: socket_path.exists(), timeout, "munged's socket", cluster)
            if name == "slurmctld":
                _wait_for(lambda: cluster.command("sinfo", "-h", check=False).returncode == 0, timeout, name, cluster)
        _wait_for(lambda: _node_state(cluster) == "idle", timeout, "the node to be idle", cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _node_state(cluster: SlurmCluster) -> str:
    out = cluster.command("sinfo", "-h", "-N", "-o", "%T", check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def _wait_for(condition, timeout: float, what: str, cluster: SlurmCluster) -> None:
    deadline = time.time() + timeout
    while not condition():
        dead = [name for name, p in cluster.processes.items() if p.poll() is not None]
        if dead or time.time() > deadline:
            logs = " | ".join(f"{n}: {cluster.log(n)[-800:]}" for n in cluster.processes)
            stdouts = " | ".join(f"{n}: {(cluster.base / f'{n}.stdout').read_text()[-800:]}" for n in cluster.processes)
            raise RuntimeError(f"SLURM test cluster: waiting for {what}; exited: {dead}; {logs} {stdouts}")
        time.sleep(0.2)
