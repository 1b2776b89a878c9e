"""Agent events from a real local Ray: a replica whose every call raises opens its circuit
breaker, and the change is stored and streamed to a watcher that was following the agent; the
replica's start and its stop when the agent is deleted are events too."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from pathlib import Path

from controlplane.api.client import OrchestratorClient
from models.agent_events import AgentEvent, AgentEventType
from models.agents import AgentSpec, ReplicaResources
from models.executions import ExecutionStatus
from models.replica_health import CircuitBreaker
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

BREAKER = CircuitBreaker(consecutive_failures=3, failure_rate=0.0, cool_down_s=120.0)


def newest_events(
    client: OrchestratorClient, ready: Callable[[list[AgentEvent]], bool]
) -> list[AgentEvent]:
    """The agent's events, newest first, once `ready` says they are all there."""

    def check() -> list[AgentEvent] | None:
        events = client.list_agent_events("doomed")
        return events if ready(events) else None

    return eventually(check)


def first_breaker_change(address: str, after: int) -> AgentEvent:
    with OrchestratorClient(address) as client:
        for event in client.watch_agent_events("doomed", after, timeout_s=90):
            if event.type is AgentEventType.REPLICA_BREAKER_CHANGED:
                return event
    raise AssertionError("the watch ended without a breaker change")


def test_a_breaker_that_opens_is_stored_and_streamed_to_a_watcher(
    server: ServerThread, tmp_path: Path
) -> None:
    spec = AgentSpec(
        name="doomed",
        version="v1",
        import_path="tests.support.health_agents:BreakableAgent",
        replicas=1,
        resources=ReplicaResources(num_cpus=0),
        config={"calls_file": str(tmp_path / "calls"), "healed_file": str(tmp_path / "healed")},
        circuit_breaker=BREAKER,
    )
    with OrchestratorClient(server.address, timeout_s=60) as client:
        client.deploy_agent(spec)
        [replica] = [r.name for r in client.get_agent("doomed").replicas]
        # Stored just after the deploy answers (events never hold up what they record).
        started = newest_events(client, lambda events: len(events) == 3)
        assert [e.type for e in reversed(started)] == [
            AgentEventType.REPLICA_STARTED,
            AgentEventType.ROLLOUT_STEP,
            AgentEventType.ROLLOUT_ENDED,
        ]
        assert started[-1].replica == replica and started[-1].data["version"] == "v1"
        with futures.ThreadPoolExecutor(1) as pool:
            watching = pool.submit(first_breaker_change, server.address, started[0].sequence)
            client.create_workflow(
                "name: doomed-run\n"
                "tasks: [{id: work, agent: doomed, retry: {max_attempts: 3, "
                "initial_interval: 10ms}}]\n"
            )
            run = client.start_execution("doomed-run").result(timeout=90)
            assert run.status is ExecutionStatus.FAILED
            streamed = watching.result(90)
        assert streamed.replica == replica and streamed.source == "backend"
        assert streamed.data["from"] == "CLOSED" and streamed.data["to"] == "OPEN"
        assert streamed.data["reason"] == "3 failed attempts in a row"
        assert streamed.data["last_error"] == f"RuntimeError: {replica} is broken"
        [stored] = [
            e
            for e in client.list_agent_events("doomed")
            if e.type is AgentEventType.REPLICA_BREAKER_CHANGED
        ]
        assert stored == streamed

        client.delete_agent("doomed")
        stopped = newest_events(
            client, lambda events: events[0].type is AgentEventType.REPLICA_STOPPED
        )[0]
        assert stopped.type is AgentEventType.REPLICA_STOPPED and stopped.replica == replica
        assert stopped.data["reason"] == "its agent was removed"
