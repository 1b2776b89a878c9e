"""The one place that converts between generated protobuf messages and domain models, in both
directions: `*_to_proto` for the servicers, `*_from_proto` for the servicers and the client."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    resource_pb2,
    scaling_pb2,
    scheduler_pb2,
    workflow_pb2,
)
from controlplane.engine.planning.planner import Plan
from controlplane.engine.scaling.policy_documents import policy_from_document
from controlplane.store.scaling import jsonable
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentView,
    ReplicaInfo,
    ReplicaResources,
    ReplicaState,
)
from models.capacity import (
    ClusterView,
    PoolRecord,
    PoolRepair,
    PoolSpec,
    PoolView,
    Reservation,
    ReservationState,
)
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
from models.load import HOUR, MINUTE, RAW, LoadSample
from models.queueing import Backpressure, NamespacePolicy, NamespaceUsage, Quota
from models.resources import NodeInfo, NodeSelector, PlacementStrategy, ResourceAmounts
from models.scaling import (
    PolicyView,
    PredictiveScaling,
    ScaleLimit,
    ScalingEvent,
    ScalingPolicy,
    ScalingStatus,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from models.workflows import Severity, ValidationProblem, WorkflowRevision, WorkflowView

log = logging.getLogger(__name__)


def plain_numbers(value: Any) -> Any:
    """protobuf Struct stores every number as a double; give integral ones back as ints
    (JSON does not distinguish them, and `3` reads better than `3.0`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(plain_numbers(json_format.MessageToDict(message)))


def dict_to_struct(value: dict[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if value:
        message.update(value)
    return message


def to_value(value: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(value, message)
    return message


def from_value(message: struct_pb2.Value) -> Any:
    return plain_numbers(json_format.MessageToDict(message))


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    if seconds is None:
        return None
    message = timestamp_pb2.Timestamp()
    message.FromNanoseconds(int(seconds * 1e9))
    return message


def seconds(message: timestamp_pb2.Timestamp) -> float:
    return float(message.ToNanoseconds()) / 1e9


# -- agents -----------------------------------------------------------------------------------


def agent_spec_from_proto(message: agent_pb2.AgentSpec) -> AgentSpec:
    res = message.resources
    return AgentSpec(
        name=message.name,
        version=message.version,
        import_path=message.import_path,
        replicas=message.replicas,
        resources=ReplicaResources(
            num_cpus=res.num_cpus, memory=res.memory, num_gpus=res.num_gpus, custom=dict(res.custom)
        ),
        max_concurrency=message.max_concurrency or 1,
        capabilities=tuple(message.capabilities),
        runtime_env=struct_to_dict(message.runtime_env),
        config=struct_to_dict(message.config),
        pool=message.pool,
    )


def agent_spec_to_proto(spec: AgentSpec) -> agent_pb2.AgentSpec:
    res = spec.resources
    return agent_pb2.AgentSpec(
        name=spec.name,
        version=spec.version,
        import_path=spec.import_path,
        replicas=spec.replicas,
        resources=agent_pb2.ReplicaResources(
            num_cpus=res.num_cpus, memory=res.memory, num_gpus=res.num_gpus, custom=res.custom
        ),
        max_concurrency=spec.max_concurrency,
        capabilities=list(spec.capabilities),
        runtime_env=dict_to_struct(spec.runtime_env),
        config=dict_to_struct(spec.config),
        pool=spec.pool,
    )


def replica_to_proto(replica: ReplicaInfo) -> agent_pb2.Replica:
    return agent_pb2.Replica(
        name=replica.name,
        version=replica.version,
        state=f"REPLICA_STATE_{replica.state.value}",
        outstanding_attempts=replica.outstanding_attempts,
        node_id=replica.node_id,
        restarts=replica.restarts,
    )


def replica_from_proto(message: agent_pb2.Replica) -> ReplicaInfo:
    state = agent_pb2.ReplicaState.Name(message.state).removeprefix("REPLICA_STATE_")
    return ReplicaInfo(
        name=message.name,
        version=message.version,
        state=ReplicaState(state),
        outstanding_attempts=message.outstanding_attempts,
        node_id=message.node_id,
        restarts=message.restarts,
    )


def agent_to_proto(view: AgentView) -> agent_pb2.Agent:
    return agent_pb2.Agent(
        spec=agent_spec_to_proto(view.record.spec),
        state=f"AGENT_STATE_{view.state.value}",
        replicas=[replica_to_proto(r) for r in view.replicas],
        create_time=timestamp(view.record.create_time),
        update_time=timestamp(view.record.update_time),
    )


def agent_state_name(value: int) -> AgentState:
    return AgentState(agent_pb2.AgentState.Name(value).removeprefix("AGENT_STATE_"))


# -- workflows --------------------------------------------------------------------------------


def problem_to_proto(problem: ValidationProblem) -> workflow_pb2.ValidationProblem:
    return workflow_pb2.ValidationProblem(
        path=problem.path,
        message=problem.message,
        severity=f"SEVERITY_{problem.severity.value}",
    )


def problem_from_proto(message: workflow_pb2.ValidationProblem) -> ValidationProblem:
    severity = workflow_pb2.Severity.Name(message.severity).removeprefix("SEVERITY_")
    return ValidationProblem(message.path, message.message, Severity(severity))


def revision_to_proto(
    revision: WorkflowRevision, task_ids: list[str]
) -> workflow_pb2.WorkflowRevision:
    return workflow_pb2.WorkflowRevision(
        name=revision.name,
        revision=revision.revision,
        definition=revision.definition_text,
        digest=revision.digest,
        create_time=timestamp(revision.create_time),
        task_ids=task_ids,
    )


# -- executions -------------------------------------------------------------------------------


def execution_status_from_proto(value: int) -> ExecutionStatus:
    return ExecutionStatus(
        workflow_pb2.ExecutionStatus.Name(value).removeprefix("EXECUTION_STATUS_")
    )


def error_to_proto(error: ErrorInfo | None) -> workflow_pb2.ExecutionError | None:
    if error is None:
        return None
    return workflow_pb2.ExecutionError(
        type=error.type, message=error.message, task_id=error.task_id
    )


def attempt_to_proto(attempt: AttemptRecord) -> workflow_pb2.Attempt:
    return workflow_pb2.Attempt(
        number=attempt.number,
        status=f"ATTEMPT_STATUS_{attempt.status.value}",
        replica=attempt.replica,
        agent_version=attempt.agent_version,
        start_time=timestamp(attempt.start_time),
        end_time=timestamp(attempt.end_time),
        error=error_to_proto(attempt.error),
    )


def task_to_proto(task: TaskRecord) -> workflow_pb2.TaskState:
    message = workflow_pb2.TaskState(
        task_id=task.task_id,
        agent=task.agent,
        status=f"TASK_STATUS_{task.status.value}",
        attempts=[attempt_to_proto(a) for a in task.attempts],
        error=error_to_proto(task.error),
        depends_on=list(task.depends_on),
        waiting_reason=task.waiting_reason,
    )
    if task.output is not None:
        message.output.CopyFrom(to_value(task.output))
    return message


def execution_to_proto(record: ExecutionRecord, with_tasks: bool = True) -> workflow_pb2.Execution:
    message = workflow_pb2.Execution(
        execution_id=record.execution_id,
        workflow=record.workflow,
        revision=record.revision,
        status=f"EXECUTION_STATUS_{record.status.value}",
        inputs=dict_to_struct(record.inputs),
        error=error_to_proto(record.error),
        create_time=timestamp(record.create_time),
        start_time=timestamp(record.start_time),
        end_time=timestamp(record.end_time),
        request_id=record.request_id,
        namespace=record.namespace,
    )
    if record.outputs is not None:
        message.outputs.CopyFrom(dict_to_struct(record.outputs))
    if with_tasks:
        message.tasks.extend(task_to_proto(t) for t in record.tasks.values())
    return message


def event_to_proto(event: Event) -> workflow_pb2.Event:
    return workflow_pb2.Event(
        execution_id=event.execution_id,
        sequence=event.sequence,
        type=event.type.value,
        task_id=event.task_id,
        time=timestamp(event.time),
        details=dict_to_struct(event.details),
    )


# -- client direction (proto -> model) ----------------------------------------------------


def _struct(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(plain_numbers(struct_to_dict(message)))


def _optional_seconds(present: bool, message: timestamp_pb2.Timestamp) -> float | None:
    return seconds(message) if present else None


# -- agents -----------------------------------------------------------------------------------


def agent_from_proto(message: agent_pb2.Agent) -> AgentView:
    spec = agent_spec_from_proto(message.spec)
    spec = replace(
        spec, config=plain_numbers(spec.config), runtime_env=plain_numbers(spec.runtime_env)
    )
    record = AgentRecord(
        spec=spec,
        create_time=seconds(message.create_time),
        update_time=seconds(message.update_time),
    )
    return AgentView(
        record=record,
        state=agent_state_name(message.state),
        replicas=[replica_from_proto(r) for r in message.replicas],
    )


# -- workflows --------------------------------------------------------------------------------


def revision_from_proto(message: workflow_pb2.WorkflowRevision) -> WorkflowRevision:
    return WorkflowRevision(
        name=message.name,
        revision=message.revision,
        definition_text=message.definition,
        digest=message.digest,
        create_time=seconds(message.create_time),
    )


def workflow_from_proto(message: workflow_pb2.Workflow) -> WorkflowView:
    return WorkflowView(
        revision=revision_from_proto(message.revision),
        latest_revision=message.latest_revision,
        task_ids=tuple(message.revision.task_ids),
    )


# -- executions -------------------------------------------------------------------------------


def error_from_proto(message: workflow_pb2.ExecutionError) -> ErrorInfo:
    return ErrorInfo(type=message.type, message=message.message, task_id=message.task_id)


def attempt_from_proto(message: workflow_pb2.Attempt) -> AttemptRecord:
    status = workflow_pb2.AttemptStatus.Name(message.status).removeprefix("ATTEMPT_STATUS_")
    return AttemptRecord(
        number=message.number,
        status=AttemptStatus(status),
        replica=message.replica,
        agent_version=message.agent_version,
        start_time=_optional_seconds(message.HasField("start_time"), message.start_time) or 0.0,
        end_time=_optional_seconds(message.HasField("end_time"), message.end_time),
        error=error_from_proto(message.error) if message.HasField("error") else None,
    )


def task_from_proto(message: workflow_pb2.TaskState) -> TaskRecord:
    status = workflow_pb2.TaskStatus.Name(message.status).removeprefix("TASK_STATUS_")
    return TaskRecord(
        task_id=message.task_id,
        agent=message.agent,
        status=TaskStatus(status),
        attempts=[attempt_from_proto(a) for a in message.attempts],
        output=plain_numbers(from_value(message.output)) if message.HasField("output") else None,
        error=error_from_proto(message.error) if message.HasField("error") else None,
        depends_on=tuple(message.depends_on),
        waiting_reason=message.waiting_reason,
    )


def execution_from_proto(message: workflow_pb2.Execution) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=message.execution_id,
        workflow=message.workflow,
        revision=message.revision,
        status=execution_status_from_proto(message.status),
        inputs=_struct(message.inputs),
        create_time=seconds(message.create_time),
        request_id=message.request_id,
        namespace=message.namespace or "default",
        outputs=_struct(message.outputs) if message.HasField("outputs") else None,
        error=error_from_proto(message.error) if message.HasField("error") else None,
        tasks={t.task_id: task_from_proto(t) for t in message.tasks},
        start_time=_optional_seconds(message.HasField("start_time"), message.start_time),
        end_time=_optional_seconds(message.HasField("end_time"), message.end_time),
    )


def event_from_proto(message: workflow_pb2.Event) -> Event | None:
    """None for an event type this client does not know (a newer server)."""
    try:
        event_type = EventType(message.type)
    except ValueError:
        log.debug("skipping unknown event type %r", message.type)
        return None
    return Event(
        execution_id=message.execution_id,
        sequence=message.sequence,
        type=event_type,
        time=seconds(message.time),
        task_id=message.task_id,
        details=_struct(message.details),
    )


# -- resources --------------------------------------------------------------------------------


def amounts_to_proto(amounts: ResourceAmounts) -> resource_pb2.ResourceAmounts:
    return resource_pb2.ResourceAmounts(
        cpu=amounts.cpu, memory=amounts.memory, gpu=amounts.gpu, custom=dict(amounts.custom)
    )


def amounts_from_proto(message: resource_pb2.ResourceAmounts) -> ResourceAmounts:
    return ResourceAmounts(
        cpu=message.cpu, memory=message.memory, gpu=message.gpu, custom=dict(message.custom)
    )


def strategy_from_proto(value: int) -> PlacementStrategy:
    if value == 0:
        return PlacementStrategy.PACK
    return PlacementStrategy(
        resource_pb2.PlacementStrategy.Name(value).removeprefix("PLACEMENT_STRATEGY_")
    )


def pool_spec_from_proto(message: resource_pb2.PoolSpec) -> PoolSpec:
    selector = message.selector
    return PoolSpec(
        name=message.name,
        selector=NodeSelector(
            labels=dict(selector.labels),
            custom_resources=tuple(selector.custom_resources),
            node_ids=tuple(selector.node_ids),
        ),
        share=amounts_from_proto(message.share) if message.HasField("share") else None,
        strategy=strategy_from_proto(message.strategy),
    )


def pool_spec_to_proto(spec: PoolSpec) -> resource_pb2.PoolSpec:
    message = resource_pb2.PoolSpec(
        name=spec.name,
        selector=resource_pb2.NodeSelector(
            labels=dict(spec.selector.labels),
            custom_resources=list(spec.selector.custom_resources),
            node_ids=list(spec.selector.node_ids),
        ),
        strategy=f"PLACEMENT_STRATEGY_{spec.strategy.value}",
    )
    if spec.share is None:
        message.whole_nodes = True
    else:
        message.share.CopyFrom(amounts_to_proto(spec.share))
    return message


def pool_repair_to_proto(repair: PoolRepair) -> resource_pb2.PoolRepair:
    return resource_pb2.PoolRepair(
        phase=f"PHASE_{repair.phase.value}",
        losses=repair.losses,
        lost_time=timestamp(repair.lost_time),
        failed_tries=repair.attempts,
        next_try_time=timestamp(repair.retry_time or None),
        message=repair.message,
    )


def pool_to_proto(view: PoolView) -> resource_pb2.Pool:
    realization = view.realization
    return resource_pb2.Pool(
        spec=pool_spec_to_proto(view.record.spec),
        node_ids=[n.node_id for n in view.nodes],
        capacity=amounts_to_proto(view.capacity),
        allocated=amounts_to_proto(view.allocated),
        create_time=timestamp(view.record.create_time),
        update_time=timestamp(view.record.update_time),
        placement_group_id=realization.placement_group_id if realization is not None else "",
        realization=f"REALIZATION_STATE_{view.state.value}",
        message=view.state_message,
        repair=pool_repair_to_proto(view.repair) if view.repair is not None else None,
    )


def node_to_proto(node: NodeInfo, pools: list[str]) -> resource_pb2.Node:
    return resource_pb2.Node(
        node_id=node.node_id,
        address=node.address,
        alive=node.alive,
        labels=dict(node.labels),
        capacity=amounts_to_proto(node.capacity),
        allocated=amounts_to_proto(node.capacity.sub(node.free)),
        free=amounts_to_proto(node.free),
        pools=pools,
    )


def namespace_usage_to_proto(usage: NamespaceUsage) -> resource_pb2.NamespaceUsage:
    message = resource_pb2.NamespaceUsage(
        namespace=usage.namespace,
        allocated=amounts_to_proto(usage.allocated),
        replicas=usage.running_tasks,
        running_executions=usage.running_executions,
        weighted_dominant_share=usage.weighted_dominant_share,
        queued_tasks=usage.queued_tasks,
        running_tasks=usage.running_tasks,
        queued_executions=usage.queued_executions,
    )
    message.oldest_wait.FromNanoseconds(int(usage.oldest_wait_s * 1e9))
    return message


def cluster_state_to_proto(
    view: ClusterView, namespaces: Sequence[NamespaceUsage] = ()
) -> resource_pb2.GetClusterStateResponse:
    member_of: dict[str, list[str]] = {}
    for pool in view.pools:
        for node in pool.nodes:
            member_of.setdefault(node.node_id, []).append(pool.record.spec.name)
    return resource_pb2.GetClusterStateResponse(
        nodes=[node_to_proto(n, member_of.get(n.node_id, [])) for n in view.nodes],
        pools=[
            resource_pb2.PoolUsage(
                pool=p.record.spec.name,
                capacity=amounts_to_proto(p.capacity),
                allocated=amounts_to_proto(p.allocated),
            )
            for p in view.pools
        ],
        namespaces=[namespace_usage_to_proto(u) for u in namespaces],
        fragmentation=view.fragmentation,
        observe_time=timestamp(view.observe_time),
    )


def quota_from_proto(message: resource_pb2.Quota) -> NamespacePolicy:
    has_max = message.HasField("max")
    backpressure = (
        Backpressure.REJECT
        if message.backpressure == resource_pb2.BACKPRESSURE_REJECT
        else Backpressure.QUEUE
    )
    return NamespacePolicy(
        name=message.namespace,
        weight=message.weight or 1.0,
        priority=message.priority,
        backpressure=backpressure,
        placement_policy=message.placement_policy or "best-fit",
        batch_scheduler=message.batch_scheduler,
        plan_interval_s=message.plan_interval.ToNanoseconds() / 1e9 or 5.0
        if message.HasField("plan_interval")
        else 5.0,
        quota=Quota(
            max_resources=amounts_from_proto(message.max) if has_max else None,
            max_replicas=message.max_replicas or None,
            max_concurrent_executions=message.max_concurrent_executions or None,
        ),
    )


def quota_to_proto(policy: NamespacePolicy) -> resource_pb2.Quota:
    quota = policy.quota
    message = resource_pb2.Quota(
        namespace=policy.name,
        max_replicas=quota.max_replicas or 0,
        max_concurrent_executions=quota.max_concurrent_executions or 0,
        weight=policy.weight,
        priority=policy.priority,
        backpressure=f"BACKPRESSURE_{policy.backpressure.value}",
        placement_policy=policy.placement_policy,
        batch_scheduler=policy.batch_scheduler,
    )
    message.plan_interval.FromNanoseconds(int(policy.plan_interval_s * 1e9))
    if quota.max_resources is not None:
        message.max.CopyFrom(amounts_to_proto(quota.max_resources))
    return message


def reservation_to_proto(reservation: Reservation) -> resource_pb2.Reservation:
    message = resource_pb2.Reservation(
        reservation_id=reservation.reservation_id,
        namespace=reservation.namespace,
        pool=reservation.pool,
        resources=amounts_to_proto(reservation.resources),
        start_time=timestamp(reservation.start_time),
        state=f"RESERVATION_STATE_{reservation.state.value}",
        strategy=f"PLACEMENT_STRATEGY_{reservation.strategy.value}",
        create_time=timestamp(reservation.create_time),
        message=reservation.message,
        placement_group_id=reservation.placement_group_id,
    )
    message.duration.FromNanoseconds(int(reservation.duration_s * 1e9))
    return message


# -- planning ---------------------------------------------------------------------------------


def _live_fields(plan: Plan, operation: int, machine: int) -> dict[str, str]:
    if plan.live is None:
        return {}
    task = plan.live.tasks[operation]
    return {
        "execution_id": task.execution_id,
        "task_id": task.task_id,
        "node_id": plan.live.slots[machine].node,
    }


def plan_to_proto(plan: Plan) -> scheduler_pb2.PlanResponse:
    problem, schedule = plan.problem, plan.schedule
    position = {o: i for job in problem.jobs for i, o in enumerate(job.operations)}
    message = scheduler_pb2.PlanResponse(
        scheduler=schedule.solver,
        status=schedule.status.value,
        objective=schedule.objective_value,
        operations=[
            scheduler_pb2.PlannedOperation(
                operation=s.operation,
                job=problem.operations[s.operation].job,
                position=position[s.operation],
                machine=s.machine,
                start=s.start,
                end=s.end,
                **_live_fields(plan, s.operation, s.machine),
            )
            for s in schedule.operations
        ],
        info=dict_to_struct(json.loads(json.dumps(schedule.info, default=str))),
    )
    if schedule.bound is not None:
        message.bound = schedule.bound
    message.solve_time.FromNanoseconds(int(schedule.solve_seconds * 1e9))
    return message


# -- resources and planning, client direction (proto -> typed views) --------------------------


@dataclass(frozen=True)
class PoolRepairInfo:
    """Where the repair of a pool's lost placement group stands, as the server reports it."""

    # LOST, RECREATED or HEALED; "" when the server does not say.
    phase: str
    losses: int
    lost_time: float
    failed_tries: int
    # 0.0: no retry is pending.
    next_try_time: float
    message: str


@dataclass(frozen=True)
class PoolInfo:
    """A pool as the server reports it: the stored record and what it holds right now."""

    record: PoolRecord
    node_ids: tuple[str, ...]
    capacity: ResourceAmounts
    allocated: ResourceAmounts
    placement_group_id: str
    # PENDING, READY or RESCHEDULING; "" when the server does not say.
    realization: str
    message: str
    repair: PoolRepairInfo | None = None

    @property
    def spec(self) -> PoolSpec:
        return self.record.spec

    @property
    def name(self) -> str:
        return self.record.spec.name


@dataclass(frozen=True)
class NodeUsage:
    """One node of the cluster with what is allocated on it and the pools drawing from it."""

    info: NodeInfo
    allocated: ResourceAmounts
    pools: tuple[str, ...]


@dataclass(frozen=True)
class PoolUsage:
    pool: str
    capacity: ResourceAmounts
    allocated: ResourceAmounts


@dataclass(frozen=True)
class ClusterState:
    nodes: list[NodeUsage]
    pools: list[PoolUsage]
    namespaces: list[NamespaceUsage]
    fragmentation: dict[str, float]
    observe_time: float


@dataclass(frozen=True)
class ReservationInfo:
    """A reservation with the Ray placement group holding it (empty until it is ACTIVE)."""

    reservation: Reservation
    placement_group_id: str


@dataclass(frozen=True)
class SchedulerInfo:
    name: str
    description: str
    # "batch" or "placement"; "" when the server does not say.
    kind: str


@dataclass(frozen=True)
class PlannedOperation:
    operation: int
    job: int
    position: int
    machine: int
    start: int
    end: int
    # Set for a namespace plan: the task the operation stands for and its node.
    execution_id: str
    task_id: str
    node_id: str


@dataclass(frozen=True)
class PlanResult:
    scheduler: str
    status: str
    objective: float
    bound: float | None
    operations: list[PlannedOperation]
    solve_time_s: float
    info: dict[str, Any]


def _duration_seconds(message: Any) -> float:
    return float(message.ToNanoseconds()) / 1e9


def realization_from_proto(value: int) -> str:
    if value == resource_pb2.REALIZATION_STATE_UNSPECIFIED:
        return ""
    return str(resource_pb2.RealizationState.Name(value)).removeprefix("REALIZATION_STATE_")


def pool_repair_from_proto(message: resource_pb2.PoolRepair) -> PoolRepairInfo:
    phase = ""
    if message.phase != resource_pb2.PoolRepair.PHASE_UNSPECIFIED:
        phase = str(resource_pb2.PoolRepair.Phase.Name(message.phase)).removeprefix("PHASE_")
    return PoolRepairInfo(
        phase=phase,
        losses=message.losses,
        lost_time=seconds(message.lost_time),
        failed_tries=message.failed_tries,
        next_try_time=seconds(message.next_try_time),
        message=message.message,
    )


def pool_from_proto(message: resource_pb2.Pool) -> PoolInfo:
    return PoolInfo(
        record=PoolRecord(
            spec=pool_spec_from_proto(message.spec),
            create_time=seconds(message.create_time),
            update_time=seconds(message.update_time),
        ),
        node_ids=tuple(message.node_ids),
        capacity=amounts_from_proto(message.capacity),
        allocated=amounts_from_proto(message.allocated),
        placement_group_id=message.placement_group_id,
        realization=realization_from_proto(message.realization),
        message=message.message,
        repair=pool_repair_from_proto(message.repair) if message.HasField("repair") else None,
    )


def node_usage_from_proto(message: resource_pb2.Node) -> NodeUsage:
    return NodeUsage(
        info=NodeInfo(
            node_id=message.node_id,
            address=message.address,
            alive=message.alive,
            labels=dict(message.labels),
            capacity=amounts_from_proto(message.capacity),
            free=amounts_from_proto(message.free),
        ),
        allocated=amounts_from_proto(message.allocated),
        pools=tuple(message.pools),
    )


def namespace_usage_from_proto(message: resource_pb2.NamespaceUsage) -> NamespaceUsage:
    return NamespaceUsage(
        namespace=message.namespace,
        allocated=amounts_from_proto(message.allocated),
        running_executions=message.running_executions,
        queued_executions=message.queued_executions,
        running_tasks=message.running_tasks,
        queued_tasks=message.queued_tasks,
        oldest_wait_s=_duration_seconds(message.oldest_wait),
        weighted_dominant_share=message.weighted_dominant_share,
    )


def cluster_state_from_proto(message: resource_pb2.GetClusterStateResponse) -> ClusterState:
    return ClusterState(
        nodes=[node_usage_from_proto(n) for n in message.nodes],
        pools=[
            PoolUsage(
                pool=p.pool,
                capacity=amounts_from_proto(p.capacity),
                allocated=amounts_from_proto(p.allocated),
            )
            for p in message.pools
        ],
        namespaces=[namespace_usage_from_proto(n) for n in message.namespaces],
        fragmentation=dict(message.fragmentation),
        observe_time=seconds(message.observe_time),
    )


def reservation_state_from_proto(value: int) -> ReservationState:
    if value == resource_pb2.RESERVATION_STATE_UNSPECIFIED:
        return ReservationState.PENDING
    return ReservationState(
        resource_pb2.ReservationState.Name(value).removeprefix("RESERVATION_STATE_")
    )


def reservation_from_proto(message: resource_pb2.Reservation) -> Reservation:
    return Reservation(
        reservation_id=message.reservation_id,
        namespace=message.namespace,
        pool=message.pool,
        resources=amounts_from_proto(message.resources),
        start_time=seconds(message.start_time),
        duration_s=_duration_seconds(message.duration),
        state=reservation_state_from_proto(message.state),
        create_time=seconds(message.create_time),
        strategy=strategy_from_proto(message.strategy),
        message=message.message,
        placement_group_id=message.placement_group_id,
    )


def reservation_info_from_proto(message: resource_pb2.Reservation) -> ReservationInfo:
    return ReservationInfo(
        reservation=reservation_from_proto(message),
        placement_group_id=message.placement_group_id,
    )


def scheduler_info_from_proto(message: scheduler_pb2.SchedulerInfo) -> SchedulerInfo:
    return SchedulerInfo(name=message.name, description=message.description, kind=message.kind)


def plan_from_proto(message: scheduler_pb2.PlanResponse) -> PlanResult:
    return PlanResult(
        scheduler=message.scheduler,
        status=message.status,
        objective=message.objective,
        bound=message.bound if message.HasField("bound") else None,
        operations=[
            PlannedOperation(
                operation=o.operation,
                job=o.job,
                position=o.position,
                machine=o.machine,
                start=o.start,
                end=o.end,
                execution_id=o.execution_id,
                task_id=o.task_id,
                node_id=o.node_id,
            )
            for o in message.operations
        ],
        solve_time_s=_duration_seconds(message.solve_time),
        info=_struct(message.info),
    )


# -- scaling ----------------------------------------------------------------------------------


def duration(seconds_value: float) -> duration_pb2.Duration:
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds_value * 1e9))
    return message


def _timestamp(seconds_value: float) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromNanoseconds(int(seconds_value * 1e9))
    return message


def _seconds_if(message: Any, name: str) -> float | None:
    return _duration_seconds(getattr(message, name)) if message.HasField(name) else None


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        document[key] = value


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


_ADJUSTMENTS = {
    scaling_pb2.ADJUSTMENT_TYPE_CHANGE: "change",
    scaling_pb2.ADJUSTMENT_TYPE_PERCENT: "percent",
    scaling_pb2.ADJUSTMENT_TYPE_EXACT: "exact",
}
_BOUNDS = {scaling_pb2.FORECAST_BOUND_UPPER: "upper", scaling_pb2.FORECAST_BOUND_MEAN: "mean"}
_RESOLUTIONS: dict[int, int] = {
    scaling_pb2.LOAD_RESOLUTION_UNSPECIFIED: RAW,
    scaling_pb2.LOAD_RESOLUTION_RAW: RAW,
    scaling_pb2.LOAD_RESOLUTION_MINUTE: MINUTE,
    scaling_pb2.LOAD_RESOLUTION_HOUR: HOUR,
}


def _target_tracking_document(m: scaling_pb2.TargetTracking) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "metric", m.metric)
    _put(d, "target", _optional(m, "target"))
    _put(d, "tolerance", _optional(m, "tolerance"))
    _put(d, "scale_up_stabilization_s", _seconds_if(m, "scale_up_stabilization"))
    _put(d, "scale_down_stabilization_s", _seconds_if(m, "scale_down_stabilization"))
    _put(d, "name", m.name)
    return d


def _step_scaling_document(m: scaling_pb2.StepScaling) -> dict[str, Any]:
    d: dict[str, Any] = {
        "steps": [
            {
                "adjustment": s.adjustment,
                "lower": _optional(s, "lower"),
                "upper": _optional(s, "upper"),
            }
            for s in m.steps
        ]
    }
    _put(d, "metric", m.metric)
    _put(d, "adjustment_type", _ADJUSTMENTS.get(m.adjustment_type))
    _put(d, "min_adjustment_magnitude", _optional(m, "min_adjustment_magnitude"))
    _put(d, "name", m.name)
    return d


def _scheduled_document(m: scaling_pb2.ScheduledCapacity) -> dict[str, Any]:
    d: dict[str, Any] = {"replicas": m.replicas}
    _put(d, "cron", m.cron)
    _put(d, "duration_s", _seconds_if(m, "duration"))
    _put(d, "utc_offset_s", _seconds_if(m, "utc_offset"))
    _put(d, "name", m.name)
    return d


def _predictive_document(m: scaling_pb2.PredictiveScaling) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "target_utilization", _optional(m, "target_utilization"))
    _put(d, "lead_time_s", _seconds_if(m, "lead_time"))
    _put(d, "level", _optional(m, "level"))
    _put(d, "bound", _BOUNDS.get(m.bound))
    _put(d, "service_time_s", _seconds_if(m, "service_time"))
    _put(d, "concurrency", _optional(m, "concurrency"))
    _put(d, "slo_wait_s", _seconds_if(m, "slo_wait"))
    _put(d, "max_violation", _optional(m, "max_violation"))
    _put(d, "name", m.name)
    return d


def _limit_document(m: scaling_pb2.ScaleLimit) -> dict[str, Any]:
    return {"replicas": _optional(m, "replicas"), "percent": _optional(m, "percent")}


def scaling_policy_document_from_proto(message: scaling_pb2.ScalingPolicy) -> dict[str, Any]:
    """The policy document (see `controlplane.engine.scaling.policy_documents`) of the fields
    that are set; the engine validates it and fills in the defaults."""
    d: dict[str, Any] = {"agent": message.agent}
    _put(d, "min_replicas", _optional(message, "min_replicas"))
    _put(d, "max_replicas", _optional(message, "max_replicas"))
    if message.target_tracking:
        d["target_tracking"] = [_target_tracking_document(t) for t in message.target_tracking]
    if message.step_scaling:
        d["step_scaling"] = [_step_scaling_document(s) for s in message.step_scaling]
    if message.scheduled:
        d["scheduled"] = [_scheduled_document(s) for s in message.scheduled]
    if message.HasField("predictive"):
        d["predictive"] = _predictive_document(message.predictive)
    if message.HasField("scale_out_limit"):
        d["scale_out_limit"] = _limit_document(message.scale_out_limit)
    if message.HasField("scale_in_limit"):
        d["scale_in_limit"] = _limit_document(message.scale_in_limit)
    _put(d, "scale_out_cooldown_s", _seconds_if(message, "scale_out_cooldown"))
    _put(d, "scale_in_cooldown_s", _seconds_if(message, "scale_in_cooldown"))
    return d


def _limit_to_proto(limit: ScaleLimit) -> scaling_pb2.ScaleLimit:
    return scaling_pb2.ScaleLimit(replicas=limit.replicas, percent=limit.percent)


def _target_tracking_to_proto(t: TargetTracking) -> scaling_pb2.TargetTracking:
    return scaling_pb2.TargetTracking(
        metric=t.metric,
        target=t.target,
        tolerance=t.tolerance,
        scale_up_stabilization=duration(t.scale_up_stabilization_s),
        scale_down_stabilization=duration(t.scale_down_stabilization_s),
        name=t.name,
    )


def _step_scaling_to_proto(s: StepScaling) -> scaling_pb2.StepScaling:
    return scaling_pb2.StepScaling(
        metric=s.metric,
        steps=[
            scaling_pb2.ScalingStep(adjustment=step.adjustment, lower=step.lower, upper=step.upper)
            for step in s.steps
        ],
        adjustment_type=f"ADJUSTMENT_TYPE_{s.adjustment_type.upper()}",
        min_adjustment_magnitude=s.min_adjustment_magnitude,
        name=s.name,
    )


def _scheduled_to_proto(s: ScheduledCapacity) -> scaling_pb2.ScheduledCapacity:
    return scaling_pb2.ScheduledCapacity(
        cron=s.cron,
        duration=duration(s.duration_s),
        replicas=s.replicas,
        name=s.name,
        utc_offset=duration(s.utc_offset_s),
    )


def _predictive_to_proto(p: PredictiveScaling) -> scaling_pb2.PredictiveScaling:
    message = scaling_pb2.PredictiveScaling(
        target_utilization=p.target_utilization,
        lead_time=duration(p.lead_time_s),
        level=p.level,
        bound=f"FORECAST_BOUND_{p.bound.upper()}",
        concurrency=p.concurrency,
        max_violation=p.max_violation,
        name=p.name,
    )
    if p.service_time_s is not None:
        message.service_time.CopyFrom(duration(p.service_time_s))
    if p.slo_wait_s is not None:
        message.slo_wait.CopyFrom(duration(p.slo_wait_s))
    return message


def scaling_policy_to_proto(policy: ScalingPolicy) -> scaling_pb2.ScalingPolicy:
    message = scaling_pb2.ScalingPolicy(
        agent=policy.agent,
        min_replicas=policy.min_replicas,
        max_replicas=policy.max_replicas,
        target_tracking=[_target_tracking_to_proto(t) for t in policy.target_tracking],
        step_scaling=[_step_scaling_to_proto(s) for s in policy.step_scaling],
        scheduled=[_scheduled_to_proto(s) for s in policy.scheduled],
        scale_out_limit=_limit_to_proto(policy.scale_out_limit),
        scale_in_limit=_limit_to_proto(policy.scale_in_limit),
        scale_out_cooldown=duration(policy.scale_out_cooldown_s),
        scale_in_cooldown=duration(policy.scale_in_cooldown_s),
    )
    if policy.predictive is not None:
        message.predictive.CopyFrom(_predictive_to_proto(policy.predictive))
    return message


def scaling_policy_from_proto(message: scaling_pb2.ScalingPolicy) -> ScalingPolicy:
    return policy_from_document(scaling_policy_document_from_proto(message))


def policy_view_from_proto(
    policy: scaling_pb2.ScalingPolicy,
    create_time: timestamp_pb2.Timestamp,
    update_time: timestamp_pb2.Timestamp,
) -> PolicyView:
    return PolicyView(scaling_policy_from_proto(policy), seconds(create_time), seconds(update_time))


def _action(decision: ScalingDecision) -> int:
    if decision.change > 0:
        return scaling_pb2.SCALING_ACTION_SCALE_OUT
    if decision.change < 0:
        return scaling_pb2.SCALING_ACTION_SCALE_IN
    return scaling_pb2.SCALING_ACTION_HOLD


def scaling_event_to_proto(event: ScalingEvent) -> scaling_pb2.ScalingEvent:
    d = event.decision
    return scaling_pb2.ScalingEvent(
        event_id=event.event_id,
        agent=d.agent,
        time=timestamp(d.time),
        current=d.current,
        desired=d.desired,
        action=_action(d),  # type: ignore[arg-type]
        policy=d.policy,
        reason=d.reason,
        inputs=dict_to_struct(jsonable(d.inputs)),
        error=event.error,
    )


def scaling_event_from_proto(message: scaling_pb2.ScalingEvent) -> ScalingEvent:
    return ScalingEvent(
        event_id=message.event_id,
        decision=ScalingDecision(
            agent=message.agent,
            time=seconds(message.time),
            current=message.current,
            desired=message.desired,
            policy=message.policy,
            reason=message.reason,
            inputs=_struct(message.inputs),
        ),
        error=message.error,
    )


def forecast_summary_to_proto(fitted: FittedForecast) -> scaling_pb2.ForecastSummary:
    f = fitted.forecast
    return scaling_pb2.ForecastSummary(
        model=f.model,
        period=f.period or 0,
        step=duration(fitted.step_s),
        level=f.level,
        fit_time=timestamp(fitted.fit_time),
        fit_duration=duration(fitted.fit_duration_s),
        history_points=fitted.history_points,
        history_end=timestamp(fitted.history_end),
        requested_model=fitted.requested_model,
    )


def forecast_to_proto(agent: str, fitted: FittedForecast) -> scaling_pb2.GetForecastResponse:
    f = fitted.forecast
    return scaling_pb2.GetForecastResponse(
        agent=agent,
        summary=forecast_summary_to_proto(fitted),
        timestamps=[_timestamp(t) for t in f.timestamps],
        mean=list(f.mean),
        lower=list(f.lower),
        upper=list(f.upper),
        notes=dict_to_struct(jsonable(f.notes)),
    )


def _fitted(agent: str, summary: scaling_pb2.ForecastSummary, forecast: Forecast) -> FittedForecast:
    return FittedForecast(
        agent=agent,
        forecast=forecast,
        requested_model=summary.requested_model,
        step_s=_duration_seconds(summary.step),
        fit_time=seconds(summary.fit_time),
        fit_duration_s=_duration_seconds(summary.fit_duration),
        history_points=summary.history_points,
        history_end=seconds(summary.history_end),
    )


def forecast_from_proto(message: scaling_pb2.GetForecastResponse) -> FittedForecast:
    s = message.summary
    return _fitted(
        message.agent,
        s,
        Forecast(
            model=s.model,
            period=s.period or None,
            timestamps=tuple(seconds(t) for t in message.timestamps),
            mean=tuple(message.mean),
            lower=tuple(message.lower),
            upper=tuple(message.upper),
            level=s.level,
            notes=_struct(message.notes),
        ),
    )


def scaling_status_to_proto(status: ScalingStatus) -> scaling_pb2.ScalingStatus:
    message = scaling_pb2.ScalingStatus(
        agent=status.agent,
        has_policy=status.has_policy,
        current=status.current,
        ready=status.ready,
        desired=status.desired,
        last_decision_time=timestamp(status.last_decision_time),
        decisions=[scaling_event_to_proto(e) for e in status.decisions],
        forecast_error=status.forecast_error,
        actuation_error=status.actuation_error,
        evaluation_period=duration(status.evaluation_period_s),
    )
    if status.forecast is not None:
        message.forecast.CopyFrom(forecast_summary_to_proto(status.forecast))
    return message


def scaling_status_from_proto(message: scaling_pb2.ScalingStatus) -> ScalingStatus:
    fitted = None
    if message.HasField("forecast"):
        s = message.forecast
        fitted = _fitted(
            message.agent,
            s,
            Forecast(s.model, s.period or None, (), (), (), (), s.level),
        )
    return ScalingStatus(
        agent=message.agent,
        has_policy=message.has_policy,
        current=message.current,
        ready=message.ready,
        desired=message.desired,
        last_decision_time=_optional_seconds(
            message.HasField("last_decision_time"), message.last_decision_time
        ),
        decisions=[scaling_event_from_proto(e) for e in message.decisions],
        forecast=fitted,
        forecast_error=message.forecast_error,
        actuation_error=message.actuation_error,
        evaluation_period_s=_duration_seconds(message.evaluation_period),
    )


def load_resolution_from_proto(value: int) -> int:
    """RAW, MINUTE or HOUR (`models.load`); -1 for a value this server does not know."""
    return _RESOLUTIONS.get(value, -1)


def load_resolution_to_proto(resolution: int) -> int:
    return {
        RAW: scaling_pb2.LOAD_RESOLUTION_RAW,
        MINUTE: scaling_pb2.LOAD_RESOLUTION_MINUTE,
        HOUR: scaling_pb2.LOAD_RESOLUTION_HOUR,
    }[resolution]


def load_sample_to_proto(sample: LoadSample) -> scaling_pb2.LoadSample:
    return scaling_pb2.LoadSample(
        time=timestamp(sample.time),
        arrivals=sample.arrivals,
        completions=sample.completions,
        queue_depth=sample.queue_depth,
        in_flight=sample.in_flight,
        service_time=duration(sample.service_time_s),
        replicas=sample.replicas,
    )


def load_sample_from_proto(
    message: scaling_pb2.LoadSample, agent: str, resolution: int
) -> LoadSample:
    return LoadSample(
        agent=agent,
        time=seconds(message.time),
        resolution=resolution,
        arrivals=message.arrivals,
        completions=message.completions,
        queue_depth=message.queue_depth,
        in_flight=message.in_flight,
        service_time_s=_duration_seconds(message.service_time),
        replicas=message.replicas,
    )
