"""The one place that converts between generated protobuf messages and domain models."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from controlplane.api.gen.orchestrator.v1 import agent_pb2, workflow_pb2
from controlplane.engine.agents import AgentView
from models.agents import AgentSpec, AgentState, ReplicaInfo, ReplicaResources, ReplicaState
from models.executions import (
    AttemptRecord,
    ErrorInfo,
    Event,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
)
from models.workflows import Severity, ValidationProblem, WorkflowRevision


def struct_to_dict(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


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
    return json_format.MessageToDict(message)


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


def execution_status_to_proto(status: ExecutionStatus) -> int:
    return int(workflow_pb2.ExecutionStatus.Value(f"EXECUTION_STATUS_{status.value}"))


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
