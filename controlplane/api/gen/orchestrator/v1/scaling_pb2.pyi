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

class AdjustmentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADJUSTMENT_TYPE_UNSPECIFIED: _ClassVar[AdjustmentType]
    ADJUSTMENT_TYPE_CHANGE: _ClassVar[AdjustmentType]
    ADJUSTMENT_TYPE_PERCENT: _ClassVar[AdjustmentType]
    ADJUSTMENT_TYPE_EXACT: _ClassVar[AdjustmentType]

class ForecastBound(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FORECAST_BOUND_UNSPECIFIED: _ClassVar[ForecastBound]
    FORECAST_BOUND_UPPER: _ClassVar[ForecastBound]
    FORECAST_BOUND_MEAN: _ClassVar[ForecastBound]

class ScalingAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCALING_ACTION_UNSPECIFIED: _ClassVar[ScalingAction]
    SCALING_ACTION_HOLD: _ClassVar[ScalingAction]
    SCALING_ACTION_SCALE_OUT: _ClassVar[ScalingAction]
    SCALING_ACTION_SCALE_IN: _ClassVar[ScalingAction]

class LoadResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOAD_RESOLUTION_UNSPECIFIED: _ClassVar[LoadResolution]
    LOAD_RESOLUTION_RAW: _ClassVar[LoadResolution]
    LOAD_RESOLUTION_MINUTE: _ClassVar[LoadResolution]
    LOAD_RESOLUTION_HOUR: _ClassVar[LoadResolution]
ADJUSTMENT_TYPE_UNSPECIFIED: AdjustmentType
ADJUSTMENT_TYPE_CHANGE: AdjustmentType
ADJUSTMENT_TYPE_PERCENT: AdjustmentType
ADJUSTMENT_TYPE_EXACT: AdjustmentType
FORECAST_BOUND_UNSPECIFIED: ForecastBound
FORECAST_BOUND_UPPER: ForecastBound
FORECAST_BOUND_MEAN: ForecastBound
SCALING_ACTION_UNSPECIFIED: ScalingAction
SCALING_ACTION_HOLD: ScalingAction
SCALING_ACTION_SCALE_OUT: ScalingAction
SCALING_ACTION_SCALE_IN: ScalingAction
LOAD_RESOLUTION_UNSPECIFIED: LoadResolution
LOAD_RESOLUTION_RAW: LoadResolution
LOAD_RESOLUTION_MINUTE: LoadResolution
LOAD_RESOLUTION_HOUR: LoadResolution

class TargetTracking(_message.Message):
    __slots__ = ("metric", "target", "tolerance", "scale_up_stabilization", "scale_down_stabilization", "name")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    SCALE_UP_STABILIZATION_FIELD_NUMBER: _ClassVar[int]
    SCALE_DOWN_STABILIZATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    metric: str
    target: float
    tolerance: float
    scale_up_stabilization: _duration_pb2.Duration
    scale_down_stabilization: _duration_pb2.Duration
    name: str
    def __init__(self, metric: _Optional[str] = ..., target: _Optional[float] = ..., tolerance: _Optional[float] = ..., scale_up_stabilization: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., scale_down_stabilization: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class ScalingStep(_message.Message):
    __slots__ = ("adjustment", "lower", "upper")
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    adjustment: float
    lower: float
    upper: float
    def __init__(self, adjustment: _Optional[float] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ...) -> None: ...

class StepScaling(_message.Message):
    __slots__ = ("metric", "steps", "adjustment_type", "min_adjustment_magnitude", "name")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    MIN_ADJUSTMENT_MAGNITUDE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    metric: str
    steps: _containers.RepeatedCompositeFieldContainer[ScalingStep]
    adjustment_type: AdjustmentType
    min_adjustment_magnitude: int
    name: str
    def __init__(self, metric: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[ScalingStep, _Mapping]]] = ..., adjustment_type: _Optional[_Union[AdjustmentType, str]] = ..., min_adjustment_magnitude: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class ScheduledCapacity(_message.Message):
    __slots__ = ("cron", "duration", "replicas", "name", "utc_offset")
    CRON_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UTC_OFFSET_FIELD_NUMBER: _ClassVar[int]
    cron: str
    duration: _duration_pb2.Duration
    replicas: int
    name: str
    utc_offset: _duration_pb2.Duration
    def __init__(self, cron: _Optional[str] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., replicas: _Optional[int] = ..., name: _Optional[str] = ..., utc_offset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PredictiveScaling(_message.Message):
    __slots__ = ("target_utilization", "lead_time", "level", "bound", "service_time", "concurrency", "slo_wait", "max_violation", "name")
    TARGET_UTILIZATION_FIELD_NUMBER: _ClassVar[int]
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    BOUND_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    SLO_WAIT_FIELD_NUMBER: _ClassVar[int]
    MAX_VIOLATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    target_utilization: float
    lead_time: _duration_pb2.Duration
    level: float
    bound: ForecastBound
    service_time: _duration_pb2.Duration
    concurrency: int
    slo_wait: _duration_pb2.Duration
    max_violation: float
    name: str
    def __init__(self, target_utilization: _Optional[float] = ..., lead_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., level: _Optional[float] = ..., bound: _Optional[_Union[ForecastBound, str]] = ..., service_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., concurrency: _Optional[int] = ..., slo_wait: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_violation: _Optional[float] = ..., name: _Optional[str] = ...) -> None: ...

class ScaleLimit(_message.Message):
    __slots__ = ("replicas", "percent")
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    replicas: int
    percent: float
    def __init__(self, replicas: _Optional[int] = ..., percent: _Optional[float] = ...) -> None: ...

class ScalingPolicy(_message.Message):
    __slots__ = ("agent", "min_replicas", "max_replicas", "target_tracking", "step_scaling", "scheduled", "predictive", "scale_out_limit", "scale_in_limit", "scale_out_cooldown", "scale_in_cooldown", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    MIN_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    MAX_REPLICAS_FIELD_NUMBER: _ClassVar[int]
    TARGET_TRACKING_FIELD_NUMBER: _ClassVar[int]
    STEP_SCALING_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    PREDICTIVE_FIELD_NUMBER: _ClassVar[int]
    SCALE_OUT_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SCALE_IN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SCALE_OUT_COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    SCALE_IN_COOLDOWN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    min_replicas: int
    max_replicas: int
    target_tracking: _containers.RepeatedCompositeFieldContainer[TargetTracking]
    step_scaling: _containers.RepeatedCompositeFieldContainer[StepScaling]
    scheduled: _containers.RepeatedCompositeFieldContainer[ScheduledCapacity]
    predictive: PredictiveScaling
    scale_out_limit: ScaleLimit
    scale_in_limit: ScaleLimit
    scale_out_cooldown: _duration_pb2.Duration
    scale_in_cooldown: _duration_pb2.Duration
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., min_replicas: _Optional[int] = ..., max_replicas: _Optional[int] = ..., target_tracking: _Optional[_Iterable[_Union[TargetTracking, _Mapping]]] = ..., step_scaling: _Optional[_Iterable[_Union[StepScaling, _Mapping]]] = ..., scheduled: _Optional[_Iterable[_Union[ScheduledCapacity, _Mapping]]] = ..., predictive: _Optional[_Union[PredictiveScaling, _Mapping]] = ..., scale_out_limit: _Optional[_Union[ScaleLimit, _Mapping]] = ..., scale_in_limit: _Optional[_Union[ScaleLimit, _Mapping]] = ..., scale_out_cooldown: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., scale_in_cooldown: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class SetScalingPolicyRequest(_message.Message):
    __slots__ = ("policy", "namespace")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    policy: ScalingPolicy
    namespace: str
    def __init__(self, policy: _Optional[_Union[ScalingPolicy, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class SetScalingPolicyResponse(_message.Message):
    __slots__ = ("policy", "create_time", "update_time")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    policy: ScalingPolicy
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, policy: _Optional[_Union[ScalingPolicy, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetScalingPolicyRequest(_message.Message):
    __slots__ = ("agent", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetScalingPolicyResponse(_message.Message):
    __slots__ = ("policy", "create_time", "update_time")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    policy: ScalingPolicy
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, policy: _Optional[_Union[ScalingPolicy, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeleteScalingPolicyRequest(_message.Message):
    __slots__ = ("agent", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class DeleteScalingPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScalingEvent(_message.Message):
    __slots__ = ("event_id", "agent", "time", "current", "desired", "action", "policy", "reason", "inputs", "error", "namespace")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    agent: str
    time: _timestamp_pb2.Timestamp
    current: int
    desired: int
    action: ScalingAction
    policy: str
    reason: str
    inputs: _struct_pb2.Struct
    error: str
    namespace: str
    def __init__(self, event_id: _Optional[int] = ..., agent: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current: _Optional[int] = ..., desired: _Optional[int] = ..., action: _Optional[_Union[ScalingAction, str]] = ..., policy: _Optional[str] = ..., reason: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetScalingStatusRequest(_message.Message):
    __slots__ = ("agent", "decisions", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    decisions: int
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., decisions: _Optional[int] = ..., namespace: _Optional[str] = ...) -> None: ...

class ForecastSummary(_message.Message):
    __slots__ = ("model", "period", "step", "level", "fit_time", "fit_duration", "history_points", "history_end", "requested_model")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    FIT_TIME_FIELD_NUMBER: _ClassVar[int]
    FIT_DURATION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_POINTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_END_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    period: int
    step: _duration_pb2.Duration
    level: float
    fit_time: _timestamp_pb2.Timestamp
    fit_duration: _duration_pb2.Duration
    history_points: int
    history_end: _timestamp_pb2.Timestamp
    requested_model: str
    def __init__(self, model: _Optional[str] = ..., period: _Optional[int] = ..., step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., level: _Optional[float] = ..., fit_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fit_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., history_points: _Optional[int] = ..., history_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_model: _Optional[str] = ...) -> None: ...

class ScalingStatus(_message.Message):
    __slots__ = ("agent", "has_policy", "current", "ready", "desired", "last_decision_time", "decisions", "forecast", "forecast_error", "actuation_error", "evaluation_period", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    HAS_POLICY_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    LAST_DECISION_TIME_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    FORECAST_FIELD_NUMBER: _ClassVar[int]
    FORECAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    ACTUATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    has_policy: bool
    current: int
    ready: int
    desired: int
    last_decision_time: _timestamp_pb2.Timestamp
    decisions: _containers.RepeatedCompositeFieldContainer[ScalingEvent]
    forecast: ForecastSummary
    forecast_error: str
    actuation_error: str
    evaluation_period: _duration_pb2.Duration
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., has_policy: _Optional[bool] = ..., current: _Optional[int] = ..., ready: _Optional[int] = ..., desired: _Optional[int] = ..., last_decision_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decisions: _Optional[_Iterable[_Union[ScalingEvent, _Mapping]]] = ..., forecast: _Optional[_Union[ForecastSummary, _Mapping]] = ..., forecast_error: _Optional[str] = ..., actuation_error: _Optional[str] = ..., evaluation_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetScalingStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ScalingStatus
    def __init__(self, status: _Optional[_Union[ScalingStatus, _Mapping]] = ...) -> None: ...

class GetForecastRequest(_message.Message):
    __slots__ = ("agent", "horizon", "model", "level", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    horizon: _duration_pb2.Duration
    model: str
    level: float
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., horizon: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., model: _Optional[str] = ..., level: _Optional[float] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetForecastResponse(_message.Message):
    __slots__ = ("agent", "summary", "timestamps", "mean", "lower", "upper", "notes", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    summary: ForecastSummary
    timestamps: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    mean: _containers.RepeatedScalarFieldContainer[float]
    lower: _containers.RepeatedScalarFieldContainer[float]
    upper: _containers.RepeatedScalarFieldContainer[float]
    notes: _struct_pb2.Struct
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., summary: _Optional[_Union[ForecastSummary, _Mapping]] = ..., timestamps: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ..., mean: _Optional[_Iterable[float]] = ..., lower: _Optional[_Iterable[float]] = ..., upper: _Optional[_Iterable[float]] = ..., notes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListScalingEventsRequest(_message.Message):
    __slots__ = ("agent", "include_holds", "page_size", "page_token", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HOLDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    include_holds: bool
    page_size: int
    page_token: str
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., include_holds: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ListScalingEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ScalingEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[ScalingEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class LoadSample(_message.Message):
    __slots__ = ("time", "arrivals", "completions", "queue_depth", "in_flight", "service_time", "replicas")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ARRIVALS_FIELD_NUMBER: _ClassVar[int]
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TIME_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    arrivals: float
    completions: float
    queue_depth: float
    in_flight: float
    service_time: _duration_pb2.Duration
    replicas: float
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., arrivals: _Optional[float] = ..., completions: _Optional[float] = ..., queue_depth: _Optional[float] = ..., in_flight: _Optional[float] = ..., service_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., replicas: _Optional[float] = ...) -> None: ...

class GetLoadHistoryRequest(_message.Message):
    __slots__ = ("agent", "resolution", "start", "end", "page_size", "page_token", "namespace")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    agent: str
    resolution: LoadResolution
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    namespace: str
    def __init__(self, agent: _Optional[str] = ..., resolution: _Optional[_Union[LoadResolution, str]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class GetLoadHistoryResponse(_message.Message):
    __slots__ = ("samples", "interval", "next_page_token")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[LoadSample]
    interval: _duration_pb2.Duration
    next_page_token: str
    def __init__(self, samples: _Optional[_Iterable[_Union[LoadSample, _Mapping]]] = ..., interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
