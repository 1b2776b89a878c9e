"""SIGKILL `orchestrator serve` (and its local Ray) at a schedule's firing time, start it again
on the same data directory, and check that every firing time from the first to the last one
handled started exactly one execution, nothing twice, and that no task that had succeeded ran
again. Killed just before the firing time, the time is caught up on restart; killed the moment
its execution shows up, the firing may not have stored its state yet, and the restart finds
the execution by its request id instead of starting another.

The two kill moments run side by side, each with its own server, local Ray and data directory:
they wait for the same minute boundary, so the pair costs one wait instead of two."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec
from models.cron_zones import rfc3339
from models.executions import AttemptStatus, ExecutionRecord, ExecutionStatus
from models.schedules import OverlapPolicy, ScheduleSpec
from tests.support.serve_process import Serve, free_port

WORKFLOW = """
name: tick
inputs: {label: {type: string}}
tasks:
  - {id: echo, agent: echo, input: {label: "${inputs.label}"}}
outputs: {echoed: "${tasks.echo.output}"}
"""
NAME = "every-minute"
PREFIX = f"schedule:{NAME}:"


def poll(check, timeout: float, what: str, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:g}s")


def scheduled(client: OrchestratorClient) -> list[ExecutionRecord]:
    return [e for e in client.list_executions("tick") if e.request_id.startswith(PREFIX)]


def kill_as_it_starts(database: Path, fire_time: float, serve: Serve) -> None:
    """Kills the server as soon as the execution of `fire_time` is committed: watched in the
    database file itself (WAL readers see a commit at once), so the kill lands a fraction of
    a millisecond after the start, usually before the schedule's own state is written."""
    wanted = PREFIX + rfc3339(fire_time)
    time.sleep(max(0.0, fire_time - 0.05 - time.time()))
    deadline = time.monotonic() + 30
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as conn:
        query = "SELECT 1 FROM executions WHERE request_id=?"
        while conn.execute(query, (wanted,)).fetchone() is None:
            assert time.monotonic() < deadline, "the firing never started"
    serve.kill()


KILLS = ("before-the-firing", "as-it-starts")


@pytest.mark.timeout(600)
def test_sigkill_at_a_firing_time_then_restart_starts_each_time_once(tmp_path: Path) -> None:
    ports = {kill: free_port() for kill in KILLS}
    assert len(set(ports.values())) == len(KILLS)
    with ThreadPoolExecutor(len(KILLS)) as pool:
        runs = {
            kill: pool.submit(kill_and_restart, kill, tmp_path / kill, ports[kill])
            for kill in KILLS
        }
    for kill, run in runs.items():
        error = run.exception()
        if error is not None:
            raise AssertionError(f"killed {kill}: {error}") from error


def kill_and_restart(kill: str, tmp_path: Path, port: int) -> None:
    tmp_path.mkdir()
    config = tmp_path / "serve.toml"
    config.write_text("[loops]\nschedule_interval_s = 0.05\n")
    data_dir = tmp_path / "data"
    serve = ("--config", str(config))
    first = Serve(data_dir, port, None, {}, extra_args=serve)
    try:
        with OrchestratorClient(first.address, timeout_s=120) as client:
            client.deploy_agent(AgentSpec("echo", "v1", "samples.agents:EchoAgent"))
            client.create_workflow(WORKFLOW)
            schedule, _ = client.create_schedule(
                ScheduleSpec(
                    NAME,
                    "tick",
                    "* * * * *",
                    inputs={"label": "tick"},
                    overlap_policy=OverlapPolicy.ALLOW_ALL,
                    catch_up_window_s=600.0,
                )
            )
            fire_time = schedule.state.next_fire_time
            assert fire_time is not None
            if kill == "as-it-starts":
                kill_as_it_starts(data_dir / "orchestrator.db", fire_time, first)
            else:
                time.sleep(max(0.0, fire_time - 0.2 - time.time()))
    finally:
        if first.proc.poll() is None:
            first.kill()
    killed_at = time.time()

    second = Serve(data_dir, port, None, {}, extra_args=serve)
    try:
        with OrchestratorClient(second.address, timeout_s=60) as client:
            # The firing time of the kill starts (once) and is recorded as fired.
            poll(
                lambda: (client.get_schedule(NAME).state.last_fire_time or 0) >= fire_time,
                timeout=90,
                what="the firing time of the kill, recorded after the restart",
            )
            final = client.pause_schedule(NAME).state  # nothing fires from here on
            runs = scheduled(client)
            by_request = {e.request_id: e for e in runs}
            assert len(by_request) == len(runs), "two executions share a request id"
            assert final.last_fire_time is not None
            expected = {
                PREFIX + rfc3339(t)
                for t in range(int(fire_time), int(final.last_fire_time) + 1, 60)
            }
            context = f"(killed {killed_at - fire_time:+.3f}s from the firing time)"
            assert set(by_request) == expected, context
            assert final.missed_count == 0 and final.failed_count == 0, (final, context)
            for run in runs:
                ended = poll(
                    lambda run=run: (
                        (e := client.get_execution(run.execution_id)).status.terminal and e
                    ),
                    timeout=120,
                    what=f"execution {run.execution_id} ending",
                )
                assert ended.status is ExecutionStatus.SUCCEEDED, (ended.error, context)
                succeeded = [
                    a for a in ended.tasks["echo"].attempts if a.status is AttemptStatus.SUCCEEDED
                ]
                assert len(succeeded) == 1, (ended.tasks["echo"].attempts, context)
                assert ended.outputs == {"echoed": {"label": "tick"}}
    finally:
        second.kill()
