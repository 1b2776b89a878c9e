"""ScalingService end to end over real gRPC and SQLite with the in-process backend: policy
validation (every problem at its path), durable policies, status, events, forecasts, load
history with paging, the schema upgrade, and the CLI commands."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.client.calls import Call
from controlplane.api.codec.scaling import policy_view_from_proto
from controlplane.api.codec.scaling_policies import (
    scaling_policy_from_proto,
    scaling_policy_to_proto,
)
from controlplane.api.codec.wellknown import timestamp
from controlplane.api.gen.orchestrator.v1 import scaling_pb2, scaling_pb2_grpc
from controlplane.app import ControlPlane
from controlplane.cli.main import EXIT_REJECTED, main
from controlplane.config import (
    ForecastingConfig,
    GrpcConfig,
    LoopConfig,
    ServerConfig,
    StoreConfig,
)
from controlplane.experiments.forecast_io import load_series
from controlplane.store import SqliteStore
from controlplane.store.load_history import LoadHistoryStore
from controlplane.store.sqlite_store import SCHEMA_VERSION
from models.agents import AgentSpec
from models.errors import InvalidArgument
from models.load import MINUTE, RAW, LoadSample
from models.scaling import (
    PredictiveScaling,
    ScaleLimit,
    ScalingPolicy,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from models.scaling_documents import policy_from_document, policy_to_document
from tests.unit.fake_backend import FakeBackend

T = TypeVar("T")

FULL = ScalingPolicy(
    agent="work",
    min_replicas=2,
    max_replicas=20,
    target_tracking=(TargetTracking(metric="in_flight", target=0.8, tolerance=0.05),),
    step_scaling=(
        StepScaling(
            metric="queue_depth",
            steps=(ScalingStep(1, lower=2, upper=10), ScalingStep(3, lower=10)),
            adjustment_type="change",
        ),
    ),
    scheduled=(ScheduledCapacity("0 9 * * mon-fri", 3600.0, 5, utc_offset_s=-18000.0),),
    predictive=PredictiveScaling(
        lead_time_s=90.0, level=0.8, bound="mean", slo_wait_s=2.0, concurrency=4
    ),
    scale_out_limit=ScaleLimit(replicas=4, percent=100.0),
    scale_in_limit=ScaleLimit(percent=50.0),
    scale_out_cooldown_s=30.0,
    scale_in_cooldown_s=300.0,
)


def test_policy_round_trips_through_its_document_and_protobuf() -> None:
    assert policy_from_document(policy_to_document(FULL)) == FULL
    message = scaling_policy_to_proto(FULL)
    assert scaling_policy_from_proto(message) == FULL
    # Absent fields take the defaults of `models.scaling`.
    bare = scaling_pb2.ScalingPolicy(agent="work", predictive=scaling_pb2.PredictiveScaling())
    assert scaling_policy_from_proto(bare) == ScalingPolicy(
        agent="work", predictive=PredictiveScaling()
    )


def test_every_bad_field_is_named_by_its_path() -> None:
    with pytest.raises(InvalidArgument) as caught:
        policy_from_document(
            {
                "agent": "Work!",
                "min_replicas": 3,
                "max_replicas": 2,
                "target_tracking": [{"metric": "in_flight", "target": 0}, {"metric": "cpu"}],
                "step_scaling": [
                    {
                        "metric": "queue_depth",
                        "steps": [{"lower": 0, "upper": 5, "adjustment": 1}, {"lower": 3}],
                    }
                ],
                "scheduled": [{"cron": "61 * * * *", "duration_s": 0, "replicas": 1}],
                "predictive": {"lead_time_s": "soon", "level": 1.5, "bound": "max"},
                "scale_in_limit": {"percent": -1},
                "colour": "red",
            }
        )
    fields = {v.field: v.description for v in caught.value.violations}
    assert set(fields) == {
        "policy.agent",
        "policy.colour",
        "policy.max_replicas",
        "policy.target_tracking[0].target",
        "policy.target_tracking[1].metric",
        "policy.step_scaling[0].steps[1].adjustment",
        "policy.scheduled[0].cron",
        "policy.scheduled[0].duration",
        "policy.predictive.lead_time",
        "policy.predictive.level",
        "policy.predictive.bound",
        "policy.scale_in_limit.percent",
    }
    assert "minute" in fields["policy.scheduled[0].cron"]
    steps = [{"lower": 0, "upper": 5, "adjustment": 1}, {"lower": 3, "adjustment": 2}]
    with pytest.raises(InvalidArgument) as overlap:
        policy_from_document(
            {"agent": "work", "step_scaling": [{"metric": "queue_depth", "steps": steps}]}
        )
    assert [v.field for v in overlap.value.violations] == ["policy.step_scaling[0].steps"]
    steps[1]["lower"] = 5
    with pytest.raises(InvalidArgument) as twice:
        policy_from_document(
            {
                "agent": "work",
                "step_scaling": [{"metric": "queue_depth", "steps": steps}],
                "predictive": {"name": "step"},
            }
        )
    assert [v.field for v in twice.value.violations] == ["policy.predictive.name"]


def test_schema_5_adds_the_scaling_tables_to_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=4")
    store = SqliteStore(path)
    try:
        assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION >= 5
        tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"scaling_policies", "scaling_events"} <= tables
    finally:
        store.close()


class Server:
    """A ControlPlane on the in-process backend, served on a socket from a loop thread."""

    def __init__(self, data_dir: Path) -> None:
        self.backend = FakeBackend()
        config = ServerConfig(
            store=StoreConfig(data_dir=data_dir),
            grpc=GrpcConfig(host="127.0.0.1", port=0),
            loops=LoopConfig(load_interval_s=10.0, scaling_interval_s=0),  # the test drives it
            forecasting=ForecastingConfig(step_s=10.0, model="naive"),
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.cp: ControlPlane = self.call(self._build(config))
        self.call(self.cp.start())
        self.address = f"127.0.0.1:{self.cp.port}"

    async def _build(self, config: ServerConfig) -> ControlPlane:
        return ControlPlane(config, self.backend)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self.call(self.cp.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path)
    yield server
    server.stop()


def record_load(server: Server, start: float, count: int) -> None:
    LoadHistoryStore(server.cp.store).append(
        [
            LoadSample(
                "work",
                start + 10 * i,
                RAW,
                arrivals=5 + i,
                completions=5 + i,
                in_flight=1,
                service_time_s=0.2,
                replicas=1,
            )
            for i in range(count)
        ]
    )


def test_scaling_service_over_grpc(server: Server) -> None:
    with OrchestratorClient(server.address) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:W", replicas=1, max_concurrency=3))
        # Unknown agent: FAILED_PRECONDITION naming policy.agent.
        with pytest.raises(ClientError) as missing:
            client.set_scaling_policy(ScalingPolicy(agent="ghost"))
        assert missing.value.code_name == "FAILED_PRECONDITION"
        assert missing.value.violations[0][0] == "policy.agent"
        # Bad values sent by any client: INVALID_ARGUMENT with every path.
        stub = scaling_pb2_grpc.ScalingServiceStub(grpc.insecure_channel(server.address))
        bad = scaling_pb2.ScalingPolicy(
            agent="work",
            target_tracking=[scaling_pb2.TargetTracking(metric="in_flight", target=-1)],
            predictive=scaling_pb2.PredictiveScaling(level=2),
        )
        with pytest.raises(grpc.RpcError) as rpc:
            stub.SetScalingPolicy(scaling_pb2.SetScalingPolicyRequest(policy=bad))
        assert rpc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(ClientError) as invalid:
            client._run(
                Call(
                    "scaling.SetScalingPolicy",
                    scaling_pb2.SetScalingPolicyRequest(policy=bad),
                    policy_view_from_proto,
                )
            )
        assert {f for f, _ in invalid.value.violations} == {
            "policy.target_tracking[0].target",
            "policy.predictive.level",
        }
        # An absent predictive concurrency is the agent's max_concurrency.
        stored = stub.SetScalingPolicy(
            scaling_pb2.SetScalingPolicyRequest(
                policy=scaling_pb2.ScalingPolicy(
                    agent="work", predictive=scaling_pb2.PredictiveScaling()
                )
            )
        )
        assert stored.policy.predictive.concurrency == 3
        view = client.set_scaling_policy(FULL)
        assert view.policy == FULL
        assert client.get_scaling_policy("work").policy == FULL

        now = server.cp.scaling_loop._clock()
        record_load(server, now - 300, 30)
        events = server.call(server.cp.scaling_loop.run_once())
        assert len(events) == 1
        status = client.get_scaling_status("work")
        assert status.has_policy and status.current == events[0].decision.desired
        assert status.decisions[0].event_id == events[0].event_id
        assert status.decisions[0].decision.reason == events[0].decision.reason
        listed = client.list_scaling_events("work", include_holds=True)
        assert [e.event_id for e in listed] == [events[0].event_id]

        # The forecast: none fitted yet, so the worker fits one (off the request path).
        fitted = client.get_forecast("work", horizon_s=60.0)
        assert fitted.requested_model == "naive" and fitted.step_s == 10.0
        assert 1 <= len(fitted.forecast.timestamps) <= 7
        assert fitted.forecast.mean[0] == pytest.approx((5 + 29) / 10, rel=0.1)

        samples = client.get_load_history("work", RAW, now - 400, now)
        assert len(samples) == 30 and samples[0].arrivals == 5
        minutes = client.get_load_history("work", MINUTE, now - 400, now)
        assert sum(m.arrivals for m in minutes) == sum(5 + i for i in range(30))
        # Paged by an opaque token.
        page = stub.GetLoadHistory(
            scaling_pb2.GetLoadHistoryRequest(
                agent="work",
                start=timestamp(now - 400),
                end=timestamp(now),
                page_size=25,
            )
        )
        assert len(page.samples) == 25 and page.next_page_token
        rest = stub.GetLoadHistory(
            scaling_pb2.GetLoadHistoryRequest(
                agent="work",
                start=timestamp(now - 400),
                end=timestamp(now),
                page_size=25,
                page_token=page.next_page_token,
            )
        )
        assert len(rest.samples) == 5 and not rest.next_page_token

        client.delete_scaling_policy("work")
        with pytest.raises(ClientError) as gone:
            client.get_scaling_policy("work")
        assert gone.value.code_name == "NOT_FOUND"


def test_a_stored_policy_survives_a_restart(tmp_path: Path) -> None:
    first = Server(tmp_path)
    try:
        with OrchestratorClient(first.address) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:W"))
            client.set_scaling_policy(FULL)
    finally:
        first.stop()
    second = Server(tmp_path)
    try:
        assert second.cp.scaling.policies() == {"work": FULL}
    finally:
        second.stop()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_commands(server: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    address = ("--address", server.address)
    with OrchestratorClient(server.address) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:W", max_concurrency=2))
    code, out, err = run_cli(
        capsys,
        "scaling",
        "policy",
        "set",
        "work",
        *address,
        "--max-replicas",
        "6",
        "--target",
        "in_flight=0.7",
        "--scale-down-stabilization",
        "2m",
        "--lead-time",
        "90s",
        "--scheduled",
        "0 9 * * mon-fri",
        "8h",
        "3",
        "--json",
    )
    assert code == 0, err
    policy = json.loads(out)["policy"]
    assert policy["max_replicas"] == 6
    assert policy["target_tracking"][0]["scale_down_stabilization_s"] == 120.0
    assert policy["predictive"]["lead_time_s"] == 90.0
    assert policy["predictive"]["concurrency"] == 2  # the agent's max_concurrency
    assert policy["scheduled"][0]["duration_s"] == 28800.0

    code, out, _ = run_cli(capsys, "scaling", "policy", "get", "work", *address)
    assert code == 0 and "lead_time_s: 90.0" in out

    code, _, err = run_cli(capsys, "scaling", "policy", "set", "work", *address, "--level", "3")
    assert code == 2 and "argument --level: must be between 0 and 1" in err  # nothing sent
    code, _, err = run_cli(
        capsys,
        "scaling",
        "policy",
        "set",
        "work",
        *address,
        "--min-replicas",
        "5",
        "--max-replicas",
        "4",
    )
    assert code == EXIT_REJECTED
    assert "policy.max_replicas" in err

    now = server.cp.scaling_loop._clock()
    record_load(server, now - 300, 30)
    server.call(server.cp.scaling_loop.run_once())
    code, out, _ = run_cli(capsys, "scaling", "status", "work", *address, "-o", "json")
    status = json.loads(out)
    assert code == 0 and status["has_policy"] and len(status["decisions"]) == 1
    code, out, _ = run_cli(capsys, "scaling", "status", "work", *address)
    assert code == 0 and "recent decisions" in out
    code, out, _ = run_cli(capsys, "scaling", "events", "work", "--all", *address, "--json")
    assert code == 0 and len(json.loads(out)) == 1
    code, out, _ = run_cli(capsys, "forecast", "show", "work", "--horizon", "1m", *address)
    assert code == 0 and "arrival-rate forecast of work" in out
    code, out, _ = run_cli(capsys, "load", "work", "--since", "10m", *address, "--json")
    assert code == 0 and len(json.loads(out)) == 30
    # Recorded load replays as a trace: `value` is the arrivals per interval.
    trace = tmp_path / "work.csv"
    code, out, _ = run_cli(capsys, "load", "work", "--since", "10m", *address, "--csv", str(trace))
    assert code == 0 and "wrote 30 samples" in out
    series = load_series(trace)
    assert series.step_s == 10 and series.values[:3] == (5.0, 6.0, 7.0)
    forecast_out = tmp_path / "forecast.json"
    code, _, err = run_cli(
        capsys,
        "forecast",
        "predict",
        "--trace",
        str(trace),
        "--horizon",
        "3",
        "--model",
        "naive",
        "--out",
        str(forecast_out),
    )
    assert code == 0, err
    assert json.loads(forecast_out.read_text())["mean"] == [34.0, 34.0, 34.0]
    code, _, err = run_cli(
        capsys, "load", "work", *address, "--csv", str(tmp_path / "missing" / "x.csv")
    )
    assert code == 2 and "--csv" in err
    code, out, _ = run_cli(capsys, "load", "pool:none", *address)
    assert code == 0 and "no load recorded" in out
    code, _, err = run_cli(capsys, "scaling", "status", "ghost", *address)
    assert code == EXIT_REJECTED and "NOT_FOUND" in err


def test_scaling_service_is_in_health_and_reflection(server: Server) -> None:
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(
            health_pb2.HealthCheckRequest(service="orchestrator.v1.ScalingService"), timeout=10
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for r in responses for s in r.list_services_response.service}
        assert "orchestrator.v1.ScalingService" in names
