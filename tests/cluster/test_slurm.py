"""The cluster path on a real scheduler and a real MongoDB-protocol server: a one-node SLURM cluster
(tests/cluster/slurm.py) and jongodb or mongod (tests/cluster/mongo_server.py), driven by FireWorks' own
qlaunch/rlaunch with the files `dftflow cluster init` wrote, mock-vasp as vasp_cmd. Every job script is
FireWorks' SLURM template (`#!/bin/bash -l`, a login shell that resets PATH), so the job finds rlaunch
only because the written pre_rocket activates the environment."""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from pathlib import Path

import pymongo
import pytest
import yaml

from tests.conftest import TEST_STUDIES, dftflow, run_log

pytestmark = pytest.mark.slurm


def submit(setup, study: Path) -> str:
    """`dftflow submit`; returns the --nlaunches of the qlaunch command it prints (the study's Fireworks)."""
    out = dftflow("submit", study, "--launchpad", setup.files["lp"], "--potcars", "spec", env=setup.env)
    assert out.returncode == 0, out.stderr
    return re.search(r"qlaunch -c CONFIG_DIR -r rapidfire --nlaunches (\d+)", out.stdout)[1]


def launchpad_db(setup):
    config = yaml.safe_load(setup.files["lp"].read_text())
    return pymongo.MongoClient(config["host"], config["port"])[config["name"]]


def states(setup) -> dict[str, str]:
    return {fw["name"]: fw["state"] for fw in launchpad_db(setup).fireworks.find({}, {"name": 1, "state": 1})}


def results(setup) -> list[dict]:
    out = dftflow("results", "--db-file", setup.files["db"], "--json", env=setup.env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def finished_runs(setup) -> Counter:
    """mock-vasp runs that finished (exit status 0), by calculation label."""
    return Counter(r["system"] for r in run_log(setup.run_log) if r.get("exit_status") == 0)


def wait_for(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while not (value := condition()):
        if time.time() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)
    return value


def test_reservation_mode_runs_a_study_through_sbatch_and_reads_it_from_the_server(cluster_setup, tmp_path):
    """The README's recipe: `qlaunch -c DIR -r rapidfire`, one SLURM job per Firework, each submitted
    when its Firework is READY; status, results and report read the server afterwards."""
    setup = cluster_setup
    study = TEST_STUDIES / "pristine_only.yaml"
    nlaunches = submit(setup, study)
    assert nlaunches == "4"  # bulk relax, relax, hybrid static, report
    # --nlaunches = the study's Fireworks, as `dftflow submit` prints it: without it qlaunch can stop early
    # (FireWorks' future_run_exists is False for the instant between a parent marked COMPLETED and its
    # children marked READY; seen in CI under load, 2026-12-02)
    out = setup.qlaunch("-r", "rapidfire", "--sleep", "1", "--nlaunches", nlaunches)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    setup.slurm.wait_until_no_job_is_active()  # qlaunch is done once the last Firework is submitted

    assert set(states(setup).values()) == {"COMPLETED"}, states(setup)
    jobs = setup.jobs()
    assert len(jobs) == 4 and {j["state"] for j in jobs} == {"COMPLETED"}, jobs  # one job per Firework
    launches = list(launchpad_db(setup).launches.find())
    history = [h for launch in launches for h in launch["state_history"]]
    reservations = [h["reservation_id"] for h in history if "reservation_id" in h]
    assert sorted(reservations) == sorted(j["id"] for j in jobs)  # FireWorks recorded each job's SLURM id
    assert {launch["launch_dir"] for launch in launches} == {j["workdir"] for j in jobs}
    script = (Path(jobs[0]["workdir"]) / "FW_submit.script").read_text()
    assert script.startswith("#!/bin/bash -l") and "/bin/activate" in script and "--fw_id" in script

    status = dftflow("status", "pristine_only", "--launchpad", setup.files["lp"], env=setup.env)
    assert status.returncode == 0 and "study pristine_only: completed 4" in status.stdout, status.stdout
    rows = results(setup)
    assert sorted(r["task_label"] for r in rows) == ["bulk relax", "hse-static WO3", "relax WO3"]
    assert {r["executor"] for r in rows} == {"mock"}
    assert finished_runs(setup) == {"bulk relax": 1, "relax WO3": 1, "hse-static WO3": 1}
    report = dftflow("report", study, "--db-file", setup.files["db"], "--out", tmp_path / "report", env=setup.env)
    assert report.returncode == 0, report.stderr
    assert "hse-static WO3" in (tmp_path / "report" / "report.md").read_text()


def test_scheduler_job_logs_survive_in_the_launch_directory(cluster_setup):
    """In reservation mode the Firework runs in the directory SLURM writes the job's .out/.error into."""
    setup = cluster_setup
    submit(setup, TEST_STUDIES / "pristine_only.yaml")
    out = setup.qlaunch("-r", "rapidfire", "--nlaunches", "1")  # one job: the bulk relax
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    setup.slurm.wait_until_no_job_is_active()
    (job,) = setup.jobs()
    assert job["state"] == "COMPLETED" and states(setup)["bulk relax"] == "COMPLETED", (job, states(setup))
    logs = sorted(p.name for p in Path(job["workdir"]).glob(f"*-{job['id']}.*"))
    assert logs == [f"{job['name']}-{job['id']}.error", f"{job['name']}-{job['id']}.out"]
    assert "Rocket finished" in (Path(job["workdir"]) / f"{job['name']}-{job['id']}.out").read_text()


def test_several_jobs_at_once_run_every_firework_exactly_once(cluster_setup):
    """The README's other recipe: `rlaunch rapidfire` inside each job. Three jobs are submitted at once
    (qlaunch fill mode), two run at the same time on the node's CPUs and compete for the two branches of
    the study through FireWorks' checkout on the server: every Firework runs exactly once."""
    setup = cluster_setup
    adapter = setup.files["qadapter"]
    config = setup.files["config"]
    text = adapter.read_text().replace(
        f'rocket_launch: "rlaunch -c {config} singleshot"', f'rocket_launch: "rlaunch -c {config} rapidfire --sleep 1"'
    )
    assert "rapidfire" in text
    adapter.write_text(text)
    # both relaxes slowed (relax WO3: one or two ionic steps of 8 s; the vacancy relax: tens of steps of
    # 0.5 s), so that whichever job takes which, each relax outlasts the other job's start even when a
    # loaded machine starts the second job seconds late
    setup.env["MOCK_VASP_FAULTS"] = (
        "walltime:delay=8:system=relax WO3;walltime:delay=0.5:system=relax WO2.875 V_O(s_z) q=+2"
    )
    submit(setup, TEST_STUDIES / "two_systems.yaml")
    out = setup.qlaunch("-fm", "rapidfire", "--nlaunches", "3")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    setup.slurm.wait_until_no_job_is_active(timeout=300)

    assert set(states(setup).values()) == {"COMPLETED"}, states(setup)
    jobs = setup.jobs()
    assert len(jobs) == 3 and {j["state"] for j in jobs} == {"COMPLETED"}, jobs
    db = launchpad_db(setup)
    assert Counter(launch["fw_id"] for launch in db.launches.find({}, {"fw_id": 1})) == Counter(
        fw["fw_id"] for fw in db.fireworks.find({}, {"fw_id": 1})
    )  # one launch per Firework: none ran twice
    labels = ["bulk relax", "relax WO3", "relax WO2.875 V_O(s_z) q=+2", "hse-static WO3"]
    labels.append("hse-static WO2.875 V_O(s_z) q=+2")
    assert finished_runs(setup) == dict.fromkeys(labels, 1)
    assert sorted(r["task_label"] for r in results(setup)) == sorted(labels)

    runs = [r for r in run_log(setup.run_log) if r.get("exit_status") == 0]
    job_of = {j["workdir"]: j["id"] for j in jobs}
    by_job = {r["system"]: job_of[str(Path(r["cwd"]).parent)] for r in runs}  # rlaunch's launcher_* in the job
    relaxes = [r for r in runs if r["system"].startswith("relax")]
    assert by_job[relaxes[0]["system"]] != by_job[relaxes[1]["system"]]  # the branches ran in two jobs ...
    assert max(r["start"] for r in relaxes) < min(r["end"] for r in relaxes)  # ... at the same time


def test_scancel_mid_vasp_then_recover_and_qlaunch_again(cluster_setup):
    """A job cancelled by the scheduler in the middle of a VASP run leaves its Firework RUNNING on the
    server; `dftflow recover` (FireWorks' lost-run detection) puts it back to READY and qlaunch finishes
    the study: nothing stored twice, nothing lost, the finished bulk relax not run again."""
    setup = cluster_setup
    setup.env["MOCK_VASP_FAULTS"] = "walltime:delay=3:times=5:system=relax WO3"  # 3 s per ionic step
    submit(setup, TEST_STUDIES / "pristine_only.yaml")
    qlaunch = setup.qlaunch_background("-r", "rapidfire", "--sleep", "1")
    try:
        job = wait_for(lambda: _running_relax_job(setup), 240, "the relax WO3 job running mock-vasp")
        setup.slurm.command("scancel", job["id"])
        wait_for(lambda: _job(setup, job["id"])["state"] == "CANCELLED", 60, "the job to be cancelled")
    finally:
        qlaunch.send_signal(signal.SIGTERM)  # qlaunch would wait for the dead Firework forever
        qlaunch.wait(timeout=30)
    assert states(setup)["relax WO3"] == "RUNNING"  # what a killed job leaves on the server
    stored = results(setup)
    assert [r["task_label"] for r in stored] == ["bulk relax"]

    # nothing else runs now, so every RUNNING launch is lost: expiration 0 instead of waiting for its pings
    recover = dftflow("recover", "--launchpad", setup.files["lp"], "--expiration", "0", env=setup.env)
    assert recover.returncode == 0 and "1 lost run(s)" in recover.stdout, recover.stdout + recover.stderr
    out = setup.qlaunch("-r", "rapidfire", "--sleep", "1", "--nlaunches", "3")  # relax, static, report
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    setup.slurm.wait_until_no_job_is_active(timeout=300)

    assert set(states(setup).values()) == {"COMPLETED"}, states(setup)
    rows = results(setup)
    assert sorted(r["task_label"] for r in rows) == ["bulk relax", "hse-static WO3", "relax WO3"]  # once each
    assert next(r for r in rows if r["task_label"] == "bulk relax")["energy"] == stored[0]["energy"]
    assert finished_runs(setup) == {"bulk relax": 1, "relax WO3": 1, "hse-static WO3": 1}
    cancelled = [r for r in run_log(setup.run_log) if r["system"] == "relax WO3" and r.get("exit_status") != 0]
    assert cancelled and cancelled[0]["exit_status"] == -signal.SIGTERM  # mock-vasp got SLURM's SIGTERM


def _job(setup, job_id: str) -> dict:
    return next(j for j in setup.jobs() if j["id"] == job_id)


def _running_relax_job(setup) -> dict | None:
    """The RUNNING job whose launch directory holds relax WO3 with mock-vasp's OUTCAR already written."""
    for job in setup.jobs():
        incar = Path(job["workdir"]) / "INCAR"
        if job["state"] == "RUNNING" and incar.is_file() and "SYSTEM = relax WO3" in incar.read_text():
            if (incar.parent / "OUTCAR").exists():
                return job
    return None
