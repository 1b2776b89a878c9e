"""Reverse conversions (proto -> domain model) used by the Python client.

`convert.py` owns the server-side direction and the shared helpers; this module adds the
`*_from_proto` functions a client needs so that callers never see generated types.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from controlplane.api import convert
from controlplane.api.gen.orchestrator.v1 import agent_pb2, workflow_pb2
from controlplane.engine.agents import AgentView
from models.agents import AgentRecord
from models.executions import (
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    TaskRecord,
    TaskStatus,
)
from models.workflows import WorkflowRevision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkflowView:
    """One stored revision of a workflow, with the latest revision number under its name."""

    revision: WorkflowRevision
    latest_revision: int
    task_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.revision.name


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


def _struct(message: struct_pb2.Struct) -> dict[str, Any]:
    return dict(plain_numbers(convert.struct_to_dict(message)))


def _optional_seconds(present: bool, message: timestamp_pb2.Timestamp) -> float | None:
    return convert.seconds(message) if present else None


# -- agents -----------------------------------------------------------------------------------


def agent_from_proto(message: agent_pb2.Agent) -> AgentView:
    spec = convert.agent_spec_from_proto(message.spec)
    spec = replace(
        spec, config=plain_numbers(spec.config), runtime_env=plain_numbers(spec.runtime_env)
    )
    record = AgentRecord(
        spec=spec,
        create_time=convert.seconds(message.create_time),
        update_time=convert.seconds(message.update_time),
    )
    return AgentView(
        record=record,
        state=convert.agent_state_name(message.state),
        replicas=[convert.replica_from_proto(r) for r in message.replicas],
    )


# -- workflows --------------------------------------------------------------------------------


def revision_from_proto(message: workflow_pb2.WorkflowRevision) -> WorkflowRevision:
    return WorkflowRevision(
        name=message.name,
        revision=message.revision,
        definition_text=message.definition,
        digest=message.digest,
        create_time=convert.seconds(message.create_time),
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
        output=plain_numbers(convert.from_value(message.output))
        if message.HasField("output")
        else None,
        error=error_from_proto(message.error) if message.HasField("error") else None,
        depends_on=tuple(message.depends_on),
    )


def execution_from_proto(message: workflow_pb2.Execution) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=message.execution_id,
        workflow=message.workflow,
        revision=message.revision,
        status=convert.execution_status_from_proto(message.status),
        inputs=_struct(message.inputs),
        create_time=convert.seconds(message.create_time),
        request_id=message.request_id,
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
        time=convert.seconds(message.time),
        task_id=message.task_id,
        details=_struct(message.details),
    )
