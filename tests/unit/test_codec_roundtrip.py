"""The codec, checked against the generated descriptors: every enum value of every proto enum
has its model value (and back), every message an RPC carries has a codec (or is a request or
response wrapper), and every such message survives model -> proto -> model and
proto -> model -> proto unchanged, with samples that set every field."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

import controlplane.api.codec
from controlplane.api.codec import (
    admin,
    agent_events,
    agent_specs,
    agents,
    auth,
    modifications,
    resources,
    rollouts,
    scaling,
    scaling_policies,
    schedules,
    scheduling,
)
from controlplane.api.codec import workflows as workflow_codec
from controlplane.api.codec.enums import EnumTable, UnknownEnumValue
from controlplane.api.gen.orchestrator.v1 import (
    admin_pb2,
    agent_pb2,
    auth_pb2,
    resource_pb2,
    scaling_pb2,
    schedule_pb2,
    scheduler_pb2,
    workflow_pb2,
)
from models.agent_events import AgentEvent, AgentEventType
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentVersion,
    AgentView,
    CanaryAnalysis,
    CanaryStep,
    EndpointOptions,
    ReplicaInfo,
    ReplicaResources,
    ReplicaState,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StartFailure,
    StepAnalysis,
    StrategyKind,
    VersionHealth,
    VersionState,
)
from models.audit import AuditFilter
from models.capacity import (
    ClusterUsage,
    NodeUsage,
    PoolInfo,
    PoolRecord,
    PoolRepairPhase,
    PoolRepairStatus,
    PoolSpec,
    PoolUsage,
    Reservation,
    ReservationState,
)
from models.errors import InvalidArgument
from models.executions import (
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.forecasting import FittedForecast, Forecast, ScalingDecision
from models.load import MINUTE, LoadHistoryPage, LoadSample
from models.modifications import Operation, OperationKind
from models.queueing import Backpressure, NamespacePolicy, NamespaceUsage, Quota
from models.replica_health import (
    BreakerState,
    CircuitBreaker,
    HealthCheck,
    HealthStatus,
    LoadBalancing,
    LoadBalancingStrategy,
)
from models.resources import (
    NodeInfo,
    NodeSelector,
    PlacementStrategy,
    RealizationState,
    ResourceAmounts,
)
from models.scaling import (
    PolicyView,
    PredictiveScaling,
    ScaleLimit,
    ScalingEvent,
    ScalingPolicy,
    ScalingStatus,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from models.schedules import FiringState, OverlapPolicy, Schedule, ScheduleSpec
from models.scheduling import PlannedOperation, PlanResult, SchedulerInfo, SolveStatus
from models.security import AccessPolicy, ApiKeyInfo, AuditEvent, Role, RoleBinding
from models.workflows import (
    CreateWorkflowResult,
    RetryPolicy,
    Severity,
    ValidationProblem,
    ValidationResult,
    WorkflowRevision,
    WorkflowView,
)

FILES = (
    agent_pb2,
    workflow_pb2,
    resource_pb2,
    scheduler_pb2,
    scaling_pb2,
    schedule_pb2,
    auth_pb2,
    admin_pb2,
)
CODEC_MODULES = [
    importlib.import_module(f"controlplane.api.codec.{m.name}")
    for m in pkgutil.iter_modules(controlplane.api.codec.__path__)
]
T0 = 1_700_000_000.25  # a time whose nanoseconds are exact in a double

# -- enums ------------------------------------------------------------------------------------


def _tables() -> dict[str, EnumTable[Any, Any]]:
    found: dict[str, EnumTable[Any, Any]] = {}
    for module in CODEC_MODULES:
        for value in vars(module).values():
            if isinstance(value, EnumTable):
                assert found.setdefault(value.full_name, value) is value, value.full_name
    return found


def _enums(descriptor: Descriptor) -> Iterator[EnumDescriptor]:
    yield from descriptor.enum_types
    for nested in descriptor.nested_types:
        yield from _enums(nested)


def _proto_enums() -> list[EnumDescriptor]:
    out: list[EnumDescriptor] = []
    for file in FILES:
        out.extend(file.DESCRIPTOR.enum_types_by_name.values())
        for message in file.DESCRIPTOR.message_types_by_name.values():
            out.extend(_enums(message))
    return out


def test_every_proto_enum_has_exactly_one_table() -> None:
    assert sorted(_tables()) == sorted(e.full_name for e in _proto_enums())


@pytest.mark.parametrize("enum", _proto_enums(), ids=lambda e: e.full_name)
def test_every_enum_value_round_trips(enum: EnumDescriptor) -> None:
    table = _tables()[enum.full_name]
    numbers = {v.number for v in enum.values}
    assert 0 in numbers, "an enum starts with UNSPECIFIED = 0"
    for number in numbers - {0}:
        assert table.to_proto(table.from_proto(number, "f")) == number
    assert {table.to_proto(v) for v in table.model_values()} == numbers - {0}
    for value in table.model_values():
        assert table.from_proto(table.to_proto(value), "f") == value
    if table.unspecified is None:
        with pytest.raises(UnknownEnumValue, match="f: must be set"):
            table.from_proto(0, "f")
    else:
        assert table.from_proto(0, "f") in table.model_values()
    with pytest.raises(UnknownEnumValue) as unknown:
        table.from_proto(max(numbers) + 1, "pool.state")
    assert unknown.value.violations[0].field == "pool.state"


# -- samples ----------------------------------------------------------------------------------

AMOUNTS = ResourceAmounts(cpu=2.5, memory=4 << 30, gpu=1.0, custom={"accelerator_x": 2.0})
SPEC = AgentSpec(
    name="coder",
    version="v2",
    import_path="samples.agents:Coder",
    replicas=3,
    resources=ReplicaResources(num_cpus=1.5, memory=1 << 30, num_gpus=0.5, custom={"x": 1.0}),
    max_concurrency=4,
    capabilities=("code", "test"),
    runtime_env={"pip": ["requests"], "env_vars": {"A": "1"}},
    config={"model": "small", "retries": 2, "temperature": 0.5, "tags": [1, "two"]},
    pool="gpu",
    health_check=HealthCheck(
        interval_s=4.0, timeout_s=1.5, failure_threshold=2, success_threshold=3
    ),
    circuit_breaker=CircuitBreaker(
        enabled=False,
        consecutive_failures=7,
        failure_rate=0.25,
        window_s=30.0,
        minimum_attempts=4,
        cool_down_s=12.5,
    ),
    load_balancing=LoadBalancing(
        LoadBalancingStrategy.CONSISTENT_HASH, "${input.user}", load_factor=1.5
    ),
)
EXTERNAL_SPEC = AgentSpec(
    name="summarizer",
    version="v1",
    endpoint="https://agents.example.com/summarize",
    endpoint_options=EndpointOptions(
        headers={"X-Team": "search"},
        headers_from_env={"Authorization": "SUMMARIZER_TOKEN"},
        connect_timeout_s=2.5,
        read_timeout_s=60.0,
        poll_interval_s=0.25,
        max_poll_interval_s=5.0,
    ),
)
CANARY = RolloutStrategy(
    kind=StrategyKind.CANARY,
    max_surge="2",
    max_unavailable="10%",
    rollback_window_s=0.0,
    steps=(CanaryStep(5.0, 30.0), CanaryStep(25.0, 0.0), CanaryStep(60.0, 90.5)),
    analysis=CanaryAnalysis(
        max_error_rate_increase=0.0,
        max_latency_ratio=2.5,
        min_latency_increase_s=0.0,
        min_attempts=1,
    ),
)
ROLLOUT = RolloutRecord(
    rollout_id="ro-7",
    agent="coder",
    strategy=CANARY,
    stable=dataclasses.replace(SPEC, version="v1"),
    new=SPEC,
    steps=(
        RolloutStep(3, 1, new_weight=0.05, hold_s=30.0, analyse=True),
        RolloutStep(3, 1, new_weight=0.25, analyse=True),
        RolloutStep(0, 3),
    ),
    step=1,
    state=RolloutState.PROGRESSING,
    create_time=T0,
    update_time=T0 + 40,
    step_start_time=T0 + 31,
    message="holding step 2 for its analysis",
    analysis=StepAnalysis(
        canary_attempts=12,
        canary_error_rate=0.25,
        canary_p95_s=0.5,
        stable_attempts=40,
        stable_error_rate=0.0,
        stable_p95_s=0.25,
        verdict="inconclusive",
        reason="12 of 20 canary attempts",
    ),
)
# A first deploy whose replicas did not start: no stable spec, no analysis, never stepped.
FIRST_ROLLOUT = RolloutRecord(
    rollout_id="ro-1",
    agent="summarizer",
    strategy=RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=60.0),
    stable=None,
    new=EXTERNAL_SPEC,
    steps=(RolloutStep(0, 2),),
    step=0,
    state=RolloutState.FAILED,
    create_time=T0,
    update_time=T0,
)
ROLLED_BACK = dataclasses.replace(
    ROLLOUT,
    state=RolloutState.ROLLED_BACK,
    analysis=StepAnalysis(20, 0.5, None, 50, 0.02, None, "fail", "error rate 50% > 2% + 5%"),
)
AGENT = AgentView(
    rollout=ROLLOUT,
    record=AgentRecord(SPEC, T0, T0 + 1),
    state=AgentState.DEGRADED,
    replicas=[
        ReplicaInfo(
            "coder.0",
            "v2",
            ReplicaState.READY,
            2,
            "node-a",
            1,
            health=HealthStatus.UNHEALTHY,
            breaker=BreakerState.HALF_OPEN,
            last_error="ValueError: bad input",
            last_error_time=T0 + 5,
            latency_p50_s=0.25,
            latency_p95_s=1.5,
            health_response_time_s=0.003,
            health_change_time=T0 + 6,
            breaker_change_time=T0 + 7,
        ),
        ReplicaInfo("coder.1", "v1", ReplicaState.DRAINING, 1, "node-b", 3),
    ],
    start_failure=StartFailure(
        "v3", "ValueError: api_key is required (in Coder.__init__, coder.py:9)", "Traceback", T0
    ),
)
ERROR = ErrorInfo("ValueError", "bad input", "build")
EXECUTION = ExecutionRecord(
    execution_id="e" * 32,
    workflow="pipeline",
    revision=2,
    status=ExecutionStatus.FAILED,
    inputs={"repo": "r", "n": 3, "deep": {"x": [1, 2.5]}},
    create_time=T0,
    request_id="req-1",
    outputs={"summary": "done", "count": 7},
    error=ERROR,
    tasks={
        "build": TaskRecord(
            task_id="build",
            agent="coder",
            status=TaskStatus.FAILED,
            attempts=[
                AttemptRecord(1, AttemptStatus.LOST, "coder.0", "v1", T0 + 1, T0 + 2, ERROR),
                AttemptRecord(2, AttemptStatus.FAILED, "coder.1", "v2", T0 + 3, T0 + 4, ERROR),
            ],
            output={"artifact": "a.tar", "size": 10},
            error=ERROR,
            depends_on=("fetch",),
            waiting_reason="no room on any node",
            last_heartbeat={"done": 40, "of": 100, "phase": "compile"},
            last_heartbeat_time=T0 + 3.5,
            items_total=40,
            items_succeeded=12,
            items_failed=1,
            items_running=3,
            iterations=2,
            child_execution_id="c" * 32,
        ),
        "fetch": TaskRecord("fetch", "coder", TaskStatus.SUCCEEDED, output=[1, "x"]),
    },
    start_time=T0 + 0.5,
    end_time=T0 + 5,
    namespace="team",
    parent_execution_id="p" * 32,
)
# As a response carries an execution whose values were left out for their size.
EXECUTION_LEFT_OUT = dataclasses.replace(
    EXECUTION,
    paused=True,
    inputs={},
    inputs_omitted=300_000,
    outputs=None,
    outputs_omitted=5_000_000,
    tasks={
        "fetch": TaskRecord(
            "fetch",
            "coder",
            TaskStatus.SUCCEEDED,
            output_omitted=2_000_000,
            omitted_attempts=4,
            items_total=0,  # an empty for_each: set, unlike a task that is no for_each
        )
    },
)
EVENT = Event("e" * 32, 7, EventType.ATTEMPT_FAILED, T0, "build", {"attempt": 2, "why": "x"})
WORKFLOW = WorkflowView(
    WorkflowRevision("pipeline", 2, "name: pipeline\ntasks: []\n", "sha256:ab", T0, "team-a"),
    3,
    ("a", "b"),
)
PROBLEM = ValidationProblem("tasks[0].agent", "unknown agent", Severity.WARNING)
NODE = NodeInfo(
    "n" * 40,
    "10.0.0.1",
    True,
    {"zone": "a"},
    AMOUNTS,
    ResourceAmounts(cpu=1, memory=1 << 30, custom={"accelerator_x": 1.0}),
)
POOL_SPEC = PoolSpec(
    "gpu",
    NodeSelector({"zone": "a"}, ("accelerator_x",), ("n" * 40,)),
    share=AMOUNTS,
    strategy=PlacementStrategy.STRICT_SPREAD,
)
POOL = PoolInfo(
    record=PoolRecord(POOL_SPEC, T0, T0 + 9),
    node_ids=("n" * 40, "m" * 40),
    capacity=AMOUNTS,
    allocated=ResourceAmounts(cpu=1),
    state=RealizationState.RESCHEDULING,
    placement_group_id="pg-1",
    message="a node is gone",
    repair=PoolRepairStatus(PoolRepairPhase.LOST, 2, T0, 3, T0 + 60, "retrying"),
)
WHOLE_POOL = dataclasses.replace(
    POOL, record=PoolRecord(PoolSpec("cpu", strategy=PlacementStrategy.SPREAD), T0, T0)
)
USAGE = NamespaceUsage("team", AMOUNTS, 2, 5, 90.5, 1, 4, 0.375)
CLUSTER = ClusterUsage(
    nodes=[NodeUsage(NODE, ResourceAmounts(cpu=1.5), ("gpu", "cpu"))],
    pools=[PoolUsage("gpu", AMOUNTS, ResourceAmounts(gpu=1))],
    namespaces=[USAGE],
    fragmentation={"cpu": 0.25, "gpu": 0.0},
    observe_time=T0,
)
QUOTA = NamespacePolicy(
    name="team",
    weight=2.5,
    priority=3,
    backpressure=Backpressure.REJECT,
    quota=Quota(AMOUNTS, max_replicas=8, max_concurrent_executions=4),
    placement_policy="fgd",
    batch_scheduler="cpsat",
    plan_interval_s=12.5,
)
RESERVATION = Reservation(
    reservation_id="r1",
    namespace="team",
    pool="gpu",
    resources=AMOUNTS,
    start_time=T0,
    duration_s=5400.0,
    state=ReservationState.ACTIVE,
    create_time=T0 - 10,
    strategy=PlacementStrategy.STRICT_PACK,
    message="placed",
    placement_group_id="pg-r1",
)
PLAN = PlanResult(
    scheduler="cpsat",
    status=SolveStatus.FEASIBLE,
    objective=42.0,
    bound=40.5,
    operations=[PlannedOperation(1, 1, 2, 3, 10, 20, "e" * 32, "build", "n" * 40)],
    solve_time_s=1.25,
    info={"workers": 1, "why": "small"},
)
POLICY = ScalingPolicy(
    agent="coder",
    min_replicas=2,
    max_replicas=20,
    target_tracking=(
        TargetTracking("in_flight", 0.8, 0.05, 15.0, 120.0, "busy"),
        TargetTracking(name="util"),
    ),
    step_scaling=(
        StepScaling(
            "queue_depth",
            (ScalingStep(1, lower=2, upper=10), ScalingStep(3, lower=10)),
            adjustment_type="percent",
            min_adjustment_magnitude=2,
            name="steps",
        ),
    ),
    scheduled=(ScheduledCapacity("0 9 * * mon-fri", 3600.0, 5, "office", -18000.0),),
    predictive=PredictiveScaling(0.6, 90.0, 0.8, "mean", 1.5, 4, 2.0, 0.05, "ahead"),
    scale_out_limit=ScaleLimit(replicas=4, percent=100.0),
    scale_in_limit=ScaleLimit(replicas=1, percent=50.0),
    scale_out_cooldown_s=30.0,
    scale_in_cooldown_s=300.0,
)
DECISION = ScalingDecision("coder", T0, 2, 5, "busy", "in_flight 1.6 > 0.8", {"value": 1.6})
FITTED = FittedForecast(
    agent="coder",
    forecast=Forecast(
        "ets(add,add,24)", 24, (T0, T0 + 60), (1.0, 2.5), (0.5, 1.0), (1.5, 4.0), 0.9, {"a": 1}
    ),
    requested_model="auto",
    step_s=60.0,
    fit_time=T0,
    fit_duration_s=0.5,
    history_points=120,
    history_end=T0 - 60,
)
STATUS = ScalingStatus(
    agent="coder",
    has_policy=True,
    current=2,
    ready=1,
    desired=5,
    last_decision_time=T0,
    decisions=[ScalingEvent(9, DECISION, "scale failed")],
    # The wire carries a status's forecast as its summary (the series: GetForecast).
    forecast=dataclasses.replace(
        FITTED, forecast=Forecast("ets(add,add,24)", 24, (), (), (), (), 0.9)
    ),
    forecast_error="none yet",
    actuation_error="scale failed",
    evaluation_period_s=15.0,
)
SAMPLE = LoadSample("coder", T0, MINUTE, 5.0, 4.0, 2.0, 1.5, 0.25, 3.0)
SCHEDULE = Schedule(
    spec=ScheduleSpec(
        name="nightly",
        workflow="report",
        cron="30 2 * * mon-fri",
        revision=3,
        inputs={"day": "mon", "pages": 2, "tags": ["a", 1.5]},
        time_zone="Europe/Paris",
        overlap_policy=OverlapPolicy.BUFFER_ONE,
        catch_up_window_s=900.0,
        namespace="team-a",
        paused=True,
    ),
    schedule_id="5c1d",
    create_time=T0,
    update_time=T0 + 1,
    state=FiringState(
        next_fire_time=T0 + 120,
        last_fire_time=T0 + 60,
        last_execution_ids=("e2", "e1"),
        buffered_fire_time=T0 + 60,
        skipped_count=4,
        missed_count=5,
        failed_count=1,
        last_error="2023-11-14T22:15:00Z: agent 'work' is not deployed",
    ),
)


# -- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A message the codec handles: both directions, and models that set every field."""

    message: str
    to_proto: Callable[[Any], Message]
    from_proto: Callable[[Any], Any]
    samples: tuple[Any, ...]


VERSION = AgentVersion(
    SPEC,
    VersionState.ACTIVE,
    T0,
    T0 + 5,
    VersionHealth(300.0, attempts=20, succeeded=19, p50_latency_s=0.25, p95_latency_s=1.5),
)
IDLE_VERSION = AgentVersion(SPEC, VersionState.ROLLED_BACK, T0, T0, VersionHealth(300.0))
AGENT_EVENT = AgentEvent(
    sequence=42,
    time=T0 + 1.5,
    agent="coder",
    type=AgentEventType.REPLICA_BREAKER_CHANGED,
    source="backend",
    replica="coder/v1/abc/0",
    data={"from": "CLOSED", "to": "OPEN", "reason": "3 failed attempts in a row", "n": 3},
)

RETRY = RetryPolicy(
    max_attempts=5,
    initial_interval_s=0.5,
    backoff_coefficient=3.0,
    max_interval_s=30.0,
    non_retryable_errors=("ValueError", "KeyError"),
)
OPERATIONS = (
    Operation(OperationKind.SKIP_TASK, task_id="lint"),
    Operation(
        OperationKind.ADD_TASK,
        task_id="package",
        agent="packer",
        input={"of": "${tasks.build.output}", "n": [1, 2.5, None, True]},
        depends_on=("build", "test"),
        timeout_s=300.0,
        retry=RETRY,
    ),
    Operation(OperationKind.REMOVE_TASK, task_id="docs"),
    Operation(
        OperationKind.UPDATE_TASK,
        task_id="test",
        input="full",
        has_input=True,
        timeout_s=0.25,
        retry=RetryPolicy(),
    ),
    Operation(OperationKind.UPDATE_TASK, task_id="test", input=None, has_input=True),
    Operation(OperationKind.UPDATE_TASK, task_id="test", timeout_s=60.0),
    Operation(OperationKind.SET_VALUE, path="inputs.cfg.mode", value={"a": ["b"]}),
    Operation(OperationKind.SET_VALUE, path="inputs.items[0]", value=None),
    Operation(OperationKind.FORCE_CONDITION, task_id="docs", condition=True),
    Operation(OperationKind.FORCE_CONDITION, task_id="docs", condition=False),
)

API_KEYS = (
    ApiKeyInfo("0123456789abcdef", "ci", Role.DEVELOPER, "team-a", T0, "key:admin", T0 + 5),
    ApiKeyInfo("fedcba9876543210", "root", Role.ADMIN, "*", T0, "auth init"),
)
ACCESS_POLICY = AccessPolicy(
    namespace="team-a",
    allowed_import_prefixes=("team_a", "shared.tools"),
    allowed_endpoint_hosts=("*.team-a.example.com",),
    deny_package_installs=True,
    execution_retention_s=86400.0,
    audit_retention_s=0.5,
)

CASES = [
    Case("orchestrator.v1.ApiKey", auth.api_key_to_proto, auth.api_key_from_proto, API_KEYS),
    Case(
        "orchestrator.v1.NamespacePolicy",
        auth.policy_to_proto,
        lambda m: auth.policy_from_proto(m, "policy"),
        (ACCESS_POLICY, AccessPolicy("default")),
    ),
    Case(
        "orchestrator.v1.RoleBinding",
        auth.binding_to_proto,
        lambda m: auth.binding_from_proto(m, "binding"),
        (RoleBinding("team-a", Role.VIEWER), RoleBinding("*", Role.ADMIN)),
    ),
    Case(
        "orchestrator.v1.SubjectBinding",
        auth.subject_binding_to_proto,
        auth.subject_binding_from_proto,
        (("O=team-a,CN=ci", RoleBinding("team-a", Role.OPERATOR)),),
    ),
    Case(
        "orchestrator.v1.ExecutionOperation",
        modifications.operation_to_proto,
        modifications.operation_from_proto,
        OPERATIONS,
    ),
    Case("orchestrator.v1.Agent", agents.agent_to_proto, agents.agent_from_proto, (AGENT,)),
    Case(
        "orchestrator.v1.AgentEvent",
        agent_events.agent_event_to_proto,
        agent_events.agent_event_from_proto,
        (AGENT_EVENT, dataclasses.replace(AGENT_EVENT, agent="team-a/coder")),
    ),
    Case(
        "orchestrator.v1.AgentVersion",
        agents.agent_version_to_proto,
        agents.agent_version_from_proto,
        (VERSION, IDLE_VERSION),
    ),
    Case(
        "orchestrator.v1.RolloutStrategy",
        rollouts.strategy_to_proto,
        rollouts.strategy_from_proto,
        (CANARY, RolloutStrategy(), FIRST_ROLLOUT.strategy),
    ),
    Case(
        "orchestrator.v1.Rollout",
        rollouts.rollout_to_proto,
        rollouts.rollout_from_proto,
        (ROLLOUT, FIRST_ROLLOUT, ROLLED_BACK),
    ),
    Case(
        "orchestrator.v1.AgentSpec",
        agent_specs.agent_spec_to_proto,
        agent_specs.agent_spec_from_proto,
        # A key outside the default namespace travels as its namespace and bare name.
        (SPEC, EXTERNAL_SPEC, dataclasses.replace(SPEC, name="team-a/coder")),
    ),
    Case(
        "orchestrator.v1.Workflow",
        workflow_codec.workflow_to_proto,
        workflow_codec.workflow_from_proto,
        (WORKFLOW,),
    ),
    Case(
        "orchestrator.v1.CreateWorkflowResponse",
        workflow_codec.create_workflow_to_proto,
        workflow_codec.create_workflow_from_proto,
        (CreateWorkflowResult(WORKFLOW, True, [PROBLEM]),),
    ),
    Case(
        "orchestrator.v1.ValidateWorkflowResponse",
        workflow_codec.validation_to_proto,
        workflow_codec.validation_from_proto,
        (ValidationResult(True, [PROBLEM]),),
    ),
    Case(
        "orchestrator.v1.Execution",
        workflow_codec.execution_to_proto,
        workflow_codec.execution_from_proto,
        (EXECUTION, EXECUTION_LEFT_OUT),
    ),
    Case(
        "orchestrator.v1.Event",
        workflow_codec.event_to_proto,
        workflow_codec.event_from_proto,
        (EVENT,),
    ),
    Case(
        "orchestrator.v1.PoolSpec",
        resources.pool_spec_to_proto,
        resources.pool_spec_from_proto,
        (POOL_SPEC, WHOLE_POOL.spec),
    ),
    Case(
        "orchestrator.v1.Pool",
        resources.pool_to_proto,
        resources.pool_from_proto,
        (POOL, WHOLE_POOL),
    ),
    Case(
        "orchestrator.v1.GetClusterStateResponse",
        resources.cluster_to_proto,
        resources.cluster_from_proto,
        (CLUSTER,),
    ),
    Case("orchestrator.v1.Quota", resources.quota_to_proto, resources.quota_from_proto, (QUOTA,)),
    Case(
        "orchestrator.v1.Reservation",
        resources.reservation_to_proto,
        resources.reservation_from_proto,
        (RESERVATION,),
    ),
    Case(
        "orchestrator.v1.ResourceAmounts",
        resources.amounts_to_proto,
        resources.amounts_from_proto,
        (AMOUNTS,),
    ),
    Case(
        "orchestrator.v1.SchedulerInfo",
        scheduling.scheduler_to_proto,
        scheduling.scheduler_from_proto,
        (SchedulerInfo("cpsat", "CP-SAT", "batch"),),
    ),
    Case(
        "orchestrator.v1.PlanResponse",
        scheduling.plan_to_proto,
        scheduling.plan_from_proto,
        (PLAN,),
    ),
    Case(
        "orchestrator.v1.ScalingPolicy",
        scaling_policies.scaling_policy_to_proto,
        scaling_policies.scaling_policy_from_proto,
        (POLICY, dataclasses.replace(POLICY, agent="team-a/coder")),
    ),
    Case(
        "orchestrator.v1.SetScalingPolicyResponse",
        scaling.set_policy_response,
        scaling.policy_view_from_proto,
        (PolicyView(POLICY, T0, T0 + 1),),
    ),
    Case(
        "orchestrator.v1.GetScalingPolicyResponse",
        scaling.get_policy_response,
        scaling.policy_view_from_proto,
        (PolicyView(POLICY, T0, T0 + 1),),
    ),
    Case(
        "orchestrator.v1.ScalingEvent",
        scaling.scaling_event_to_proto,
        scaling.scaling_event_from_proto,
        (ScalingEvent(9, DECISION, "scale failed"),),
    ),
    Case(
        "orchestrator.v1.ScalingStatus",
        scaling.scaling_status_to_proto,
        scaling.scaling_status_from_proto,
        (STATUS,),
    ),
    Case(
        "orchestrator.v1.GetForecastResponse",
        scaling.forecast_to_proto,
        scaling.forecast_from_proto,
        (FITTED,),
    ),
    Case(
        "orchestrator.v1.LoadSample",
        scaling.load_sample_to_proto,
        lambda m: scaling.load_sample_from_proto(m, "coder", MINUTE),
        (SAMPLE,),
    ),
    Case(
        "orchestrator.v1.GetLoadHistoryResponse",
        scaling.load_history_to_proto,
        lambda m: scaling.load_history_from_proto(m, "coder", MINUTE),
        (LoadHistoryPage([SAMPLE, dataclasses.replace(SAMPLE, time=T0 + 60)], 60.0, "next"),),
    ),
    Case(
        "orchestrator.v1.Schedule",
        schedules.schedule_to_proto,
        schedules.schedule_from_proto,
        (SCHEDULE,),
    ),
    Case(
        "orchestrator.v1.AuditEvent",
        admin.audit_event_to_proto,
        admin.audit_event_from_proto,
        (
            AuditEvent(
                sequence=7,
                time=T0,
                caller="key:ci",
                namespace="team-a",
                rpc="AgentService/DeployAgent",
                resource="coder",
                request_summary='{"agent":{"name":"coder"}}',
                code="INVALID_ARGUMENT",
            ),
        ),
    ),
    Case(
        "orchestrator.v1.ListAuditEventsRequest",
        lambda page: admin.audit_request(*page),
        lambda m: (admin.audit_filter_from_proto(m), m.page_size, m.page_token),
        (
            (AuditFilter("team-a", "key:ci", "DeployAgent", T0, T0 + 60), 20, "next"),
            (AuditFilter(), 0, ""),
        ),
    ),
]

# Messages encoded only inside another one (their fields count there).
PARTS = {
    "orchestrator.v1.ReplicaResources": "orchestrator.v1.AgentSpec",
    "orchestrator.v1.HealthCheck": "orchestrator.v1.AgentSpec",
    "orchestrator.v1.CircuitBreaker": "orchestrator.v1.AgentSpec",
    "orchestrator.v1.LoadBalancing": "orchestrator.v1.AgentSpec",
    "orchestrator.v1.EndpointOptions": "orchestrator.v1.AgentSpec",
    "orchestrator.v1.Replica": "orchestrator.v1.Agent",
    "orchestrator.v1.CanaryStep": "orchestrator.v1.RolloutStrategy",
    "orchestrator.v1.CanaryAnalysis": "orchestrator.v1.RolloutStrategy",
    "orchestrator.v1.RolloutStep": "orchestrator.v1.Rollout",
    "orchestrator.v1.StepAnalysis": "orchestrator.v1.Rollout",
    "orchestrator.v1.VersionHealth": "orchestrator.v1.AgentVersion",
    "orchestrator.v1.StartFailure": "orchestrator.v1.Agent",
    "orchestrator.v1.WorkflowRevision": "orchestrator.v1.Workflow",
    "orchestrator.v1.ValidationProblem": "orchestrator.v1.ValidateWorkflowResponse",
    "orchestrator.v1.ExecutionError": "orchestrator.v1.Execution",
    "orchestrator.v1.TaskState": "orchestrator.v1.Execution",
    "orchestrator.v1.Attempt": "orchestrator.v1.Execution",
    "orchestrator.v1.OmittedValue": "orchestrator.v1.Execution",
    "orchestrator.v1.NodeSelector": "orchestrator.v1.PoolSpec",
    "orchestrator.v1.PoolRepair": "orchestrator.v1.Pool",
    "orchestrator.v1.Node": "orchestrator.v1.GetClusterStateResponse",
    "orchestrator.v1.PoolUsage": "orchestrator.v1.GetClusterStateResponse",
    "orchestrator.v1.NamespaceUsage": "orchestrator.v1.GetClusterStateResponse",
    "orchestrator.v1.PlannedOperation": "orchestrator.v1.PlanResponse",
    "orchestrator.v1.TargetTracking": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.StepScaling": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.ScalingStep": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.ScheduledCapacity": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.PredictiveScaling": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.ScaleLimit": "orchestrator.v1.ScalingPolicy",
    "orchestrator.v1.ForecastSummary": "orchestrator.v1.GetForecastResponse",
    "orchestrator.v1.ExecutionOperation.SkipTask": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.ExecutionOperation.AddTask": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.ExecutionOperation.RemoveTask": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.ExecutionOperation.UpdateTask": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.ExecutionOperation.SetValue": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.ExecutionOperation.ForceCondition": "orchestrator.v1.ExecutionOperation",
    "orchestrator.v1.RetryPolicy": "orchestrator.v1.ExecutionOperation",
}

# Model fields the wire does not carry (server-side bookkeeping): default in every sample.
SERVER_ONLY = {
    Reservation: {"request_id"},
    ExecutionRecord: {"last_sequence"},
    NamespacePolicy: {"max_queue"},
}


def _is_wrapper(name: str) -> bool:
    return name.endswith(("Request", "Response"))


def _rpc_messages() -> set[str]:
    """Every orchestrator.v1 message an RPC carries, directly or in a field."""
    seen: set[str] = set()
    todo: list[Descriptor] = []
    for file in FILES:
        for service in file.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                todo += [method.input_type, method.output_type]
    while todo:
        message = todo.pop()
        if message.full_name in seen or not message.full_name.startswith("orchestrator."):
            continue
        seen.add(message.full_name)
        todo += [f.message_type for f in message.fields if f.message_type is not None]
    return {name for name in seen if not name.endswith("Entry")}


def test_every_message_an_rpc_carries_has_a_codec_or_is_a_wrapper() -> None:
    handled = {c.message for c in CASES} | set(PARTS)
    missing = sorted(m for m in _rpc_messages() if not _is_wrapper(m) and m not in handled)
    assert missing == []
    assert set(PARTS.values()) <= {c.message for c in CASES}


def _set_fields(message: Message) -> Iterator[str]:
    """`full.Message.field` of every field set in `message` and in the messages inside it."""
    for field, value in message.ListFields():
        yield f"{message.DESCRIPTOR.full_name}.{field.name}"
        inner = field.message_type
        if inner is None or inner.GetOptions().map_entry:
            continue
        if not inner.full_name.startswith("orchestrator."):
            continue
        repeated = field.label == FieldDescriptor.LABEL_REPEATED
        for item in value if repeated else [value]:
            yield from _set_fields(item)


def _messages(descriptor: Descriptor) -> Iterator[Descriptor]:
    yield descriptor
    for nested in descriptor.nested_types:
        yield from _messages(nested)


def _all_fields(name: str) -> set[str]:
    for file in FILES:
        for top in file.DESCRIPTOR.message_types_by_name.values():
            for message in _messages(top):
                if message.full_name == name:
                    return {f"{name}.{f.name}" for f in message.fields}
    raise KeyError(name)


def test_the_samples_set_every_field() -> None:
    covered = {
        path
        for case in CASES
        for model in case.samples
        for path in _set_fields(case.to_proto(model))
    }
    expected = set().union(*(_all_fields(c.message) for c in CASES), *map(_all_fields, PARTS))
    assert sorted(expected - covered) == []


def _server_only_are_defaults(value: Any) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        defaults = {f.name: f.default for f in dataclasses.fields(value)}
        for name in SERVER_ONLY.get(type(value), ()):
            assert getattr(value, name) == defaults[name], (type(value).__name__, name)
        for f in dataclasses.fields(value):
            _server_only_are_defaults(getattr(value, f.name))
    elif isinstance(value, list | tuple):
        for item in value:
            _server_only_are_defaults(item)
    elif isinstance(value, dict):
        for item in value.values():
            _server_only_are_defaults(item)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.message.removeprefix("orchestrator.v1."))
def test_model_to_proto_to_model_is_identity(case: Case) -> None:
    for model in case.samples:
        _server_only_are_defaults(model)
        message = case.to_proto(model)
        assert message.DESCRIPTOR.full_name == case.message
        assert case.from_proto(message) == model


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.message.removeprefix("orchestrator.v1."))
def test_proto_to_model_to_proto_is_identity(case: Case) -> None:
    for model in case.samples:
        message = case.to_proto(model)
        wire = message.SerializeToString(deterministic=True)
        parsed = type(message).FromString(wire)
        assert case.to_proto(case.from_proto(parsed)) == parsed


def test_an_execution_listed_without_tasks_reads_back_without_tasks() -> None:
    listed = workflow_codec.execution_to_proto(EXECUTION, with_tasks=False)
    assert workflow_codec.execution_from_proto(listed) == dataclasses.replace(EXECUTION, tasks={})


def test_an_unknown_event_type_is_skipped() -> None:
    message = workflow_codec.event_to_proto(EVENT)
    message.type = "TASK_TELEPORTED"
    assert workflow_codec.event_from_proto(message) is None


def test_an_unknown_agent_event_type_is_skipped() -> None:
    message = agent_events.agent_event_to_proto(AGENT_EVENT)
    message.type = "REPLICA_TELEPORTED"
    assert agent_events.agent_event_from_proto(message) is None


def test_a_request_that_leaves_a_documented_default_unset_reads_as_that_default() -> None:
    spec = resources.pool_spec_from_proto(resource_pb2.PoolSpec(name="p", whole_nodes=True))
    assert spec.strategy is PlacementStrategy.PACK
    quota = resources.quota_from_proto(resource_pb2.Quota(namespace="n"))
    assert quota == NamespacePolicy("n")
    assert scaling.LOAD_RESOLUTIONS.from_proto(0, "resolution") == 0
    bare = schedule_pb2.Schedule(name="s", workflow="w", cron="@daily")
    assert schedules.schedule_spec_from_proto(bare, "schedule") == ScheduleSpec("s", "w", "@daily")


def test_an_unknown_status_on_the_wire_is_a_clear_error() -> None:
    message = resources.pool_to_proto(POOL)
    message.realization = 0  # type: ignore[assignment]
    with pytest.raises(UnknownEnumValue, match=r"pool\.realization: must be set"):
        resources.pool_from_proto(message)
    plan = scheduling.plan_to_proto(PLAN)
    plan.status = "GUESSED"
    with pytest.raises(InvalidArgument, match=r"plan\.status"):
        scheduling.plan_from_proto(plan)
