"""Heartbeats on real Ray, through a real server: an agent that heartbeats and then hangs fails
as HeartbeatTimeout and its retry resumes from the last details; a sync agent's details show in
GetExecution while it runs and in the event stream; a cancelled sync attempt that keeps
heartbeating is stopped by its own heartbeat, freeing the replica for the retry."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec
from models.executions import AttemptStatus, EventType, ExecutionRecord, ExecutionStatus
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

AGENTS = "tests.support.heartbeat_agents"


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=60) as c:
        for name, cls in (("crawler", "ResumableCrawler"), ("progress", "SyncProgress")):
            c.deploy_agent(AgentSpec(name, "v1", f"{AGENTS}:{cls}", replicas=1))
        c.deploy_agent(AgentSpec("tireless", "v1", f"{AGENTS}:Tireless", max_concurrency=1))
        yield c


def _workflow(name: str, task: dict[str, Any]) -> str:
    return json.dumps({"name": name, "tasks": [{"id": "work", **task}]})


def _finished(client: OrchestratorClient, execution_id: str) -> ExecutionRecord:
    def check() -> ExecutionRecord | None:
        record = client.get_execution(execution_id)
        return record if record.status.terminal else None

    return eventually(check, timeout=60)


def test_a_hung_attempt_fails_as_heartbeat_timeout_and_the_retry_resumes(
    client: OrchestratorClient,
) -> None:
    client.create_workflow(
        _workflow(
            "crawl",
            {
                "agent": "crawler",
                "input": {"pages": 10, "stall_at": 4},
                "heartbeat_timeout": "2s",
                "retry": {"max_attempts": 2, "initial_interval": "100ms"},
            },
        )
    )
    started = time.monotonic()
    handle = client.start_execution("crawl")
    done = _finished(client, handle.execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert time.monotonic() - started < 30
    task = done.tasks["work"]
    assert [a.status for a in task.attempts] == [AttemptStatus.TIMED_OUT, AttemptStatus.SUCCEEDED]
    error = task.attempts[0].error
    assert error is not None and error.type == "HeartbeatTimeout", error
    assert "heartbeat_timeout 2s" in error.message
    assert task.output == {"resumed_from": {"page": 4}, "pages": 10, "attempt": 2}
    assert task.last_heartbeat == {"page": 10}
    assert task.last_heartbeat_time is not None

    events = list(handle.watch())
    beats = [e for e in events if e.type is EventType.ATTEMPT_HEARTBEAT]
    assert beats and all(set(e.details) == {"attempt", "details"} for e in beats)
    first_attempt = [e.details["details"] for e in beats if e.details["attempt"] == 1]
    assert first_attempt[-1] == {"page": 4}  # recorded when the attempt was given up
    assert len(first_attempt) <= 2  # four heartbeats in 0.2 s: coalesced
    assert beats[-1].details == {"attempt": 2, "details": {"page": 10}}


def test_sync_heartbeats_show_in_get_execution_while_running(
    client: OrchestratorClient, tmp_path: Path
) -> None:
    gate = tmp_path / "done"
    client.create_workflow(
        _workflow("progress", {"agent": "progress", "input": {"until_file": str(gate)}})
    )
    handle = client.start_execution("progress")

    def reported(at_least: int) -> ExecutionRecord | None:
        record = client.get_execution(handle.execution_id)
        beat = record.tasks["work"].last_heartbeat
        return record if beat is not None and beat["done"] >= at_least else None

    first = eventually(lambda: reported(1), timeout=60)
    assert first.status is ExecutionStatus.RUNNING
    assert first.tasks["work"].last_heartbeat is not None
    assert first.tasks["work"].last_heartbeat["unit"] == "steps"
    seen = first.tasks["work"].last_heartbeat["done"]
    later = eventually(lambda: reported(seen + 10), timeout=30)  # it keeps moving
    first_time, later_time = (
        first.tasks["work"].last_heartbeat_time,
        later.tasks["work"].last_heartbeat_time,
    )
    assert first_time is not None and later_time is not None and later_time > first_time

    gate.touch()
    done = _finished(client, handle.execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.tasks["work"].last_heartbeat == {
        "done": done.tasks["work"].output["done"],
        "unit": "steps",
    }


def test_a_timed_out_sync_attempt_stops_at_its_next_heartbeat(
    client: OrchestratorClient,
) -> None:
    client.create_workflow(
        _workflow(
            "tireless",
            {
                "agent": "tireless",
                "timeout": "2s",
                "retry": {"max_attempts": 2, "initial_interval": "100ms"},
            },
        )
    )
    handle = client.start_execution("tireless")
    done = _finished(client, handle.execution_id)
    # The replica has one worker thread: the retry ran only because the first attempt's
    # heartbeat raised once the attempt was cancelled.
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    task = done.tasks["work"]
    assert [a.status for a in task.attempts] == [AttemptStatus.TIMED_OUT, AttemptStatus.SUCCEEDED]
    assert task.output == {"attempt": 2}
    assert task.last_heartbeat is None and task.last_heartbeat_time is not None
