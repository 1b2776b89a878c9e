"""Progressive delivery on real Ray, through a real server, with executions running all along:
a canary that fails half its attempts is rolled back by its analysis while every execution
succeeds (its failed attempts retried on the stable version); a good canary is promoted
through every step; a blue-green switch is rolled back at once to the set it kept."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import (
    AgentSpec,
    AgentView,
    CanaryAnalysis,
    CanaryStep,
    ReplicaState,
    RolloutRecord,
    RolloutState,
    RolloutStrategy,
    StrategyKind,
    VersionState,
)
from models.executions import AttemptStatus, ExecutionRecord, ExecutionStatus
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

AGENT = "release"
IMPORT_PATH = "tests.support.rollout_agents:Release"
WORKFLOW = json.dumps(
    {
        "name": "release-run",
        "tasks": [
            {
                "id": "work",
                "agent": AGENT,
                "input": {"n": 1},
                "retry": {"max_attempts": 4, "initial_interval": "20ms"},
            }
        ],
    }
)


def release(version: str, fail_every: int = 0) -> AgentSpec:
    config = {"version": version, "fail_every": fail_every}
    return AgentSpec(AGENT, version, IMPORT_PATH, replicas=2, max_concurrency=2, config=config)


def canary(min_attempts: int = 8, hold_s: float = 2.0) -> RolloutStrategy:
    return RolloutStrategy(
        kind=StrategyKind.CANARY,
        steps=(CanaryStep(25.0, hold_s), CanaryStep(50.0, hold_s)),
        analysis=CanaryAnalysis(min_attempts=min_attempts),
    )


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=60) as c:
        c.create_workflow(WORKFLOW)
        c.deploy_agent(release("v1"))
        yield c


class Traffic:
    """Starts an execution every few milliseconds from a thread until stopped."""

    def __init__(self, client: OrchestratorClient, every_s: float = 0.03) -> None:
        self._client = client
        self._every_s = every_s
        self._stop = threading.Event()
        self.execution_ids: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.execution_ids.append(self._client.start_execution("release-run").execution_id)

    def finished(self) -> list[ExecutionRecord]:
        def all_done() -> list[ExecutionRecord] | None:
            records = [self._client.get_execution(e) for e in self.execution_ids]
            return records if all(r.status.terminal for r in records) else None

        return eventually(all_done, timeout=60, interval=0.2)


def follow(client: OrchestratorClient) -> tuple[RolloutRecord, list[int]]:
    """Polls the agent's rollout until it ends: the last record and the steps seen."""
    seen: list[int] = []

    def ended() -> RolloutRecord | None:
        rollout = client.get_agent(AGENT).rollout
        assert rollout is not None
        if not seen or seen[-1] != rollout.step:
            seen.append(rollout.step)
        return None if rollout.active else rollout

    return eventually(ended, timeout=90, interval=0.1), seen


def last_version(client: OrchestratorClient) -> str:
    """The version that ran a new execution's task."""
    execution_id = client.start_execution("release-run").execution_id

    def done() -> ExecutionRecord | None:
        record = client.get_execution(execution_id)
        return record if record.status.terminal else None

    return eventually(done).tasks["work"].attempts[-1].agent_version


def only_version(view: AgentView, version: str) -> bool:
    live = [r for r in view.replicas if r.state is not ReplicaState.DEAD]
    return bool(live) and all(r.version == version for r in live)


def test_a_canary_that_fails_half_its_attempts_is_rolled_back_and_no_execution_fails(
    client: OrchestratorClient,
) -> None:
    with Traffic(client) as traffic:
        time.sleep(0.3)
        started = client.deploy_agent(release("v2", fail_every=2), canary())
        assert started.rollout is not None and started.rollout.state is RolloutState.PROGRESSING
        rollout, _ = follow(client)
    assert rollout.state is RolloutState.ROLLED_BACK, rollout.message
    assert rollout.analysis is not None and rollout.analysis.verdict == "fail"
    assert "error rate" in rollout.message
    records = traffic.finished()
    assert records and all(r.status is ExecutionStatus.SUCCEEDED for r in records)
    attempts = [a for r in records for a in r.tasks["work"].attempts]
    on_canary = [a for a in attempts if a.agent_version == "v2"]
    assert any(a.status is AttemptStatus.FAILED for a in on_canary)
    # Each attempt that failed on the canary was retried on the stable version.
    for record in records:
        task_attempts = record.tasks["work"].attempts
        for failed, retry in itertools.pairwise(task_attempts):
            if failed.agent_version == "v2":
                assert retry.agent_version == "v1", record.execution_id
    view = client.get_agent(AGENT)
    assert view.record.spec.version == "v1"
    eventually(lambda: only_version(client.get_agent(AGENT), "v1"))
    states = {v.spec.version: v.state for v in client.list_agent_versions(AGENT)}
    assert states == {"v1": VersionState.ACTIVE, "v2": VersionState.ROLLED_BACK}


def test_a_good_canary_is_promoted_through_every_step(client: OrchestratorClient) -> None:
    with Traffic(client) as traffic:
        time.sleep(0.3)
        client.deploy_agent(release("v3"), canary(min_attempts=5, hold_s=1.5))
        rollout, seen = follow(client)
    assert rollout.state is RolloutState.SUCCEEDED, rollout.message
    assert seen[0] == 0 and {0, 1} <= set(seen)  # 25%, then 50%, then all
    records = traffic.finished()
    assert all(r.status is ExecutionStatus.SUCCEEDED for r in records)
    versions = [a.agent_version for r in records for a in r.tasks["work"].attempts]
    assert "v3" in versions and "v1" in versions
    eventually(lambda: only_version(client.get_agent(AGENT), "v3"))
    states = {v.spec.version: v.state for v in client.list_agent_versions(AGENT)}
    assert states["v3"] is VersionState.ACTIVE and states["v1"] is VersionState.RETIRED


def test_blue_green_switches_at_once_and_rolls_back_to_the_set_it_kept(
    client: OrchestratorClient,
) -> None:
    before = {r.name for r in client.get_agent(AGENT).replicas}
    strategy = RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=120)
    switched = client.deploy_agent(release("v4"), strategy)
    assert switched.rollout is not None and switched.rollout.step == 1
    both = {r.version for r in switched.replicas if r.state is ReplicaState.READY}
    assert both == {"v3", "v4"}
    handle = client.start_execution("release-run")
    done = eventually(
        lambda: (r := client.get_execution(handle.execution_id)).status.terminal and r
    )
    assert done.tasks["work"].attempts[-1].agent_version == "v4"
    rolled = client.rollback_agent(AGENT)
    assert rolled.rollout is not None and rolled.rollout.state is RolloutState.ROLLED_BACK
    # The kept set serves again at once: the same replicas, none restarted.
    kept = {r.name for r in rolled.replicas if r.version == "v3" and r.state is ReplicaState.READY}
    assert kept == before
    handle = client.start_execution("release-run")
    done = eventually(
        lambda: (r := client.get_execution(handle.execution_id)).status.terminal and r
    )
    assert done.tasks["work"].attempts[-1].agent_version == "v3"
