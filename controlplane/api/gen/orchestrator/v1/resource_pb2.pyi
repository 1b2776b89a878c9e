import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlacementStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLACEMENT_STRATEGY_UNSPECIFIED: _ClassVar[PlacementStrategy]
    PLACEMENT_STRATEGY_PACK: _ClassVar[PlacementStrategy]
    PLACEMENT_STRATEGY_SPREAD: _ClassVar[PlacementStrategy]
    PLACEMENT_STRATEGY_STRICT_PACK: _ClassVar[PlacementStrategy]
    PLACEMENT_STRATEGY_STRICT_SPREAD: _ClassVar[PlacementStrategy]

class RealizationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REALIZATION_STATE_UNSPECIFIED: _ClassVar[RealizationState]
    REALIZATION_STATE_PENDING: _ClassVar[RealizationState]
    REALIZATION_STATE_READY: _ClassVar[RealizationState]
    REALIZATION_STATE_RESCHEDULING: _ClassVar[RealizationState]

class Backpressure(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKPRESSURE_UNSPECIFIED: _ClassVar[Backpressure]
    BACKPRESSURE_REJECT: _ClassVar[Backpressure]
    BACKPRESSURE_QUEUE: _ClassVar[Backpressure]

class ReservationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESERVATION_STATE_UNSPECIFIED: _ClassVar[ReservationState]
    RESERVATION_STATE_PENDING: _ClassVar[ReservationState]
    RESERVATION_STATE_ACTIVE: _ClassVar[ReservationState]
    RESERVATION_STATE_EXPIRED: _ClassVar[ReservationState]
    RESERVATION_STATE_CANCELLED: _ClassVar[ReservationState]
    RESERVATION_STATE_FAILED: _ClassVar[ReservationState]
PLACEMENT_STRATEGY_UNSPECIFIED: PlacementStrategy
PLACEMENT_STRATEGY_PACK: PlacementStrategy
PLACEMENT_STRATEGY_SPREAD: PlacementStrategy
PLACEMENT_STRATEGY_STRICT_PACK: PlacementStrategy
PLACEMENT_STRATEGY_STRICT_SPREAD: PlacementStrategy
REALIZATION_STATE_UNSPECIFIED: RealizationState
REALIZATION_STATE_PENDING: RealizationState
REALIZATION_STATE_READY: RealizationState
REALIZATION_STATE_RESCHEDULING: RealizationState
BACKPRESSURE_UNSPECIFIED: Backpressure
BACKPRESSURE_REJECT: Backpressure
BACKPRESSURE_QUEUE: Backpressure
RESERVATION_STATE_UNSPECIFIED: ReservationState
RESERVATION_STATE_PENDING: ReservationState
RESERVATION_STATE_ACTIVE: ReservationState
RESERVATION_STATE_EXPIRED: ReservationState
RESERVATION_STATE_CANCELLED: ReservationState
RESERVATION_STATE_FAILED: ReservationState

class ResourceAmounts(_message.Message):
    __slots__ = ("cpu", "memory", "gpu", "custom")
    class CustomEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    GPU_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory: int
    gpu: float
    custom: _containers.ScalarMap[str, float]
    def __init__(self, cpu: _Optional[float] = ..., memory: _Optional[int] = ..., gpu: _Optional[float] = ..., custom: _Optional[_Mapping[str, float]] = ...) -> None: ...

class NodeSelector(_message.Message):
    __slots__ = ("labels", "custom_resources", "node_ids")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.ScalarMap[str, str]
    custom_resources: _containers.RepeatedScalarFieldContainer[str]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, labels: _Optional[_Mapping[str, str]] = ..., custom_resources: _Optional[_Iterable[str]] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PoolSpec(_message.Message):
    __slots__ = ("name", "selector", "whole_nodes", "share", "strategy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    WHOLE_NODES_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    name: str
    selector: NodeSelector
    whole_nodes: bool
    share: ResourceAmounts
    strategy: PlacementStrategy
    def __init__(self, name: _Optional[str] = ..., selector: _Optional[_Union[NodeSelector, _Mapping]] = ..., whole_nodes: _Optional[bool] = ..., share: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., strategy: _Optional[_Union[PlacementStrategy, str]] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("spec", "node_ids", "capacity", "allocated", "create_time", "update_time", "placement_group_id", "realization", "message", "repair")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    REALIZATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REPAIR_FIELD_NUMBER: _ClassVar[int]
    spec: PoolSpec
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    capacity: ResourceAmounts
    allocated: ResourceAmounts
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    placement_group_id: str
    realization: RealizationState
    message: str
    repair: PoolRepair
    def __init__(self, spec: _Optional[_Union[PoolSpec, _Mapping]] = ..., node_ids: _Optional[_Iterable[str]] = ..., capacity: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., allocated: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., placement_group_id: _Optional[str] = ..., realization: _Optional[_Union[RealizationState, str]] = ..., message: _Optional[str] = ..., repair: _Optional[_Union[PoolRepair, _Mapping]] = ...) -> None: ...

class PoolRepair(_message.Message):
    __slots__ = ("phase", "losses", "lost_time", "failed_tries", "next_try_time", "message")
    class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        PHASE_UNSPECIFIED: _ClassVar[PoolRepair.Phase]
        PHASE_LOST: _ClassVar[PoolRepair.Phase]
        PHASE_RECREATED: _ClassVar[PoolRepair.Phase]
        PHASE_HEALED: _ClassVar[PoolRepair.Phase]
    PHASE_UNSPECIFIED: PoolRepair.Phase
    PHASE_LOST: PoolRepair.Phase
    PHASE_RECREATED: PoolRepair.Phase
    PHASE_HEALED: PoolRepair.Phase
    PHASE_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    LOST_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_TRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_TRY_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    phase: PoolRepair.Phase
    losses: int
    lost_time: _timestamp_pb2.Timestamp
    failed_tries: int
    next_try_time: _timestamp_pb2.Timestamp
    message: str
    def __init__(self, phase: _Optional[_Union[PoolRepair.Phase, str]] = ..., losses: _Optional[int] = ..., lost_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_tries: _Optional[int] = ..., next_try_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("node_id", "address", "alive", "labels", "capacity", "allocated", "free", "pools")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    address: str
    alive: bool
    labels: _containers.ScalarMap[str, str]
    capacity: ResourceAmounts
    allocated: ResourceAmounts
    free: ResourceAmounts
    pools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, node_id: _Optional[str] = ..., address: _Optional[str] = ..., alive: _Optional[bool] = ..., labels: _Optional[_Mapping[str, str]] = ..., capacity: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., allocated: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., free: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., pools: _Optional[_Iterable[str]] = ...) -> None: ...

class PoolUsage(_message.Message):
    __slots__ = ("pool", "capacity", "allocated")
    POOL_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    pool: str
    capacity: ResourceAmounts
    allocated: ResourceAmounts
    def __init__(self, pool: _Optional[str] = ..., capacity: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., allocated: _Optional[_Union[ResourceAmounts, _Mapping]] = ...) -> None: ...

class NamespaceUsage(_message.Message):
    __slots__ = ("namespace", "allocated", "replicas", "running_executions", "weighted_dominant_share", "queued_tasks", "oldest_wait", "running_tasks", "queued_executions")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATED_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTED_DOMINANT_SHARE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_TASKS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAIT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    allocated: ResourceAmounts
    replicas: int
    running_executions: int
    weighted_dominant_share: float
    queued_tasks: int
    oldest_wait: _duration_pb2.Duration
    running_tasks: int
    queued_executions: int
    def __init__(self, namespace: _Optional[str] = ..., allocated: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., replicas: _Optional[int] = ..., running_executions: _Optional[int] = ..., weighted_dominant_share: _Optional[float] = ..., queued_tasks: _Optional[int] = ..., oldest_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., running_tasks: _Optional[int] = ..., queued_executions: _Optional[int] = ...) -> None: ...

class Quota(_message.Message):
    __slots__ = ("namespace", "max", "max_replicas", "max_concurrent_executions", "weight", "priority", "backpressure", "placement_policy", "batch_scheduler", "plan_interval")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENT_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    BACKPRESSURE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_POLICY_FIELD_NUMBER: _ClassVar[int]
    BATCH_SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    PLAN_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    max: ResourceAmounts
    max_replicas: int
    max_concurrent_executions: int
    weight: float
    priority: int
    backpressure: Backpressure
    placement_policy: str
    batch_scheduler: str
    plan_interval: _duration_pb2.Duration
    def __init__(self, namespace: _Optional[str] = ..., max: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., max_replicas: _Optional[int] = ..., max_concurrent_executions: _Optional[int] = ..., weight: _Optional[float] = ..., priority: _Optional[int] = ..., backpressure: _Optional[_Union[Backpressure, str]] = ..., placement_policy: _Optional[str] = ..., batch_scheduler: _Optional[str] = ..., plan_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ("reservation_id", "namespace", "pool", "resources", "start_time", "duration", "state", "strategy", "create_time", "message", "placement_group_id")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLACEMENT_GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    namespace: str
    pool: str
    resources: ResourceAmounts
    start_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    state: ReservationState
    strategy: PlacementStrategy
    create_time: _timestamp_pb2.Timestamp
    message: str
    placement_group_id: str
    def __init__(self, reservation_id: _Optional[str] = ..., namespace: _Optional[str] = ..., pool: _Optional[str] = ..., resources: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., state: _Optional[_Union[ReservationState, str]] = ..., strategy: _Optional[_Union[PlacementStrategy, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., placement_group_id: _Optional[str] = ...) -> None: ...

class CreatePoolRequest(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: PoolSpec
    def __init__(self, pool: _Optional[_Union[PoolSpec, _Mapping]] = ...) -> None: ...

class CreatePoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class GetPoolRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools", "next_page_token")
    POOLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    next_page_token: str
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePoolRequest(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: PoolSpec
    def __init__(self, pool: _Optional[_Union[PoolSpec, _Mapping]] = ...) -> None: ...

class UpdatePoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class DeletePoolRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeletePoolResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClusterStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetClusterStateResponse(_message.Message):
    __slots__ = ("nodes", "pools", "namespaces", "fragmentation", "observe_time")
    class FragmentationEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NODES_FIELD_NUMBER: _ClassVar[int]
    POOLS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACES_FIELD_NUMBER: _ClassVar[int]
    FRAGMENTATION_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_TIME_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    pools: _containers.RepeatedCompositeFieldContainer[PoolUsage]
    namespaces: _containers.RepeatedCompositeFieldContainer[NamespaceUsage]
    fragmentation: _containers.ScalarMap[str, float]
    observe_time: _timestamp_pb2.Timestamp
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., pools: _Optional[_Iterable[_Union[PoolUsage, _Mapping]]] = ..., namespaces: _Optional[_Iterable[_Union[NamespaceUsage, _Mapping]]] = ..., fragmentation: _Optional[_Mapping[str, float]] = ..., observe_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("quota",)
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class SetQuotaResponse(_message.Message):
    __slots__ = ("quota",)
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class GetQuotaRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class GetQuotaResponse(_message.Message):
    __slots__ = ("quota",)
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    quota: Quota
    def __init__(self, quota: _Optional[_Union[Quota, _Mapping]] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("namespace", "pool", "resources", "start_time", "duration", "strategy", "request_id")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    pool: str
    resources: ResourceAmounts
    start_time: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    strategy: PlacementStrategy
    request_id: str
    def __init__(self, namespace: _Optional[str] = ..., pool: _Optional[str] = ..., resources: _Optional[_Union[ResourceAmounts, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., strategy: _Optional[_Union[PlacementStrategy, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class GetReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class GetReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...

class CancelReservationRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class CancelReservationResponse(_message.Message):
    __slots__ = ("reservation",)
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    reservation: Reservation
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ...) -> None: ...
