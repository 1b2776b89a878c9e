"""Back up the store of a running `orchestrator serve` while executions run, stop the server,
restore the backup into a fresh data directory, start a server there (with a new local Ray),
and check that the executions caught mid-run in the backup resume and succeed, and that no
task the backup had recorded as succeeded runs again."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec
from models.executions import ExecutionRecord, ExecutionStatus, TaskStatus
from tests.support.serve_process import BIN, Serve, free_port

WORKFLOW = """
name: chain
inputs: {project: {type: string}}
tasks:
  - {id: plan, agent: slow, input: {spec: "${inputs.project}", kind: plan}}
  - {id: build, agent: slow, input: {spec: "${tasks.plan.output.artifact}", kind: build}}
  - {id: ship, agent: slow, input: {spec: "${tasks.build.output.artifact}", kind: ship}}
outputs: {release: "${tasks.ship.output.artifact}"}
"""
PROJECTS = ("alpha", "beta", "gamma")


def poll(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g}s")


def mid_run(client: OrchestratorClient, ids: list[str]) -> bool:
    executions = [client.get_execution(i) for i in ids]
    tasks = [t for e in executions for t in e.tasks.values()]
    return any(t.status is TaskStatus.SUCCEEDED for t in tasks) and any(
        t.status is TaskStatus.RUNNING for t in tasks
    )


def admin(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "orchestrator"), "admin", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def backed_up_tasks(backup: Path) -> dict[tuple[str, str], str]:
    with contextlib.closing(sqlite3.connect(backup)) as conn:
        rows = conn.execute("SELECT execution_id, task_id, status FROM tasks").fetchall()
    return {(e, t): s for e, t, s in rows}


@pytest.mark.timeout(600)
def test_backup_while_executions_run_then_restore_and_resume(tmp_path: Path) -> None:
    first = Serve(tmp_path / "first", free_port(), None, {})
    try:
        with OrchestratorClient(first.address, timeout_s=120) as client:
            client.deploy_agent(
                AgentSpec(
                    "slow",
                    "v1",
                    "samples.agents:CodeGenAgent",
                    replicas=2,
                    config={"delay_s": 1.5},
                )
            )
            client.create_workflow(WORKFLOW)
            ids = [
                client.start_execution("chain", {"project": p}, request_id=f"run-{p}").execution_id
                for p in PROJECTS
            ]
            poll(lambda: mid_run(client, ids), 120, "executions caught mid-run")
            backup = tmp_path / "backup.db"
            done = admin("backup", "--data-dir", str(tmp_path / "first"), "--out", str(backup))
            assert done.returncode == 0, done.stderr
            assert "backed up" in done.stdout
    finally:
        assert first.terminate() == 0

    snapshot = backed_up_tasks(backup)
    assert "SUCCEEDED" in snapshot.values()
    assert {"PENDING", "RUNNING"} & set(snapshot.values()), "the backup holds no unfinished task"

    fresh = tmp_path / "fresh"
    done = admin("restore", "--data-dir", str(fresh), "--from", str(backup))
    assert done.returncode == 0, done.stderr
    second = Serve(fresh, free_port(), None, {})
    try:
        with OrchestratorClient(second.address, timeout_s=60) as client:
            for execution_id, project in zip(ids, PROJECTS, strict=True):
                ended: ExecutionRecord = poll(
                    lambda i=execution_id: (e := client.get_execution(i)).status.terminal and e,
                    180,
                    f"execution {execution_id} ending after the restore",
                )
                assert ended.status is ExecutionStatus.SUCCEEDED, ended.error
                assert ended.outputs == {"release": f"ship:build:plan:{project}"}
                for task_id, task in ended.tasks.items():
                    if snapshot.get((execution_id, task_id)) == "SUCCEEDED":
                        assert len(task.attempts) == 1, (task_id, task.attempts)
    finally:
        assert second.terminate() == 0
