"""orchestrator.v1.SchedulerService messages <-> models.scheduling."""

from __future__ import annotations

from controlplane.api.codec.wellknown import (
    dict_to_struct,
    duration,
    duration_seconds,
    struct_to_dict,
)
from controlplane.api.gen.orchestrator.v1 import scheduler_pb2
from models.errors import FieldViolation, InvalidArgument
from models.scheduling import PlannedOperation, PlanResult, SchedulerInfo, SolveStatus


def scheduler_to_proto(info: SchedulerInfo) -> scheduler_pb2.SchedulerInfo:
    return scheduler_pb2.SchedulerInfo(name=info.name, description=info.description, kind=info.kind)


def scheduler_from_proto(message: scheduler_pb2.SchedulerInfo) -> SchedulerInfo:
    return SchedulerInfo(name=message.name, description=message.description, kind=message.kind)


def operation_to_proto(operation: PlannedOperation) -> scheduler_pb2.PlannedOperation:
    return scheduler_pb2.PlannedOperation(
        operation=operation.operation,
        job=operation.job,
        position=operation.position,
        machine=operation.machine,
        start=operation.start,
        end=operation.end,
        execution_id=operation.execution_id,
        task_id=operation.task_id,
        node_id=operation.node_id,
    )


def operation_from_proto(message: scheduler_pb2.PlannedOperation) -> PlannedOperation:
    return PlannedOperation(
        operation=message.operation,
        job=message.job,
        position=message.position,
        machine=message.machine,
        start=message.start,
        end=message.end,
        execution_id=message.execution_id,
        task_id=message.task_id,
        node_id=message.node_id,
    )


def plan_to_proto(plan: PlanResult) -> scheduler_pb2.PlanResponse:
    return scheduler_pb2.PlanResponse(
        scheduler=plan.scheduler,
        status=plan.status.value,
        objective=plan.objective,
        bound=plan.bound,
        operations=[operation_to_proto(o) for o in plan.operations],
        solve_time=duration(plan.solve_time_s),
        info=dict_to_struct(plan.info),
    )


def solve_status_from_text(text: str) -> SolveStatus:
    """The status of a PlanResponse (a string on the wire, as the solvers name it)."""
    try:
        return SolveStatus(text)
    except ValueError:
        why = f"{text!r} is not a solve status this side knows"
        raise InvalidArgument(f"plan.status: {why}", [FieldViolation("plan.status", why)]) from None


def plan_from_proto(message: scheduler_pb2.PlanResponse) -> PlanResult:
    return PlanResult(
        scheduler=message.scheduler,
        status=solve_status_from_text(message.status),
        objective=message.objective,
        bound=message.bound if message.HasField("bound") else None,
        operations=[operation_from_proto(o) for o in message.operations],
        solve_time_s=duration_seconds(message.solve_time),
        info=struct_to_dict(message.info),
    )
