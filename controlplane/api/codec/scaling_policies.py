"""orchestrator.v1.ScalingPolicy <-> models.scaling.ScalingPolicy, and the policy document the
engine validates (see `models.scaling_documents`).

The servicer hands the engine the document of the fields a request sets, so that the engine
names every problem at its path and fills in the defaults; the client reads the policy the
server answers (every field set) straight into the dataclasses.
"""

from __future__ import annotations

from typing import Any

from controlplane.api.codec.agent_keys import (
    check_own_namespace,
    key_from_wire,
    key_to_wire,
    request_key,
)
from controlplane.api.codec.enums import EnumTable
from controlplane.api.codec.wellknown import duration, optional_seconds
from controlplane.api.gen.orchestrator.v1 import scaling_pb2
from models.scaling import (
    PredictiveScaling,
    ScaleLimit,
    ScalingPolicy,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)

ADJUSTMENT_TYPES: EnumTable[scaling_pb2.AdjustmentType, str] = EnumTable(
    scaling_pb2.AdjustmentType,
    {
        scaling_pb2.ADJUSTMENT_TYPE_CHANGE: "change",
        scaling_pb2.ADJUSTMENT_TYPE_PERCENT: "percent",
        scaling_pb2.ADJUSTMENT_TYPE_EXACT: "exact",
    },
    unspecified="change",
)
FORECAST_BOUNDS: EnumTable[scaling_pb2.ForecastBound, str] = EnumTable(
    scaling_pb2.ForecastBound,
    {scaling_pb2.FORECAST_BOUND_UPPER: "upper", scaling_pb2.FORECAST_BOUND_MEAN: "mean"},
    unspecified="upper",
)


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


# -- model -> proto ---------------------------------------------------------------------------


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
        adjustment_type=ADJUSTMENT_TYPES.to_proto(s.adjustment_type),
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
        bound=FORECAST_BOUNDS.to_proto(p.bound),
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
    namespace, agent = key_to_wire(policy.agent)
    message = scaling_pb2.ScalingPolicy(
        namespace=namespace,
        agent=agent,
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


# -- proto -> model (the server's answer: every field set) ------------------------------------


def _limit_from_proto(owner: scaling_pb2.ScalingPolicy, name: str) -> ScaleLimit:
    if not owner.HasField(name):
        return ScaleLimit()
    m = getattr(owner, name)
    return ScaleLimit(replicas=_optional(m, "replicas"), percent=_optional(m, "percent"))


def _target_tracking_from_proto(m: scaling_pb2.TargetTracking) -> TargetTracking:
    d = TargetTracking()
    return TargetTracking(
        metric=m.metric or d.metric,
        target=_or(_optional(m, "target"), d.target),
        tolerance=_or(_optional(m, "tolerance"), d.tolerance),
        scale_up_stabilization_s=_or(
            optional_seconds(m, "scale_up_stabilization"), d.scale_up_stabilization_s
        ),
        scale_down_stabilization_s=_or(
            optional_seconds(m, "scale_down_stabilization"), d.scale_down_stabilization_s
        ),
        name=m.name or d.name,
    )


def _step_scaling_from_proto(m: scaling_pb2.StepScaling, path: str) -> StepScaling:
    return StepScaling(
        metric=m.metric,
        steps=tuple(
            ScalingStep(s.adjustment, _optional(s, "lower"), _optional(s, "upper")) for s in m.steps
        ),
        adjustment_type=ADJUSTMENT_TYPES.from_proto(  # type: ignore[arg-type]
            m.adjustment_type, f"{path}.adjustment_type"
        ),
        min_adjustment_magnitude=_or(
            _optional(m, "min_adjustment_magnitude"), StepScaling.min_adjustment_magnitude
        ),
        name=m.name or StepScaling.name,
    )


def _scheduled_from_proto(m: scaling_pb2.ScheduledCapacity) -> ScheduledCapacity:
    return ScheduledCapacity(
        cron=m.cron,
        duration_s=_or(optional_seconds(m, "duration"), 0.0),
        replicas=m.replicas,
        name=m.name or ScheduledCapacity.name,
        utc_offset_s=_or(optional_seconds(m, "utc_offset"), ScheduledCapacity.utc_offset_s),
    )


def _predictive_from_proto(m: scaling_pb2.PredictiveScaling, path: str) -> PredictiveScaling:
    d = PredictiveScaling()
    return PredictiveScaling(
        target_utilization=_or(_optional(m, "target_utilization"), d.target_utilization),
        lead_time_s=_or(optional_seconds(m, "lead_time"), d.lead_time_s),
        level=_or(_optional(m, "level"), d.level),
        bound=FORECAST_BOUNDS.from_proto(m.bound, f"{path}.bound"),  # type: ignore[arg-type]
        service_time_s=optional_seconds(m, "service_time"),
        concurrency=_or(_optional(m, "concurrency"), d.concurrency),
        slo_wait_s=optional_seconds(m, "slo_wait"),
        max_violation=_or(_optional(m, "max_violation"), d.max_violation),
        name=m.name or d.name,
    )


def scaling_policy_from_proto(message: scaling_pb2.ScalingPolicy) -> ScalingPolicy:
    """The policy a server answered; a field it left unset takes the `models.scaling` default."""
    d = ScalingPolicy(agent=key_from_wire(message.namespace, message.agent))
    return ScalingPolicy(
        agent=d.agent,
        min_replicas=_or(_optional(message, "min_replicas"), d.min_replicas),
        max_replicas=_or(_optional(message, "max_replicas"), d.max_replicas),
        target_tracking=tuple(_target_tracking_from_proto(t) for t in message.target_tracking),
        step_scaling=tuple(
            _step_scaling_from_proto(s, f"policy.step_scaling[{i}]")
            for i, s in enumerate(message.step_scaling)
        ),
        scheduled=tuple(_scheduled_from_proto(s) for s in message.scheduled),
        predictive=(
            _predictive_from_proto(message.predictive, "policy.predictive")
            if message.HasField("predictive")
            else None
        ),
        scale_out_limit=_limit_from_proto(message, "scale_out_limit"),
        scale_in_limit=_limit_from_proto(message, "scale_in_limit"),
        scale_out_cooldown_s=_or(
            optional_seconds(message, "scale_out_cooldown"), d.scale_out_cooldown_s
        ),
        scale_in_cooldown_s=_or(
            optional_seconds(message, "scale_in_cooldown"), d.scale_in_cooldown_s
        ),
    )


# -- proto -> document (a request: only the fields it sets) -----------------------------------


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "":
        document[key] = value


def _target_tracking_document(m: scaling_pb2.TargetTracking) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "metric", m.metric)
    _put(d, "target", _optional(m, "target"))
    _put(d, "tolerance", _optional(m, "tolerance"))
    _put(d, "scale_up_stabilization_s", optional_seconds(m, "scale_up_stabilization"))
    _put(d, "scale_down_stabilization_s", optional_seconds(m, "scale_down_stabilization"))
    _put(d, "name", m.name)
    return d


def _step_scaling_document(m: scaling_pb2.StepScaling, path: str) -> dict[str, Any]:
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
    _put(d, "adjustment_type", ADJUSTMENT_TYPES.from_proto(m.adjustment_type, path))
    _put(d, "min_adjustment_magnitude", _optional(m, "min_adjustment_magnitude"))
    _put(d, "name", m.name)
    return d


def _scheduled_document(m: scaling_pb2.ScheduledCapacity) -> dict[str, Any]:
    d: dict[str, Any] = {"replicas": m.replicas}
    _put(d, "cron", m.cron)
    _put(d, "duration_s", optional_seconds(m, "duration"))
    _put(d, "utc_offset_s", optional_seconds(m, "utc_offset"))
    _put(d, "name", m.name)
    return d


def _predictive_document(m: scaling_pb2.PredictiveScaling) -> dict[str, Any]:
    d: dict[str, Any] = {}
    _put(d, "target_utilization", _optional(m, "target_utilization"))
    _put(d, "lead_time_s", optional_seconds(m, "lead_time"))
    _put(d, "level", _optional(m, "level"))
    _put(d, "bound", FORECAST_BOUNDS.from_proto(m.bound, "policy.predictive.bound"))
    _put(d, "service_time_s", optional_seconds(m, "service_time"))
    _put(d, "concurrency", _optional(m, "concurrency"))
    _put(d, "slo_wait_s", optional_seconds(m, "slo_wait"))
    _put(d, "max_violation", _optional(m, "max_violation"))
    _put(d, "name", m.name)
    return d


def _limit_document(m: scaling_pb2.ScaleLimit) -> dict[str, Any]:
    return {"replicas": _optional(m, "replicas"), "percent": _optional(m, "percent")}


def scaling_policy_document_from_proto(message: scaling_pb2.ScalingPolicy) -> dict[str, Any]:
    """The policy document of the fields a request sets; the engine validates it and fills in
    the defaults."""
    d: dict[str, Any] = {"agent": message.agent}
    _put(d, "min_replicas", _optional(message, "min_replicas"))
    _put(d, "max_replicas", _optional(message, "max_replicas"))
    if message.target_tracking:
        d["target_tracking"] = [_target_tracking_document(t) for t in message.target_tracking]
    if message.step_scaling:
        d["step_scaling"] = [
            _step_scaling_document(s, f"policy.step_scaling[{i}].adjustment_type")
            for i, s in enumerate(message.step_scaling)
        ]
    if message.scheduled:
        d["scheduled"] = [_scheduled_document(s) for s in message.scheduled]
    if message.HasField("predictive"):
        d["predictive"] = _predictive_document(message.predictive)
    if message.HasField("scale_out_limit"):
        d["scale_out_limit"] = _limit_document(message.scale_out_limit)
    if message.HasField("scale_in_limit"):
        d["scale_in_limit"] = _limit_document(message.scale_in_limit)
    _put(d, "scale_out_cooldown_s", optional_seconds(message, "scale_out_cooldown"))
    _put(d, "scale_in_cooldown_s", optional_seconds(message, "scale_in_cooldown"))
    return d


def scaling_policy_document_from_request(
    request: scaling_pb2.SetScalingPolicyRequest,
) -> dict[str, Any]:
    """The policy document of a SetScalingPolicyRequest, its agent keyed in the request's
    namespace (the policy's own namespace, if given, must be that one)."""
    policy = request.policy
    key = request_key(request.namespace, policy.agent, "policy.agent")
    check_own_namespace(policy.namespace, request.namespace, "policy.namespace")
    return {**scaling_policy_document_from_proto(policy), "agent": key}
