import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SchedulerInfo(_message.Message):
    __slots__ = ("name", "description", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    kind: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class ListSchedulersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSchedulersResponse(_message.Message):
    __slots__ = ("schedulers",)
    SCHEDULERS_FIELD_NUMBER: _ClassVar[int]
    schedulers: _containers.RepeatedCompositeFieldContainer[SchedulerInfo]
    def __init__(self, schedulers: _Optional[_Iterable[_Union[SchedulerInfo, _Mapping]]] = ...) -> None: ...

class PlanRequest(_message.Message):
    __slots__ = ("problem_json", "scheduler", "time_limit", "seed", "workers", "namespace", "adopt")
    PROBLEM_JSON_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ADOPT_FIELD_NUMBER: _ClassVar[int]
    problem_json: str
    scheduler: str
    time_limit: _duration_pb2.Duration
    seed: int
    workers: int
    namespace: str
    adopt: bool
    def __init__(self, problem_json: _Optional[str] = ..., scheduler: _Optional[str] = ..., time_limit: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., seed: _Optional[int] = ..., workers: _Optional[int] = ..., namespace: _Optional[str] = ..., adopt: _Optional[bool] = ...) -> None: ...

class PlannedOperation(_message.Message):
    __slots__ = ("operation", "job", "position", "machine", "start", "end", "execution_id", "task_id", "node_id")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    MACHINE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    operation: int
    job: int
    position: int
    machine: int
    start: int
    end: int
    execution_id: str
    task_id: str
    node_id: str
    def __init__(self, operation: _Optional[int] = ..., job: _Optional[int] = ..., position: _Optional[int] = ..., machine: _Optional[int] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., execution_id: _Optional[str] = ..., task_id: _Optional[str] = ..., node_id: _Optional[str] = ...) -> None: ...

class PlanResponse(_message.Message):
    __slots__ = ("scheduler", "status", "objective", "bound", "operations", "solve_time", "info")
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    SOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    scheduler: str
    status: str
    objective: float
    bound: float
    operations: _containers.RepeatedCompositeFieldContainer[PlannedOperation]
    solve_time: _duration_pb2.Duration
    info: _struct_pb2.Struct
    def __init__(self, scheduler: _Optional[str] = ..., status: _Optional[str] = ..., objective: _Optional[float] = ..., bound: _Optional[float] = ..., operations: _Optional[_Iterable[_Union[PlannedOperation, _Mapping]]] = ..., solve_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., info: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
