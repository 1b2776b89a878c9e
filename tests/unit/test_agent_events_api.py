"""Agent events through a real gRPC server (in-process backend): watchers that join while events
are being appended get the stored ones, then the live ones, with no gap and no duplicate at the
switch; rollouts record their steps and ends; an unknown agent is NOT_FOUND only while it has no
events; and `orchestrator agents events` shows them as a table, as JSON and followed live."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli.main import main
from models.agent_events import AgentEventType
from models.agents import AgentSpec
from models.backend import ReplicaChange, ReplicaEvent
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

T = TypeVar("T")
CODER = AgentSpec("coder", "v1", "m:Coder")


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def server(tmp_path: Path, backend: FakeBackend) -> Iterator[ServerThread]:
    server = ServerThread(
        tmp_path, "unused", backend=backend, overrides={"grpc.shutdown_grace_s": 0.1}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20) as c:
        yield c


def eventually(check: Callable[[], T | None], timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def opened(number: int, agent: str = "coder") -> ReplicaEvent:
    return ReplicaEvent(
        agent=agent,
        replica=f"{agent}.0",
        version="v1",
        change=ReplicaChange.BREAKER,
        time=time.time(),
        before="CLOSED",
        after="OPEN",
        reason=f"event {number}",
        last_error="RuntimeError: broken",
    )


def report(server: ServerThread, backend: FakeBackend, event: ReplicaEvent) -> None:
    """As the Ray backend does: on the control plane's loop."""
    server.loop.call_soon_threadsafe(backend.report, event)


def newest_sequence(client: OrchestratorClient, agent: str = "coder") -> int:
    newest = client.list_agent_events(agent, limit=1)
    return newest[0].sequence if newest else 0


def test_watchers_joining_during_appends_get_every_event_once_in_order(
    server: ServerThread, client: OrchestratorClient, backend: FakeBackend
) -> None:
    client.deploy_agent(CODER)  # its rollout's events come first
    total = 1500

    async def produce() -> None:
        for number in range(total):
            backend.report(opened(number))
            if number % 5 == 0:
                await asyncio.sleep(0.002)  # the flush and the watchers run in between

    producing = asyncio.run_coroutine_threadsafe(produce(), server.loop)
    last_reason = f"event {total - 1}"

    def watch(from_sequence: int) -> tuple[int, list[int], bool]:
        """The cursor, the sequences received, and whether appends went on meanwhile."""
        got: list[int] = []
        during = False
        with OrchestratorClient(server.address) as own:
            for event in own.watch_agent_events("coder", from_sequence):
                during = during or not producing.done()
                got.append(event.sequence)
                if event.data.get("reason") == last_reason:
                    return from_sequence, got, during
        raise AssertionError("the watch ended early")

    with futures.ThreadPoolExecutor(4) as pool:
        watches = [pool.submit(watch, 0)]
        for threshold in (100, 400, 800):
            eventually(lambda t=threshold: newest_sequence(client) >= t)
            # From the start, and from a cursor in the middle of what is stored.
            watches.append(pool.submit(watch, newest_sequence(client) // 2))
        producing.result(60)
        results = [w.result(60) for w in watches]
    stored = [e.sequence for e in reversed(client.list_agent_events("coder"))]
    assert len(stored) == total + 2 and stored == sorted(set(stored))
    for from_sequence, got, _ in results:
        assert got == [s for s in stored if s > from_sequence], from_sequence
    assert sum(during for _, _, during in results) >= 2  # the switch happened under appends


def test_rollouts_record_each_step_applied_and_their_end(
    client: OrchestratorClient, backend: FakeBackend
) -> None:
    client.deploy_agent(CODER)
    client.deploy_agent(AgentSpec("coder", "v2", "m:Coder"))
    backend.start_errors["v3"] = RuntimeError("no module named coder3")
    with pytest.raises(ClientError):
        client.deploy_agent(AgentSpec("coder", "v3", "m:Coder"))
    # Each stored just after what it records.
    eventually(lambda: len(client.list_agent_events("coder")) == 5)
    events = list(reversed(client.list_agent_events("coder")))
    assert [e.type for e in events] == [
        AgentEventType.ROLLOUT_STEP,
        AgentEventType.ROLLOUT_ENDED,
        AgentEventType.ROLLOUT_STEP,
        AgentEventType.ROLLOUT_ENDED,
        AgentEventType.ROLLOUT_ENDED,
    ]
    first_step, first_end, step, end, failed = events
    assert all(e.source == "rollouts" and e.replica == "" for e in events)
    assert first_step.data["rollout_id"] == first_end.data["rollout_id"]
    assert step.data["step"] == 0 and step.data["steps"] == 1
    assert step.data["new_version"] == "v2" and step.data["stable_version"] == "v1"
    assert step.data["message"].startswith("step 1 of 1")
    assert step.data["new_weight"] is None  # by replica count
    assert end.data["state"] == "SUCCEEDED"
    assert end.data["message"] == "version v2 serves every attempt"
    assert failed.data["state"] == "FAILED" and failed.data["new_version"] == "v3"
    assert "no module named coder3" in failed.data["message"]


def test_an_agent_is_not_found_only_while_it_is_not_deployed_and_has_no_events(
    client: OrchestratorClient,
) -> None:
    for read in (
        lambda: client.list_agent_events("nobody"),
        lambda: next(client.watch_agent_events("nobody")),
    ):
        with pytest.raises(ClientError) as caught:
            read()
        assert caught.value.code_name == "NOT_FOUND"
        assert "nobody" in str(caught.value)
    client.deploy_agent(CODER)
    with pytest.raises(ClientError) as caught:
        next(client.watch_agent_events("coder", -1))
    assert caught.value.code_name == "INVALID_ARGUMENT"
    assert "from_sequence" in str(caught.value)
    eventually(lambda: len(client.list_agent_events("coder")) == 2)
    client.delete_agent("coder")
    kept = client.list_agent_events("coder")
    assert [e.type for e in kept] == [AgentEventType.ROLLOUT_ENDED, AgentEventType.ROLLOUT_STEP]
    replayed = client.watch_agent_events("coder", 0)
    assert next(replayed).type is AgentEventType.ROLLOUT_STEP
    replayed.close()


def run_cli(server: ServerThread, *args: str) -> int:
    return main(["--address", server.address, "agents", "events", "coder", *args])


def test_the_cli_shows_events_as_a_table_as_json_and_follows_them(
    server: ServerThread,
    client: OrchestratorClient,
    backend: FakeBackend,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client.deploy_agent(CODER)
    report(server, backend, opened(1))
    eventually(lambda: newest_sequence(client) == 3)
    assert run_cli(server) == 0
    table = capsys.readouterr().out
    assert "events of agent coder (newest first)" in table
    assert "REPLICA_BREAKER_CHANGED" in table and "coder.0" in table
    assert "CLOSED -> OPEN: event 1 (last error: RuntimeError: broken)" in table
    assert "ROLLOUT_ENDED" in table and "SUCCEEDED: version v1 serves every attempt" in table
    assert table.index("REPLICA_BREAKER_CHANGED") < table.index("ROLLOUT_ENDED")

    assert run_cli(server, "-o", "json", "--limit", "2") == 0
    shown: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert [e["sequence"] for e in shown] == [3, 2]
    assert shown[0]["type"] == "REPLICA_BREAKER_CHANGED" and shown[0]["data"]["to"] == "OPEN"

    codes: list[int] = []
    follower = threading.Thread(
        target=lambda: codes.append(run_cli(server, "--follow", "-o", "json", "--limit", "1"))
    )
    follower.start()
    events: Any = server.control_plane.agent_events
    eventually(lambda: events._watchers.get("coder"))
    report(server, backend, opened(2))
    eventually(lambda: newest_sequence(client) == 4)
    server.loop.call_soon_threadsafe(events.end_watches)  # as when the server stops
    follower.join(20)
    assert codes == [0]
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [e["sequence"] for e in lines] == [3, 4]  # the newest, then the live one
    assert lines[1]["data"]["reason"] == "event 2"
    assert "ended the stream" in captured.err and "#4" in captured.err


def test_the_cli_refuses_an_agent_it_does_not_know(
    server: ServerThread, client: OrchestratorClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(server) == 4  # NOT_FOUND: refused
    assert "NOT_FOUND" in capsys.readouterr().err
