import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecutionView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_VIEW_UNSPECIFIED: _ClassVar[ExecutionView]
    EXECUTION_VIEW_BASIC: _ClassVar[ExecutionView]
    EXECUTION_VIEW_FULL: _ClassVar[ExecutionView]

class WorkflowView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_VIEW_UNSPECIFIED: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_BASIC: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_FULL: _ClassVar[WorkflowView]

class ExecutionValuePart(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_VALUE_PART_UNSPECIFIED: _ClassVar[ExecutionValuePart]
    EXECUTION_VALUE_PART_INPUTS: _ClassVar[ExecutionValuePart]
    EXECUTION_VALUE_PART_OUTPUTS: _ClassVar[ExecutionValuePart]
    EXECUTION_VALUE_PART_TASK_OUTPUT: _ClassVar[ExecutionValuePart]

class ExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_STATUS_UNSPECIFIED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_PENDING: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_RUNNING: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_SUCCEEDED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_FAILED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_CANCELLED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_TIMED_OUT: _ClassVar[ExecutionStatus]

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TASK_STATUS_UNSPECIFIED: _ClassVar[TaskStatus]
    TASK_STATUS_PENDING: _ClassVar[TaskStatus]
    TASK_STATUS_SCHEDULED: _ClassVar[TaskStatus]
    TASK_STATUS_RUNNING: _ClassVar[TaskStatus]
    TASK_STATUS_RETRYING: _ClassVar[TaskStatus]
    TASK_STATUS_SUCCEEDED: _ClassVar[TaskStatus]
    TASK_STATUS_FAILED: _ClassVar[TaskStatus]
    TASK_STATUS_CANCELLED: _ClassVar[TaskStatus]
    TASK_STATUS_SKIPPED: _ClassVar[TaskStatus]
    TASK_STATUS_TIMED_OUT: _ClassVar[TaskStatus]

class AttemptStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_STATUS_UNSPECIFIED: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_RUNNING: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_SUCCEEDED: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_FAILED: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_TIMED_OUT: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_CANCELLED: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_LOST: _ClassVar[AttemptStatus]
    ATTEMPT_STATUS_PREEMPTED: _ClassVar[AttemptStatus]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
EXECUTION_VIEW_UNSPECIFIED: ExecutionView
EXECUTION_VIEW_BASIC: ExecutionView
EXECUTION_VIEW_FULL: ExecutionView
WORKFLOW_VIEW_UNSPECIFIED: WorkflowView
WORKFLOW_VIEW_BASIC: WorkflowView
WORKFLOW_VIEW_FULL: WorkflowView
EXECUTION_VALUE_PART_UNSPECIFIED: ExecutionValuePart
EXECUTION_VALUE_PART_INPUTS: ExecutionValuePart
EXECUTION_VALUE_PART_OUTPUTS: ExecutionValuePart
EXECUTION_VALUE_PART_TASK_OUTPUT: ExecutionValuePart
EXECUTION_STATUS_UNSPECIFIED: ExecutionStatus
EXECUTION_STATUS_PENDING: ExecutionStatus
EXECUTION_STATUS_RUNNING: ExecutionStatus
EXECUTION_STATUS_SUCCEEDED: ExecutionStatus
EXECUTION_STATUS_FAILED: ExecutionStatus
EXECUTION_STATUS_CANCELLED: ExecutionStatus
EXECUTION_STATUS_TIMED_OUT: ExecutionStatus
TASK_STATUS_UNSPECIFIED: TaskStatus
TASK_STATUS_PENDING: TaskStatus
TASK_STATUS_SCHEDULED: TaskStatus
TASK_STATUS_RUNNING: TaskStatus
TASK_STATUS_RETRYING: TaskStatus
TASK_STATUS_SUCCEEDED: TaskStatus
TASK_STATUS_FAILED: TaskStatus
TASK_STATUS_CANCELLED: TaskStatus
TASK_STATUS_SKIPPED: TaskStatus
TASK_STATUS_TIMED_OUT: TaskStatus
ATTEMPT_STATUS_UNSPECIFIED: AttemptStatus
ATTEMPT_STATUS_RUNNING: AttemptStatus
ATTEMPT_STATUS_SUCCEEDED: AttemptStatus
ATTEMPT_STATUS_FAILED: AttemptStatus
ATTEMPT_STATUS_TIMED_OUT: AttemptStatus
ATTEMPT_STATUS_CANCELLED: AttemptStatus
ATTEMPT_STATUS_LOST: AttemptStatus
ATTEMPT_STATUS_PREEMPTED: AttemptStatus
SEVERITY_UNSPECIFIED: Severity
SEVERITY_ERROR: Severity
SEVERITY_WARNING: Severity

class OmittedValue(_message.Message):
    __slots__ = ("size_bytes",)
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    size_bytes: int
    def __init__(self, size_bytes: _Optional[int] = ...) -> None: ...

class ValidationProblem(_message.Message):
    __slots__ = ("path", "message", "severity")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    message: str
    severity: Severity
    def __init__(self, path: _Optional[str] = ..., message: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ...) -> None: ...

class WorkflowRevision(_message.Message):
    __slots__ = ("name", "revision", "definition", "digest", "create_time", "task_ids")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: int
    definition: str
    digest: str
    create_time: _timestamp_pb2.Timestamp
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[int] = ..., definition: _Optional[str] = ..., digest: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Workflow(_message.Message):
    __slots__ = ("name", "latest_revision", "revision", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LATEST_REVISION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    latest_revision: int
    revision: WorkflowRevision
    namespace: str
    def __init__(self, name: _Optional[str] = ..., latest_revision: _Optional[int] = ..., revision: _Optional[_Union[WorkflowRevision, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class ExecutionError(_message.Message):
    __slots__ = ("type", "message", "task_id")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    task_id: str
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "status", "replica", "agent_version", "start_time", "end_time", "error")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    number: int
    status: AttemptStatus
    replica: str
    agent_version: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    error: ExecutionError
    def __init__(self, number: _Optional[int] = ..., status: _Optional[_Union[AttemptStatus, str]] = ..., replica: _Optional[str] = ..., agent_version: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ...) -> None: ...

class TaskState(_message.Message):
    __slots__ = ("task_id", "agent", "status", "attempts", "output", "error", "depends_on", "waiting_reason", "output_omitted", "omitted_attempts", "last_heartbeat", "last_heartbeat_time", "items_total", "items_succeeded", "items_failed", "items_running", "iterations", "child_execution_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    WAITING_REASON_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_OMITTED_FIELD_NUMBER: _ClassVar[int]
    OMITTED_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    ITEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FAILED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    CHILD_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    agent: str
    status: TaskStatus
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    output: _struct_pb2.Value
    error: ExecutionError
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    waiting_reason: str
    output_omitted: OmittedValue
    omitted_attempts: int
    last_heartbeat: _struct_pb2.Struct
    last_heartbeat_time: _timestamp_pb2.Timestamp
    items_total: int
    items_succeeded: int
    items_failed: int
    items_running: int
    iterations: int
    child_execution_id: str
    def __init__(self, task_id: _Optional[str] = ..., agent: _Optional[str] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ..., depends_on: _Optional[_Iterable[str]] = ..., waiting_reason: _Optional[str] = ..., output_omitted: _Optional[_Union[OmittedValue, _Mapping]] = ..., omitted_attempts: _Optional[int] = ..., last_heartbeat: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items_total: _Optional[int] = ..., items_succeeded: _Optional[int] = ..., items_failed: _Optional[int] = ..., items_running: _Optional[int] = ..., iterations: _Optional[int] = ..., child_execution_id: _Optional[str] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("execution_id", "workflow", "revision", "status", "inputs", "outputs", "error", "tasks", "create_time", "start_time", "end_time", "request_id", "namespace", "inputs_omitted", "outputs_omitted", "paused", "parent_execution_id")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    INPUTS_OMITTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_OMITTED_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PARENT_EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    workflow: str
    revision: int
    status: ExecutionStatus
    inputs: _struct_pb2.Struct
    outputs: _struct_pb2.Struct
    error: ExecutionError
    tasks: _containers.RepeatedCompositeFieldContainer[TaskState]
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    request_id: str
    namespace: str
    inputs_omitted: OmittedValue
    outputs_omitted: OmittedValue
    paused: bool
    parent_execution_id: str
    def __init__(self, execution_id: _Optional[str] = ..., workflow: _Optional[str] = ..., revision: _Optional[int] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ..., tasks: _Optional[_Iterable[_Union[TaskState, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., namespace: _Optional[str] = ..., inputs_omitted: _Optional[_Union[OmittedValue, _Mapping]] = ..., outputs_omitted: _Optional[_Union[OmittedValue, _Mapping]] = ..., paused: _Optional[bool] = ..., parent_execution_id: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("execution_id", "sequence", "type", "task_id", "time", "details")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    sequence: int
    type: str
    task_id: str
    time: _timestamp_pb2.Timestamp
    details: _struct_pb2.Struct
    def __init__(self, execution_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[str] = ..., task_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateWorkflowRequest(_message.Message):
    __slots__ = ("definition", "namespace")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    definition: str
    namespace: str
    def __init__(self, definition: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class CreateWorkflowResponse(_message.Message):
    __slots__ = ("workflow", "created", "warnings")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    created: bool
    warnings: _containers.RepeatedCompositeFieldContainer[ValidationProblem]
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ..., created: _Optional[bool] = ..., warnings: _Optional[_Iterable[_Union[ValidationProblem, _Mapping]]] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("name", "revision", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: int
    namespace: str
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "view", "namespace")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    view: WorkflowView
    namespace: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[WorkflowView, str]] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_page_token")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[Workflow]
    next_page_token: str
    def __init__(self, workflows: _Optional[_Iterable[_Union[Workflow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateWorkflowRequest(_message.Message):
    __slots__ = ("definition", "namespace")
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    definition: str
    namespace: str
    def __init__(self, definition: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ValidateWorkflowResponse(_message.Message):
    __slots__ = ("valid", "problems")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[ValidationProblem]
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[ValidationProblem, _Mapping]]] = ...) -> None: ...

class StartExecutionRequest(_message.Message):
    __slots__ = ("workflow", "revision", "inputs", "request_id", "namespace")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    revision: int
    inputs: _struct_pb2.Struct
    request_id: str
    namespace: str
    def __init__(self, workflow: _Optional[str] = ..., revision: _Optional[int] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class StartExecutionResponse(_message.Message):
    __slots__ = ("execution", "created")
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    created: bool
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "view", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    view: ExecutionView
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., view: _Optional[_Union[ExecutionView, str]] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("workflow", "statuses", "page_size", "page_token", "view", "namespace")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    workflow: str
    statuses: _containers.RepeatedScalarFieldContainer[ExecutionStatus]
    page_size: int
    page_token: str
    view: ExecutionView
    namespace: str
    def __init__(self, workflow: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ExecutionStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[ExecutionView, str]] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class CancelExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class WatchExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "from_sequence", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    from_sequence: int
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., from_sequence: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class WatchExecutionResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class ReadExecutionValueRequest(_message.Message):
    __slots__ = ("execution_id", "part", "task_id", "read_offset", "read_limit", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    PART_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    READ_OFFSET_FIELD_NUMBER: _ClassVar[int]
    READ_LIMIT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    part: ExecutionValuePart
    task_id: str
    read_offset: int
    read_limit: int
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., part: _Optional[_Union[ExecutionValuePart, str]] = ..., task_id: _Optional[str] = ..., read_offset: _Optional[int] = ..., read_limit: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class ReadExecutionValueResponse(_message.Message):
    __slots__ = ("data", "size_bytes")
    DATA_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    size_bytes: int
    def __init__(self, data: _Optional[bytes] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class SignalExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "name", "payload", "request_id", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    name: str
    payload: _struct_pb2.Value
    request_id: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., name: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., request_id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class SignalExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class PauseExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class PauseExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class ResumeExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ResumeExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class RetryExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "request_id", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    request_id: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., request_id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class RetryExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class ModifyExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "operations", "reason", "request_id", "namespace")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    operations: _containers.RepeatedCompositeFieldContainer[ExecutionOperation]
    reason: str
    request_id: str
    namespace: str
    def __init__(self, execution_id: _Optional[str] = ..., operations: _Optional[_Iterable[_Union[ExecutionOperation, _Mapping]]] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ModifyExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class ExecutionOperation(_message.Message):
    __slots__ = ("skip_task", "add_task", "remove_task", "update_task", "set_value", "force_condition")
    class SkipTask(_message.Message):
        __slots__ = ("task_id",)
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        def __init__(self, task_id: _Optional[str] = ...) -> None: ...
    class AddTask(_message.Message):
        __slots__ = ("task_id", "agent", "input", "depends_on", "timeout", "retry")
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        AGENT_FIELD_NUMBER: _ClassVar[int]
        INPUT_FIELD_NUMBER: _ClassVar[int]
        DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_FIELD_NUMBER: _ClassVar[int]
        RETRY_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        agent: str
        input: _struct_pb2.Value
        depends_on: _containers.RepeatedScalarFieldContainer[str]
        timeout: _duration_pb2.Duration
        retry: RetryPolicy
        def __init__(self, task_id: _Optional[str] = ..., agent: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., depends_on: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...
    class RemoveTask(_message.Message):
        __slots__ = ("task_id",)
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        def __init__(self, task_id: _Optional[str] = ...) -> None: ...
    class UpdateTask(_message.Message):
        __slots__ = ("task_id", "input", "timeout", "retry")
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        INPUT_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_FIELD_NUMBER: _ClassVar[int]
        RETRY_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        input: _struct_pb2.Value
        timeout: _duration_pb2.Duration
        retry: RetryPolicy
        def __init__(self, task_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...
    class SetValue(_message.Message):
        __slots__ = ("path", "value")
        PATH_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        path: str
        value: _struct_pb2.Value
        def __init__(self, path: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class ForceCondition(_message.Message):
        __slots__ = ("task_id", "value")
        TASK_ID_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        task_id: str
        value: bool
        def __init__(self, task_id: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    SKIP_TASK_FIELD_NUMBER: _ClassVar[int]
    ADD_TASK_FIELD_NUMBER: _ClassVar[int]
    REMOVE_TASK_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TASK_FIELD_NUMBER: _ClassVar[int]
    SET_VALUE_FIELD_NUMBER: _ClassVar[int]
    FORCE_CONDITION_FIELD_NUMBER: _ClassVar[int]
    skip_task: ExecutionOperation.SkipTask
    add_task: ExecutionOperation.AddTask
    remove_task: ExecutionOperation.RemoveTask
    update_task: ExecutionOperation.UpdateTask
    set_value: ExecutionOperation.SetValue
    force_condition: ExecutionOperation.ForceCondition
    def __init__(self, skip_task: _Optional[_Union[ExecutionOperation.SkipTask, _Mapping]] = ..., add_task: _Optional[_Union[ExecutionOperation.AddTask, _Mapping]] = ..., remove_task: _Optional[_Union[ExecutionOperation.RemoveTask, _Mapping]] = ..., update_task: _Optional[_Union[ExecutionOperation.UpdateTask, _Mapping]] = ..., set_value: _Optional[_Union[ExecutionOperation.SetValue, _Mapping]] = ..., force_condition: _Optional[_Union[ExecutionOperation.ForceCondition, _Mapping]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_interval", "backoff_coefficient", "max_interval", "non_retryable_errors")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    MAX_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    NON_RETRYABLE_ERRORS_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_interval: _duration_pb2.Duration
    backoff_coefficient: float
    max_interval: _duration_pb2.Duration
    non_retryable_errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, max_attempts: _Optional[int] = ..., initial_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., backoff_coefficient: _Optional[float] = ..., max_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., non_retryable_errors: _Optional[_Iterable[str]] = ...) -> None: ...
