"""orchestrator.v1.WorkflowService messages <-> models.workflows and models.executions."""

from __future__ import annotations

import logging

from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.wellknown import (
    dict_to_struct,
    from_value,
    optional_seconds,
    seconds,
    struct_to_dict,
    timestamp,
    to_value,
)
from controlplane.api.gen.orchestrator.v1 import workflow_pb2
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
    ValuePart,
)
from models.namespaces import namespace_or_default
from models.workflows import (
    CreateWorkflowResult,
    Severity,
    ValidationProblem,
    ValidationResult,
    View,
    WorkflowRevision,
    WorkflowView,
)

log = logging.getLogger(__name__)

SEVERITIES = matching_table(workflow_pb2.Severity, Severity)
EXECUTION_STATUSES = matching_table(workflow_pb2.ExecutionStatus, ExecutionStatus)
TASK_STATUSES = matching_table(workflow_pb2.TaskStatus, TaskStatus)
ATTEMPT_STATUSES = matching_table(workflow_pb2.AttemptStatus, AttemptStatus)
EXECUTION_VIEWS = matching_table(workflow_pb2.ExecutionView, View)
WORKFLOW_VIEWS = matching_table(workflow_pb2.WorkflowView, View)
VALUE_PARTS = matching_table(workflow_pb2.ExecutionValuePart, ValuePart)


def omitted_to_proto(size: int | None) -> workflow_pb2.OmittedValue | None:
    return None if size is None else workflow_pb2.OmittedValue(size_bytes=size)


def omitted_from_proto(
    owner: workflow_pb2.Execution | workflow_pb2.TaskState, field: str
) -> int | None:
    return getattr(owner, field).size_bytes if owner.HasField(field) else None


# -- workflows --------------------------------------------------------------------------------


def problem_to_proto(problem: ValidationProblem) -> workflow_pb2.ValidationProblem:
    return workflow_pb2.ValidationProblem(
        path=problem.path,
        message=problem.message,
        severity=SEVERITIES.to_proto(problem.severity),
    )


def problem_from_proto(message: workflow_pb2.ValidationProblem) -> ValidationProblem:
    return ValidationProblem(
        path=message.path,
        message=message.message,
        severity=SEVERITIES.from_proto(message.severity, "problem.severity"),
    )


def workflow_to_proto(view: WorkflowView) -> workflow_pb2.Workflow:
    revision = view.revision
    return workflow_pb2.Workflow(
        name=revision.name,
        namespace=revision.namespace,
        latest_revision=view.latest_revision,
        revision=workflow_pb2.WorkflowRevision(
            name=revision.name,
            revision=revision.revision,
            definition=revision.definition_text,
            digest=revision.digest,
            create_time=timestamp(revision.create_time),
            task_ids=list(view.task_ids),
        ),
    )


def workflow_from_proto(message: workflow_pb2.Workflow) -> WorkflowView:
    revision = message.revision
    return WorkflowView(
        revision=WorkflowRevision(
            name=revision.name,
            revision=revision.revision,
            definition_text=revision.definition,
            digest=revision.digest,
            create_time=seconds(revision.create_time),
            namespace=namespace_or_default(message.namespace),
        ),
        latest_revision=message.latest_revision,
        task_ids=tuple(revision.task_ids),
    )


def create_workflow_to_proto(result: CreateWorkflowResult) -> workflow_pb2.CreateWorkflowResponse:
    return workflow_pb2.CreateWorkflowResponse(
        workflow=workflow_to_proto(result.workflow),
        created=result.created,
        warnings=[problem_to_proto(w) for w in result.warnings],
    )


def create_workflow_from_proto(
    message: workflow_pb2.CreateWorkflowResponse,
) -> CreateWorkflowResult:
    return CreateWorkflowResult(
        workflow=workflow_from_proto(message.workflow),
        created=message.created,
        warnings=[problem_from_proto(w) for w in message.warnings],
    )


def validation_to_proto(result: ValidationResult) -> workflow_pb2.ValidateWorkflowResponse:
    return workflow_pb2.ValidateWorkflowResponse(
        valid=result.valid, problems=[problem_to_proto(p) for p in result.problems]
    )


def validation_from_proto(message: workflow_pb2.ValidateWorkflowResponse) -> ValidationResult:
    return ValidationResult(
        valid=message.valid, problems=[problem_from_proto(p) for p in message.problems]
    )


# -- executions -------------------------------------------------------------------------------


def error_to_proto(error: ErrorInfo | None) -> workflow_pb2.ExecutionError | None:
    if error is None:
        return None
    return workflow_pb2.ExecutionError(
        type=error.type, message=error.message, task_id=error.task_id
    )


def error_from_proto(
    owner: workflow_pb2.Execution | workflow_pb2.TaskState | workflow_pb2.Attempt,
) -> ErrorInfo | None:
    """The `error` field of `owner`; None when it is unset."""
    if not owner.HasField("error"):
        return None
    error = owner.error
    return ErrorInfo(type=error.type, message=error.message, task_id=error.task_id)


def attempt_to_proto(attempt: AttemptRecord) -> workflow_pb2.Attempt:
    return workflow_pb2.Attempt(
        number=attempt.number,
        status=ATTEMPT_STATUSES.to_proto(attempt.status),
        replica=attempt.replica,
        agent_version=attempt.agent_version,
        start_time=timestamp(attempt.start_time),
        end_time=timestamp(attempt.end_time),
        error=error_to_proto(attempt.error),
    )


def attempt_from_proto(message: workflow_pb2.Attempt) -> AttemptRecord:
    return AttemptRecord(
        number=message.number,
        status=ATTEMPT_STATUSES.from_proto(message.status, "attempt.status"),
        replica=message.replica,
        agent_version=message.agent_version,
        start_time=optional_seconds(message, "start_time") or 0.0,
        end_time=optional_seconds(message, "end_time"),
        error=error_from_proto(message),
    )


def task_to_proto(task: TaskRecord) -> workflow_pb2.TaskState:
    message = workflow_pb2.TaskState(
        task_id=task.task_id,
        agent=task.agent,
        status=TASK_STATUSES.to_proto(task.status),
        attempts=[attempt_to_proto(a) for a in task.attempts],
        error=error_to_proto(task.error),
        depends_on=list(task.depends_on),
        waiting_reason=task.waiting_reason,
        output_omitted=omitted_to_proto(task.output_omitted),
        omitted_attempts=task.omitted_attempts,
        last_heartbeat_time=timestamp(task.last_heartbeat_time),
        items_total=task.items_total,
        items_succeeded=task.items_succeeded,
        items_failed=task.items_failed,
        items_running=task.items_running,
        iterations=task.iterations,
        child_execution_id=task.child_execution_id,
    )
    if task.output is not None:
        message.output.CopyFrom(to_value(task.output))
    if task.last_heartbeat is not None:
        message.last_heartbeat.CopyFrom(dict_to_struct(task.last_heartbeat))
    return message


def task_from_proto(message: workflow_pb2.TaskState) -> TaskRecord:
    return TaskRecord(
        task_id=message.task_id,
        agent=message.agent,
        status=TASK_STATUSES.from_proto(message.status, "task.status"),
        attempts=[attempt_from_proto(a) for a in message.attempts],
        output=from_value(message.output) if message.HasField("output") else None,
        error=error_from_proto(message),
        depends_on=tuple(message.depends_on),
        waiting_reason=message.waiting_reason,
        output_omitted=omitted_from_proto(message, "output_omitted"),
        omitted_attempts=message.omitted_attempts,
        last_heartbeat=struct_to_dict(message.last_heartbeat)
        if message.HasField("last_heartbeat")
        else None,
        last_heartbeat_time=optional_seconds(message, "last_heartbeat_time"),
        items_total=message.items_total if message.HasField("items_total") else None,
        items_succeeded=message.items_succeeded,
        items_failed=message.items_failed,
        items_running=message.items_running,
        iterations=message.iterations,
        child_execution_id=message.child_execution_id,
    )


def execution_to_proto(record: ExecutionRecord, with_tasks: bool = True) -> workflow_pb2.Execution:
    message = workflow_pb2.Execution(
        execution_id=record.execution_id,
        workflow=record.workflow,
        revision=record.revision,
        status=EXECUTION_STATUSES.to_proto(record.status),
        inputs=dict_to_struct(record.inputs),
        error=error_to_proto(record.error),
        create_time=timestamp(record.create_time),
        start_time=timestamp(record.start_time),
        end_time=timestamp(record.end_time),
        request_id=record.request_id,
        namespace=record.namespace,
        inputs_omitted=omitted_to_proto(record.inputs_omitted),
        outputs_omitted=omitted_to_proto(record.outputs_omitted),
        paused=record.paused,
        parent_execution_id=record.parent_execution_id,
    )
    if record.outputs is not None:
        message.outputs.CopyFrom(dict_to_struct(record.outputs))
    if with_tasks:
        message.tasks.extend(task_to_proto(t) for t in record.tasks.values())
    return message


def execution_from_proto(message: workflow_pb2.Execution) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=message.execution_id,
        workflow=message.workflow,
        revision=message.revision,
        status=EXECUTION_STATUSES.from_proto(message.status, "execution.status"),
        inputs=struct_to_dict(message.inputs),
        create_time=seconds(message.create_time),
        request_id=message.request_id,
        namespace=namespace_or_default(message.namespace),
        outputs=struct_to_dict(message.outputs) if message.HasField("outputs") else None,
        error=error_from_proto(message),
        tasks={t.task_id: task_from_proto(t) for t in message.tasks},
        start_time=optional_seconds(message, "start_time"),
        end_time=optional_seconds(message, "end_time"),
        inputs_omitted=omitted_from_proto(message, "inputs_omitted"),
        outputs_omitted=omitted_from_proto(message, "outputs_omitted"),
        paused=message.paused,
        parent_execution_id=message.parent_execution_id,
    )


def event_to_proto(event: Event) -> workflow_pb2.Event:
    return workflow_pb2.Event(
        execution_id=event.execution_id,
        sequence=event.sequence,
        type=event.type.value,
        task_id=event.task_id,
        time=timestamp(event.time),
        details=dict_to_struct(event.details),
    )


def event_from_proto(message: workflow_pb2.Event) -> Event | None:
    """None for an event type this side does not know: a newer server may add types, and a
    watcher should skip them rather than stop."""
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
        details=struct_to_dict(message.details),
    )
