"""The rollout commands end to end over gRPC: `agents deploy` sends the strategy its flags make
(the control plane hands it to the engine; none without flags), `--wait` and `agents rollout
--watch` follow the rollout by polling GetAgent until it ends and exit 0 only when it
succeeded. Following is driven by a server that answers a scripted series of rollout states."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from controlplane.api.client import OrchestratorClient
from controlplane.api.codec.agents import agent_to_proto
from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc
from controlplane.cli.client import rollout_follow
from controlplane.cli.main import main
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentView,
    CanaryStep,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
)
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

T0 = 1_700_000_000.0
V1 = AgentSpec("coder", "v1", "m:Coder", replicas=2)
V2 = dataclasses.replace(V1, version="v2")
STEPS = (CanaryStep(10.0, 1.0), CanaryStep(50.0, 1.0))
STARTED = RolloutRecord(
    rollout_id="ro-3",
    agent="coder",
    strategy=RolloutStrategy(kind=StrategyKind.CANARY, steps=STEPS),
    stable=V1,
    new=V2,
    steps=(
        RolloutStep(2, 1, new_weight=0.1, hold_s=1.0, analyse=True),
        RolloutStep(1, 1, new_weight=0.5, hold_s=1.0, analyse=True),
        RolloutStep(0, 2, new_weight=1.0),
    ),
    step=0,
    state=RolloutState.PROGRESSING,
    create_time=T0,
    update_time=T0,
    step_start_time=T0,
    message="starting 1 replica of v2",
)
SECOND_STEP = dataclasses.replace(
    STARTED,
    step=1,
    message="holding step 2",
    analysis=StepAnalysis(25, 0.0, 0.1, 60, 0.0, 0.1, "pass", ""),
)
SUCCEEDED = dataclasses.replace(
    SECOND_STEP, step=2, state=RolloutState.SUCCEEDED, message="v2 promoted"
)
ROLLED_BACK = dataclasses.replace(
    SECOND_STEP,
    state=RolloutState.ROLLED_BACK,
    message="canary error rate 50% > stable 0% + 5%",
    analysis=StepAnalysis(20, 0.5, 0.1, 60, 0.0, 0.1, "fail", "error rate"),
)
FAILED = dataclasses.replace(
    STARTED, state=RolloutState.FAILED, message="replica coder.v2.0 did not start"
)
DEPLOY = ["agents", "deploy", "coder", "--version", "v2", "--import-path", "m:Coder"]


def agent(rollout: RolloutRecord | None, spec: AgentSpec = V2) -> AgentView:
    return AgentView(AgentRecord(spec, T0, T0), AgentState.READY, [], rollout=rollout)


class ScriptedAgents(agent_pb2_grpc.AgentServiceServicer):
    """DeployAgent answers `deployed`; each GetAgent the next of `polls` (the last one again
    once they run out). Keeps the deploy requests."""

    def __init__(self, deployed: AgentView, polls: list[AgentView]) -> None:
        self.deployed = deployed
        self.polls = polls
        self.gets = 0
        self.requests: list[agent_pb2.DeployAgentRequest] = []
        self._lock = threading.Lock()

    def DeployAgent(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.requests.append(request)
        return agent_pb2.DeployAgentResponse(agent=agent_to_proto(self.deployed))

    def GetAgent(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            view = self.polls[min(self.gets, len(self.polls) - 1)]
            self.gets += 1
        return agent_pb2.GetAgentResponse(agent=agent_to_proto(view))


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollout_follow, "POLL_INTERVAL_S", 0.01)


def serve(servicer: ScriptedAgents) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    agent_pb2_grpc.add_AgentServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def run(
    servicer: ScriptedAgents, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    for address in serve(servicer):
        code = main(["--address", address, "--timeout", "10", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- what deploy sends ------------------------------------------------------------------------


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[tuple[ServerThread, list[Any]]]:
    """A real control plane (in-process backend) whose engine records the strategy each
    deploy hands it."""
    server = ServerThread(tmp_path, "unused", backend=FakeBackend())
    handed: list[Any] = []
    agents = server.control_plane.agents
    deploy = agents.deploy

    async def recording(spec: AgentSpec, strategy: RolloutStrategy | None = None) -> AgentView:
        handed.append(strategy)
        return await deploy(spec, strategy)

    agents.deploy = recording  # type: ignore[method-assign]
    try:
        yield server, handed
    finally:
        server.stop()


def test_the_strategy_of_the_flags_reaches_the_engine_and_none_without_flags(
    control_plane: tuple[ServerThread, list[Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    server, handed = control_plane
    address = ["--address", server.address]
    flags = ["--step", "10%:1m", "--step", "50%:2m", "--min-attempts", "5"]
    assert main([*address, *DEPLOY, *flags]) == 0
    assert main([*address, *DEPLOY, "--version", "v3"]) == 0
    with OrchestratorClient(server.address) as client:
        client.deploy_agent(dataclasses.replace(V1, version="v4"))
        client.deploy_agent(V1, RolloutStrategy(kind=StrategyKind.BLUE_GREEN))
    capsys.readouterr()
    canary = handed[0]
    assert canary.kind is StrategyKind.CANARY
    assert canary.steps == (CanaryStep(10.0, 60.0), CanaryStep(50.0, 120.0))
    assert canary.analysis.min_attempts == 5
    assert canary.analysis.max_latency_ratio == 1.5  # unset: the model default
    assert handed[1:] == [None, None, RolloutStrategy(kind=StrategyKind.BLUE_GREEN)]


# -- deploy --wait ----------------------------------------------------------------------------


def test_wait_follows_the_rollout_to_success(capsys: pytest.CaptureFixture[str]) -> None:
    servicer = ScriptedAgents(
        agent(STARTED), [agent(STARTED), agent(SECOND_STEP), agent(SUCCEEDED)]
    )
    code, out, err = run(servicer, capsys, *DEPLOY, "--step", "10%:1s", "--wait")
    assert code == 0, err
    assert servicer.gets == 3
    assert servicer.requests[0].strategy.kind == agent_pb2.ROLLOUT_STRATEGY_KIND_CANARY
    assert "rollout ro-3  SUCCEEDED" in out
    assert "rollout ro-3 of coder (v1 -> v2) succeeded: v2 serves all attempts" in out
    assert err == ""


@pytest.mark.parametrize(
    ("final", "message"),
    [
        (
            ROLLED_BACK,
            "error: rollout ro-3 of coder (v1 -> v2) was rolled back: canary error rate 50% > "
            "stable 0% + 5%; v1 serves all attempts",
        ),
        (
            FAILED,
            "error: rollout ro-3 of coder (v1 -> v2) failed: replica coder.v2.0 did not start",
        ),
    ],
)
def test_wait_exits_1_with_the_reason_when_the_rollout_does_not_succeed(
    final: RolloutRecord, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    servicer = ScriptedAgents(agent(STARTED), [agent(SECOND_STEP), agent(final)])
    code, out, err = run(servicer, capsys, *DEPLOY, "--wait")
    assert code == 1
    assert f"rollout ro-3  {final.state.value}" in out
    assert " ".join(err.split()) == message


def test_wait_stops_when_another_rollout_replaces_the_one_followed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = dataclasses.replace(STARTED, rollout_id="ro-4")
    servicer = ScriptedAgents(agent(STARTED), [agent(SECOND_STEP), agent(other)])
    code, _, err = run(servicer, capsys, *DEPLOY, "--wait")
    assert code == 1
    assert "is no longer the agent's rollout: replaced by rollout ro-4" in err


def test_wait_with_json_prints_only_the_final_agent_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    servicer = ScriptedAgents(agent(STARTED), [agent(SUCCEEDED)])
    code, out, err = run(servicer, capsys, *DEPLOY, "--wait", "-o", "json")
    assert code == 0
    assert json.loads(out)["rollout"]["state"] == "SUCCEEDED"
    assert "succeeded" in err  # the live view and the outcome go to stderr


def test_wait_does_not_follow_an_earlier_deploys_rollout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Deploying the serving v1 again after v2 was rolled back changes nothing: the rollout the
    answer shows is v2's, not this deploy's outcome."""
    servicer = ScriptedAgents(agent(ROLLED_BACK, V1), [])
    code, out, _ = run(servicer, capsys, *DEPLOY[:3], "--version", "v1", "--import-path",
                       "m:Coder", "--wait")  # fmt: skip
    assert code == 0 and servicer.gets == 0
    assert "agent coder  version v1" in out


# -- agents rollout ---------------------------------------------------------------------------


def test_rollout_prints_the_latest_rollout_and_watch_follows_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(ScriptedAgents(agent(None), [agent(ROLLED_BACK)]), capsys, "agents",
                       "rollout", "coder")  # fmt: skip
    assert code == 0  # showing a rollback is no failure; following one is
    assert "rollout ro-3  ROLLED_BACK" in out and "canary error rate 50%" in out
    servicer = ScriptedAgents(agent(None), [agent(SECOND_STEP), agent(ROLLED_BACK)])
    code, out, err = run(servicer, capsys, "agents", "rollout", "coder", "--watch")
    assert code == 1 and servicer.gets == 2
    assert "was rolled back" in err
    servicer = ScriptedAgents(agent(None), [agent(SECOND_STEP), agent(SUCCEEDED)])
    code, out, _ = run(servicer, capsys, "agents", "rollout", "coder", "-w")
    assert code == 0 and "succeeded" in out


def test_rollout_as_json_and_without_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(ScriptedAgents(agent(None), [agent(SECOND_STEP)]), capsys, "agents",
                       "rollout", "coder", "-o", "json")  # fmt: skip
    assert code == 0
    shown = json.loads(out)
    assert (shown["rollout_id"], shown["step"], shown["state"]) == ("ro-3", 1, "PROGRESSING")
    assert shown["analysis"]["verdict"] == "pass"
    code, out, _ = run(ScriptedAgents(agent(None), [agent(None)]), capsys, "agents", "rollout",
                       "coder")  # fmt: skip
    assert code == 0 and out == "agent coder has no rollout\n"
    code, out, _ = run(ScriptedAgents(agent(None), [agent(None)]), capsys, "agents", "rollout",
                       "coder", "-o", "json")  # fmt: skip
    assert json.loads(out) is None


def test_agents_get_shows_the_rollout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(ScriptedAgents(agent(None), [agent(SECOND_STEP)]), capsys, "agents",
                       "get", "coder")  # fmt: skip
    assert code == 0
    assert "rollout ro-3  PROGRESSING" in out
    assert "2/3: 50% of the attempts to v2, 1 stable + 1 new replicas" in out
