"""Predictive scaling on a real local Ray through the gRPC API: a client submitting Sleeper
executions at a rising rate gets the agent scaled out by the forecast before a queue builds,
and back in after the ramp, while every execution succeeds on its first attempt (scale-in
drains replicas: no attempt is lost). Also: a scale-in while every replica is busy.

The control plane runs with short intervals: load sampled every second, a decision every
second, the forecast (2 s steps) refitted every 2 s in its worker thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec, ReplicaResources, ReplicaState
from models.executions import ExecutionStatus
from models.load import RAW
from models.scaling import PredictiveScaling, ScalingPolicy
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread

SERVICE_S = 0.5
WORKFLOW = """
name: {name}
tasks:
  - {{id: work, agent: {agent}, input: {{seconds: {seconds}}}}}
"""


@pytest.fixture(scope="module")
def server(ray_namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(
        tmp_path_factory.mktemp("cp"),
        ray_namespace,
        overrides={
            "loops.load_interval_s": 1.0,
            "loops.scaling_interval_s": 1.0,
            "forecasting.refit_interval_s": 2.0,
            "forecasting.step_s": 2.0,
            "forecasting.history_s": 120.0,
            "forecasting.model": "auto",
        },
    )
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address) as c:
        c.wait_ready()
        yield c


class LoadGenerator(threading.Thread):
    """Starts one execution at a time, spaced by 1 / rate(seconds since start)."""

    def __init__(
        self, client: OrchestratorClient, workflow: str, rate: Callable[[float], float]
    ) -> None:
        super().__init__(daemon=True)
        self._client = client
        self._workflow = workflow
        self._rate = rate
        self.stop = threading.Event()
        self.started_at = time.monotonic()
        self.execution_ids: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            due = self.started_at
            while not self.stop.is_set():
                # Pacing the load itself (not waiting for a condition).
                self.stop.wait(max(0.0, due - time.monotonic()))
                if self.stop.is_set():
                    return
                started = self._client.start_execution(self._workflow)
                self.execution_ids.append(started.execution.execution_id)
                due += 1.0 / self._rate(due - self.started_at)
        except BaseException as exc:
            self.error = exc


def _scaling_state(client: OrchestratorClient, wall_start: float) -> str:
    """Where the scaling loop stands: replicas, the last decisions and the forecast."""
    status = client.get_scaling_status("ramp")
    view = client.get_agent("ramp")
    ready = sum(r.state is ReplicaState.READY for r in view.replicas)
    decisions = [
        f"{e.decision.time - wall_start:.0f}s {e.action} {e.decision.current}->"
        f"{e.decision.desired} ({e.decision.reason})"
        for e in client.list_scaling_events("ramp")[:4]
    ]
    fitted = status.forecast
    forecast = (
        f"{fitted.forecast.model} upper {[round(u, 2) for u in fitted.forecast.upper[:6]]}"
        if fitted is not None
        else status.forecast_error
    )
    return (
        f"spec {view.record.spec.replicas} ready {ready} desired {status.desired}; "
        f"latest decisions {decisions}; forecast {forecast}"
    )


def wait_all_succeeded(client: OrchestratorClient, ids: list[str], timeout: float) -> None:
    def done() -> bool:
        return all(client.get_execution(i).status.terminal for i in ids)

    eventually(done, timeout=timeout, interval=0.2)
    for execution_id in ids:
        record = client.get_execution(execution_id)
        assert record.status is ExecutionStatus.SUCCEEDED, (execution_id, record.error)
        (task,) = record.tasks.values()
        assert len(task.attempts) == 1, task.attempts  # no attempt lost or retried


def test_a_load_ramp_scales_out_ahead_of_the_queue_and_back_in(
    client: OrchestratorClient,
) -> None:
    # 0.25 CPU per replica: the loop asks Ray for 0.25 CPU per desired replica (a no-op
    # request on this fixed local cluster).
    client.deploy_agent(
        AgentSpec(
            "ramp",
            "v1",
            "samples.agents:SleeperAgent",
            replicas=1,
            resources=ReplicaResources(num_cpus=0.25),
            config={"seconds": SERVICE_S},
        )
    )
    client.create_workflow(WORKFLOW.format(name="ramp-wf", agent="ramp", seconds=SERVICE_S))
    # One replica serves 1 / 0.5 s = 2 attempts/s; the forecast must look 6 s ahead.
    client.set_scaling_policy(
        ScalingPolicy(
            agent="ramp",
            min_replicas=1,
            max_replicas=4,
            # An 80% band: fitted on a minute of history, the errors of the ramp and the drop
            # keep a 90% band near one replica's capacity for long after the load fell.
            predictive=PredictiveScaling(
                target_utilization=0.7, lead_time_s=6.0, concurrency=1, level=0.8
            ),
            scale_in_cooldown_s=3.0,
        )
    )

    quiet, ramp, hold = 8.0, 16.0, 4.0
    low, high = 0.5, 3.0

    def rate(t: float) -> float:
        if t < quiet:
            return low
        if t < quiet + ramp:
            return low + (high - low) * (t - quiet) / ramp
        if t < quiet + ramp + hold:
            return high
        return low  # the tail: attempts keep arriving while replicas are retired

    generator = LoadGenerator(client, "ramp-wf", rate)
    wall_start = time.time()
    generator.start()
    try:
        # Scaled out during the ramp, then back to one replica after it.
        def scaled_back() -> bool | str:
            events = client.list_scaling_events("ramp")
            view = client.get_agent("ramp")
            ready = [r for r in view.replicas if r.state is ReplicaState.READY]
            if (
                any(e.action == "scale_in" for e in events)
                and view.record.spec.replicas == 1
                and len(ready) == 1
                and time.time() > wall_start + quiet + ramp + hold
            ):
                return True
            # Falsy, but says where the loop stands when the wait runs out.
            state.clear()
            state.append(_scaling_state(client, wall_start))
            return False

        state: list[str] = []

        try:
            eventually(scaled_back, timeout=quiet + ramp + hold + 45, interval=0.5)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; {state[-1] if state else ''}") from None
    finally:
        generator.stop.set()
        generator.join(10)
    assert generator.error is None, generator.error
    wait_all_succeeded(client, generator.execution_ids, timeout=60)

    events = list(reversed(client.list_scaling_events("ramp")))  # oldest first
    first_out = events[0].decision
    assert events[0].action == "scale_out", [e.decision.reason for e in events]
    assert first_out.policy == "predictive", first_out.reason
    # Decided ahead: no queue had built, and before the ramp's peak.
    assert first_out.inputs["metrics"]["total_queue_depth"] < 1, first_out.inputs
    assert first_out.time < wall_start + quiet + ramp, first_out.time - wall_start
    assert max(e.decision.desired for e in events) >= 2

    # In the load history, more replicas were ready before any queue built up.
    samples = client.get_load_history("ramp", RAW, wall_start - 5, time.time() + 1)
    scaled = [s.time for s in samples if s.replicas >= 2]
    queued = [s.time for s in samples if s.queue_depth >= 2]
    assert scaled, "never more than one ready replica"
    assert not queued or min(scaled) <= min(queued), (min(scaled), min(queued))

    status = client.get_scaling_status("ramp")
    assert status.forecast is not None and status.forecast.requested_model == "auto"
    assert status.current == 1 and status.actuation_error == ""


def test_scale_in_drains_busy_replicas(client: OrchestratorClient) -> None:
    client.deploy_agent(
        AgentSpec("drain", "v1", "samples.agents:SleeperAgent", replicas=2, max_concurrency=1)
    )
    client.create_workflow(WORKFLOW.format(name="drain-wf", agent="drain", seconds=2.0))
    ids = [client.start_execution("drain-wf").execution.execution_id for _ in range(2)]

    def both_busy() -> bool:
        replicas = client.get_agent("drain").replicas
        return sum(r.outstanding_attempts for r in replicas) == 2

    eventually(both_busy, timeout=20)
    client.scale_agent("drain", 1)  # retires a replica that is running an attempt
    wait_all_succeeded(client, ids, timeout=30)

    def one_left() -> bool:
        return len(client.get_agent("drain").replicas) == 1

    eventually(one_left, timeout=20)
