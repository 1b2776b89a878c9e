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

class AgentVersionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_VERSION_STATE_UNSPECIFIED: _ClassVar[AgentVersionState]
    AGENT_VERSION_STATE_ACTIVE: _ClassVar[AgentVersionState]
    AGENT_VERSION_STATE_CANARY: _ClassVar[AgentVersionState]
    AGENT_VERSION_STATE_RETIRED: _ClassVar[AgentVersionState]
    AGENT_VERSION_STATE_ROLLED_BACK: _ClassVar[AgentVersionState]
    AGENT_VERSION_STATE_FAILED: _ClassVar[AgentVersionState]

class ReplicaState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLICA_STATE_UNSPECIFIED: _ClassVar[ReplicaState]
    REPLICA_STATE_STARTING: _ClassVar[ReplicaState]
    REPLICA_STATE_READY: _ClassVar[ReplicaState]
    REPLICA_STATE_DRAINING: _ClassVar[ReplicaState]
    REPLICA_STATE_DEAD: _ClassVar[ReplicaState]

class AgentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATE_UNSPECIFIED: _ClassVar[AgentState]
    AGENT_STATE_DEPLOYING: _ClassVar[AgentState]
    AGENT_STATE_READY: _ClassVar[AgentState]
    AGENT_STATE_DEGRADED: _ClassVar[AgentState]
    AGENT_STATE_DELETING: _ClassVar[AgentState]
    AGENT_STATE_FAILED: _ClassVar[AgentState]

class ReplicaHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLICA_HEALTH_UNSPECIFIED: _ClassVar[ReplicaHealth]
    REPLICA_HEALTH_HEALTHY: _ClassVar[ReplicaHealth]
    REPLICA_HEALTH_UNHEALTHY: _ClassVar[ReplicaHealth]

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]

class LoadBalancingStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAD_BALANCING_STRATEGY_UNSPECIFIED: _ClassVar[LoadBalancingStrategy]
    LOAD_BALANCING_STRATEGY_LEAST_OUTSTANDING: _ClassVar[LoadBalancingStrategy]
    LOAD_BALANCING_STRATEGY_POWER_OF_TWO: _ClassVar[LoadBalancingStrategy]
    LOAD_BALANCING_STRATEGY_ROUND_ROBIN: _ClassVar[LoadBalancingStrategy]
    LOAD_BALANCING_STRATEGY_LEAST_LATENCY: _ClassVar[LoadBalancingStrategy]
    LOAD_BALANCING_STRATEGY_CONSISTENT_HASH: _ClassVar[LoadBalancingStrategy]

class RolloutStrategyKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STRATEGY_KIND_UNSPECIFIED: _ClassVar[RolloutStrategyKind]
    ROLLOUT_STRATEGY_KIND_ROLLING: _ClassVar[RolloutStrategyKind]
    ROLLOUT_STRATEGY_KIND_BLUE_GREEN: _ClassVar[RolloutStrategyKind]
    ROLLOUT_STRATEGY_KIND_CANARY: _ClassVar[RolloutStrategyKind]

class CanaryVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANARY_VERDICT_UNSPECIFIED: _ClassVar[CanaryVerdict]
    CANARY_VERDICT_PASS: _ClassVar[CanaryVerdict]
    CANARY_VERDICT_FAIL: _ClassVar[CanaryVerdict]
    CANARY_VERDICT_INCONCLUSIVE: _ClassVar[CanaryVerdict]

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_UNSPECIFIED: _ClassVar[RolloutState]
    ROLLOUT_STATE_PROGRESSING: _ClassVar[RolloutState]
    ROLLOUT_STATE_SUCCEEDED: _ClassVar[RolloutState]
    ROLLOUT_STATE_ROLLED_BACK: _ClassVar[RolloutState]
    ROLLOUT_STATE_FAILED: _ClassVar[RolloutState]
AGENT_VERSION_STATE_UNSPECIFIED: AgentVersionState
AGENT_VERSION_STATE_ACTIVE: AgentVersionState
AGENT_VERSION_STATE_CANARY: AgentVersionState
AGENT_VERSION_STATE_RETIRED: AgentVersionState
AGENT_VERSION_STATE_ROLLED_BACK: AgentVersionState
AGENT_VERSION_STATE_FAILED: AgentVersionState
REPLICA_STATE_UNSPECIFIED: ReplicaState
REPLICA_STATE_STARTING: ReplicaState
REPLICA_STATE_READY: ReplicaState
REPLICA_STATE_DRAINING: ReplicaState
REPLICA_STATE_DEAD: ReplicaState
AGENT_STATE_UNSPECIFIED: AgentState
AGENT_STATE_DEPLOYING: AgentState
AGENT_STATE_READY: AgentState
AGENT_STATE_DEGRADED: AgentState
AGENT_STATE_DELETING: AgentState
AGENT_STATE_FAILED: AgentState
REPLICA_HEALTH_UNSPECIFIED: ReplicaHealth
REPLICA_HEALTH_HEALTHY: ReplicaHealth
REPLICA_HEALTH_UNHEALTHY: ReplicaHealth
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState
LOAD_BALANCING_STRATEGY_UNSPECIFIED: LoadBalancingStrategy
LOAD_BALANCING_STRATEGY_LEAST_OUTSTANDING: LoadBalancingStrategy
LOAD_BALANCING_STRATEGY_POWER_OF_TWO: LoadBalancingStrategy
LOAD_BALANCING_STRATEGY_ROUND_ROBIN: LoadBalancingStrategy
LOAD_BALANCING_STRATEGY_LEAST_LATENCY: LoadBalancingStrategy
LOAD_BALANCING_STRATEGY_CONSISTENT_HASH: LoadBalancingStrategy
ROLLOUT_STRATEGY_KIND_UNSPECIFIED: RolloutStrategyKind
ROLLOUT_STRATEGY_KIND_ROLLING: RolloutStrategyKind
ROLLOUT_STRATEGY_KIND_BLUE_GREEN: RolloutStrategyKind
ROLLOUT_STRATEGY_KIND_CANARY: RolloutStrategyKind
CANARY_VERDICT_UNSPECIFIED: CanaryVerdict
CANARY_VERDICT_PASS: CanaryVerdict
CANARY_VERDICT_FAIL: CanaryVerdict
CANARY_VERDICT_INCONCLUSIVE: CanaryVerdict
ROLLOUT_STATE_UNSPECIFIED: RolloutState
ROLLOUT_STATE_PROGRESSING: RolloutState
ROLLOUT_STATE_SUCCEEDED: RolloutState
ROLLOUT_STATE_ROLLED_BACK: RolloutState
ROLLOUT_STATE_FAILED: RolloutState

class VersionHealth(_message.Message):
    __slots__ = ("window", "attempts", "succeeded", "failed", "success_rate", "p50_latency", "p95_latency")
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    P50_LATENCY_FIELD_NUMBER: _ClassVar[int]
    P95_LATENCY_FIELD_NUMBER: _ClassVar[int]
    window: _duration_pb2.Duration
    attempts: int
    succeeded: int
    failed: int
    success_rate: float
    p50_latency: _duration_pb2.Duration
    p95_latency: _duration_pb2.Duration
    def __init__(self, window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., attempts: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., success_rate: _Optional[float] = ..., p50_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., p95_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class AgentVersion(_message.Message):
    __slots__ = ("spec", "state", "create_time", "update_time", "health")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    spec: AgentSpec
    state: AgentVersionState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    health: VersionHealth
    def __init__(self, spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., state: _Optional[_Union[AgentVersionState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., health: _Optional[_Union[VersionHealth, _Mapping]] = ...) -> None: ...

class ListAgentVersionsRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListAgentVersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[AgentVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[AgentVersion, _Mapping]]] = ...) -> None: ...

class RollbackAgentRequest(_message.Message):
    __slots__ = ("name", "version", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class RollbackAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class HealthCheck(_message.Message):
    __slots__ = ("interval", "timeout", "failure_threshold", "success_threshold")
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    interval: _duration_pb2.Duration
    timeout: _duration_pb2.Duration
    failure_threshold: int
    success_threshold: int
    def __init__(self, interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., failure_threshold: _Optional[int] = ..., success_threshold: _Optional[int] = ...) -> None: ...

class CircuitBreaker(_message.Message):
    __slots__ = ("disabled", "consecutive_failures", "failure_rate", "window", "minimum_attempts", "cool_down")
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    COOL_DOWN_FIELD_NUMBER: _ClassVar[int]
    disabled: bool
    consecutive_failures: int
    failure_rate: float
    window: _duration_pb2.Duration
    minimum_attempts: int
    cool_down: _duration_pb2.Duration
    def __init__(self, disabled: _Optional[bool] = ..., consecutive_failures: _Optional[int] = ..., failure_rate: _Optional[float] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., minimum_attempts: _Optional[int] = ..., cool_down: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class LoadBalancing(_message.Message):
    __slots__ = ("strategy", "hash_key", "load_factor")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    HASH_KEY_FIELD_NUMBER: _ClassVar[int]
    LOAD_FACTOR_FIELD_NUMBER: _ClassVar[int]
    strategy: LoadBalancingStrategy
    hash_key: str
    load_factor: float
    def __init__(self, strategy: _Optional[_Union[LoadBalancingStrategy, str]] = ..., hash_key: _Optional[str] = ..., load_factor: _Optional[float] = ...) -> None: ...

class ReplicaResources(_message.Message):
    __slots__ = ("num_cpus", "memory", "num_gpus", "custom")
    class CustomEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NUM_CPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    NUM_GPUS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_FIELD_NUMBER: _ClassVar[int]
    num_cpus: float
    memory: int
    num_gpus: float
    custom: _containers.ScalarMap[str, float]
    def __init__(self, num_cpus: _Optional[float] = ..., memory: _Optional[int] = ..., num_gpus: _Optional[float] = ..., custom: _Optional[_Mapping[str, float]] = ...) -> None: ...

class AgentSpec(_message.Message):
    __slots__ = ("name", "version", "import_path", "runtime_env", "replicas", "resources", "max_concurrency", "capabilities", "config", "pool", "endpoint", "endpoint_options", "health_check", "circuit_breaker", "load_balancing", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IMPORT_PATH_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_ENV_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_BREAKER_FIELD_NUMBER: _ClassVar[int]
    LOAD_BALANCING_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    import_path: str
    runtime_env: _struct_pb2.Struct
    replicas: int
    resources: ReplicaResources
    max_concurrency: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    config: _struct_pb2.Struct
    pool: str
    endpoint: str
    endpoint_options: EndpointOptions
    health_check: HealthCheck
    circuit_breaker: CircuitBreaker
    load_balancing: LoadBalancing
    namespace: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., import_path: _Optional[str] = ..., runtime_env: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., replicas: _Optional[int] = ..., resources: _Optional[_Union[ReplicaResources, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., pool: _Optional[str] = ..., endpoint: _Optional[str] = ..., endpoint_options: _Optional[_Union[EndpointOptions, _Mapping]] = ..., health_check: _Optional[_Union[HealthCheck, _Mapping]] = ..., circuit_breaker: _Optional[_Union[CircuitBreaker, _Mapping]] = ..., load_balancing: _Optional[_Union[LoadBalancing, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class EndpointOptions(_message.Message):
    __slots__ = ("headers", "headers_from_env", "connect_timeout", "read_timeout", "poll_interval", "max_poll_interval")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersFromEnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FROM_ENV_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    READ_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    POLL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MAX_POLL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    headers: _containers.ScalarMap[str, str]
    headers_from_env: _containers.ScalarMap[str, str]
    connect_timeout: _duration_pb2.Duration
    read_timeout: _duration_pb2.Duration
    poll_interval: _duration_pb2.Duration
    max_poll_interval: _duration_pb2.Duration
    def __init__(self, headers: _Optional[_Mapping[str, str]] = ..., headers_from_env: _Optional[_Mapping[str, str]] = ..., connect_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., read_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., poll_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_poll_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Replica(_message.Message):
    __slots__ = ("name", "version", "state", "outstanding_attempts", "node_id", "restarts", "health", "breaker", "last_error", "last_error_time", "latency_p50", "latency_p95", "health_response_time", "health_change_time", "breaker_change_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_FIELD_NUMBER: _ClassVar[int]
    HEALTH_RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    BREAKER_CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    state: ReplicaState
    outstanding_attempts: int
    node_id: str
    restarts: int
    health: ReplicaHealth
    breaker: BreakerState
    last_error: str
    last_error_time: _timestamp_pb2.Timestamp
    latency_p50: _duration_pb2.Duration
    latency_p95: _duration_pb2.Duration
    health_response_time: _duration_pb2.Duration
    health_change_time: _timestamp_pb2.Timestamp
    breaker_change_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., state: _Optional[_Union[ReplicaState, str]] = ..., outstanding_attempts: _Optional[int] = ..., node_id: _Optional[str] = ..., restarts: _Optional[int] = ..., health: _Optional[_Union[ReplicaHealth, str]] = ..., breaker: _Optional[_Union[BreakerState, str]] = ..., last_error: _Optional[str] = ..., last_error_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., latency_p50: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., latency_p95: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., health_response_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., health_change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., breaker_change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartFailure(_message.Message):
    __slots__ = ("version", "summary", "detail", "time")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    version: str
    summary: str
    detail: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[str] = ..., summary: _Optional[str] = ..., detail: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("spec", "state", "replicas", "create_time", "update_time", "start_failure", "rollout")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_FAILURE_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    spec: AgentSpec
    state: AgentState
    replicas: _containers.RepeatedCompositeFieldContainer[Replica]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    start_failure: StartFailure
    rollout: Rollout
    def __init__(self, spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., state: _Optional[_Union[AgentState, str]] = ..., replicas: _Optional[_Iterable[_Union[Replica, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_failure: _Optional[_Union[StartFailure, _Mapping]] = ..., rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class DeployAgentRequest(_message.Message):
    __slots__ = ("agent", "strategy", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: AgentSpec
    strategy: RolloutStrategy
    namespace: str
    def __init__(self, agent: _Optional[_Union[AgentSpec, _Mapping]] = ..., strategy: _Optional[_Union[RolloutStrategy, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class CanaryStep(_message.Message):
    __slots__ = ("weight_percent", "hold")
    WEIGHT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    weight_percent: float
    hold: _duration_pb2.Duration
    def __init__(self, weight_percent: _Optional[float] = ..., hold: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CanaryAnalysis(_message.Message):
    __slots__ = ("max_error_rate_increase", "max_latency_ratio", "min_latency_increase", "min_attempts")
    MAX_ERROR_RATE_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_RATIO_FIELD_NUMBER: _ClassVar[int]
    MIN_LATENCY_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MIN_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    max_error_rate_increase: float
    max_latency_ratio: float
    min_latency_increase: _duration_pb2.Duration
    min_attempts: int
    def __init__(self, max_error_rate_increase: _Optional[float] = ..., max_latency_ratio: _Optional[float] = ..., min_latency_increase: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_attempts: _Optional[int] = ...) -> None: ...

class RolloutStrategy(_message.Message):
    __slots__ = ("kind", "max_surge", "max_unavailable", "rollback_window", "steps", "analysis")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MAX_SURGE_FIELD_NUMBER: _ClassVar[int]
    MAX_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_WINDOW_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    kind: RolloutStrategyKind
    max_surge: str
    max_unavailable: str
    rollback_window: _duration_pb2.Duration
    steps: _containers.RepeatedCompositeFieldContainer[CanaryStep]
    analysis: CanaryAnalysis
    def __init__(self, kind: _Optional[_Union[RolloutStrategyKind, str]] = ..., max_surge: _Optional[str] = ..., max_unavailable: _Optional[str] = ..., rollback_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[CanaryStep, _Mapping]]] = ..., analysis: _Optional[_Union[CanaryAnalysis, _Mapping]] = ...) -> None: ...

class RolloutStep(_message.Message):
    __slots__ = ("stable_replicas", "new_replicas", "new_weight", "hold", "analyse")
    STABLE_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    NEW_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    NEW_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    ANALYSE_FIELD_NUMBER: _ClassVar[int]
    stable_replicas: int
    new_replicas: int
    new_weight: float
    hold: _duration_pb2.Duration
    analyse: bool
    def __init__(self, stable_replicas: _Optional[int] = ..., new_replicas: _Optional[int] = ..., new_weight: _Optional[float] = ..., hold: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., analyse: _Optional[bool] = ...) -> None: ...

class StepAnalysis(_message.Message):
    __slots__ = ("canary_attempts", "canary_error_rate", "canary_p95_latency", "stable_attempts", "stable_error_rate", "stable_p95_latency", "verdict", "reason")
    CANARY_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CANARY_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    CANARY_P95_LATENCY_FIELD_NUMBER: _ClassVar[int]
    STABLE_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STABLE_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    STABLE_P95_LATENCY_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    canary_attempts: int
    canary_error_rate: float
    canary_p95_latency: _duration_pb2.Duration
    stable_attempts: int
    stable_error_rate: float
    stable_p95_latency: _duration_pb2.Duration
    verdict: CanaryVerdict
    reason: str
    def __init__(self, canary_attempts: _Optional[int] = ..., canary_error_rate: _Optional[float] = ..., canary_p95_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., stable_attempts: _Optional[int] = ..., stable_error_rate: _Optional[float] = ..., stable_p95_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., verdict: _Optional[_Union[CanaryVerdict, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("rollout_id", "agent", "strategy", "stable_spec", "new_spec", "steps", "step", "state", "create_time", "update_time", "step_start_time", "message", "analysis", "namespace")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    STABLE_SPEC_FIELD_NUMBER: _ClassVar[int]
    NEW_SPEC_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    STEP_START_TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    agent: str
    strategy: RolloutStrategy
    stable_spec: AgentSpec
    new_spec: AgentSpec
    steps: _containers.RepeatedCompositeFieldContainer[RolloutStep]
    step: int
    state: RolloutState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    step_start_time: _timestamp_pb2.Timestamp
    message: str
    analysis: StepAnalysis
    namespace: str
    def __init__(self, rollout_id: _Optional[str] = ..., agent: _Optional[str] = ..., strategy: _Optional[_Union[RolloutStrategy, _Mapping]] = ..., stable_spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., new_spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[RolloutStep, _Mapping]]] = ..., step: _Optional[int] = ..., state: _Optional[_Union[RolloutState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., step_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., analysis: _Optional[_Union[StepAnalysis, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class DeployAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "namespace")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    namespace: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    next_page_token: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAgentRequest(_message.Message):
    __slots__ = ("name", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class DeleteAgentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScaleAgentRequest(_message.Message):
    __slots__ = ("name", "replicas", "namespace")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    name: str
    replicas: int
    namespace: str
    def __init__(self, name: _Optional[str] = ..., replicas: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class ScaleAgentResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class UploadPackageRequest(_message.Message):
    __slots__ = ("sha256", "size_bytes", "data")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    size_bytes: int
    data: bytes
    def __init__(self, sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadPackageResponse(_message.Message):
    __slots__ = ("uri", "sha256", "size_bytes", "created")
    URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    uri: str
    sha256: str
    size_bytes: int
    created: bool
    def __init__(self, uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., created: _Optional[bool] = ...) -> None: ...

class AgentEvent(_message.Message):
    __slots__ = ("sequence", "time", "type", "source", "agent", "replica", "data", "namespace")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    type: str
    source: str
    agent: str
    replica: str
    data: _struct_pb2.Struct
    namespace: str
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., source: _Optional[str] = ..., agent: _Optional[str] = ..., replica: _Optional[str] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListAgentEventsRequest(_message.Message):
    __slots__ = ("agent", "page_size", "page_token", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    page_size: int
    page_token: str
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListAgentEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AgentEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AgentEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchAgentEventsRequest(_message.Message):
    __slots__ = ("agent", "from_sequence", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    from_sequence: int
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., from_sequence: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class WatchAgentEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: AgentEvent
    def __init__(self, event: _Optional[_Union[AgentEvent, _Mapping]] = ...) -> None: ...
