"""orchestrator.v1.ScalingService messages <-> models.scaling, models.forecasting and
models.load (the policy itself: `scaling_policies`)."""

from __future__ import annotations

from controlplane.api.codec.agent_keys import key_from_wire, key_to_wire
from controlplane.api.codec.enums import EnumTable
from controlplane.api.codec.scaling_policies import (
    scaling_policy_from_proto,
    scaling_policy_to_proto,
)
from controlplane.api.codec.wellknown import (
    dict_to_struct,
    duration,
    duration_seconds,
    instant,
    optional_seconds,
    seconds,
    struct_to_dict,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import scaling_pb2
from models.forecasting import FittedForecast, Forecast, ScalingDecision
from models.load import HOUR, MINUTE, RAW, LoadHistoryPage, LoadSample
from models.scaling import PolicyView, ScalingEvent, ScalingStatus

# `models.load` codes a resolution as the seconds of its bucket (RAW: 0).
LOAD_RESOLUTIONS: EnumTable[scaling_pb2.LoadResolution, int] = EnumTable(
    scaling_pb2.LoadResolution,
    {
        scaling_pb2.LOAD_RESOLUTION_RAW: RAW,
        scaling_pb2.LOAD_RESOLUTION_MINUTE: MINUTE,
        scaling_pb2.LOAD_RESOLUTION_HOUR: HOUR,
    },
    unspecified=RAW,
)
# `ScalingEvent.action`: derived from the decision, so it is only ever encoded.
SCALING_ACTIONS: EnumTable[scaling_pb2.ScalingAction, str] = EnumTable(
    scaling_pb2.ScalingAction,
    {
        scaling_pb2.SCALING_ACTION_HOLD: "hold",
        scaling_pb2.SCALING_ACTION_SCALE_OUT: "scale_out",
        scaling_pb2.SCALING_ACTION_SCALE_IN: "scale_in",
    },
)

PolicyResponse = scaling_pb2.SetScalingPolicyResponse | scaling_pb2.GetScalingPolicyResponse


# -- policies ---------------------------------------------------------------------------------


def set_policy_response(view: PolicyView) -> scaling_pb2.SetScalingPolicyResponse:
    return scaling_pb2.SetScalingPolicyResponse(
        policy=scaling_policy_to_proto(view.policy),
        create_time=timestamp(view.create_time),
        update_time=timestamp(view.update_time),
    )


def get_policy_response(view: PolicyView) -> scaling_pb2.GetScalingPolicyResponse:
    return scaling_pb2.GetScalingPolicyResponse(
        policy=scaling_policy_to_proto(view.policy),
        create_time=timestamp(view.create_time),
        update_time=timestamp(view.update_time),
    )


def policy_view_from_proto(response: PolicyResponse) -> PolicyView:
    return PolicyView(
        policy=scaling_policy_from_proto(response.policy),
        create_time=seconds(response.create_time),
        update_time=seconds(response.update_time),
    )


# -- decisions --------------------------------------------------------------------------------


def scaling_event_to_proto(event: ScalingEvent) -> scaling_pb2.ScalingEvent:
    d = event.decision
    return scaling_pb2.ScalingEvent(
        event_id=event.event_id,
        namespace=key_to_wire(d.agent)[0],
        agent=key_to_wire(d.agent)[1],
        time=timestamp(d.time),
        current=d.current,
        desired=d.desired,
        action=SCALING_ACTIONS.to_proto(event.action),
        policy=d.policy,
        reason=d.reason,
        inputs=dict_to_struct(d.inputs),
        error=event.error,
    )


def scaling_event_from_proto(message: scaling_pb2.ScalingEvent) -> ScalingEvent:
    return ScalingEvent(
        event_id=message.event_id,
        decision=ScalingDecision(
            agent=key_from_wire(message.namespace, message.agent),
            time=seconds(message.time),
            current=message.current,
            desired=message.desired,
            policy=message.policy,
            reason=message.reason,
            inputs=struct_to_dict(message.inputs),
        ),
        error=message.error,
    )


# -- forecasts --------------------------------------------------------------------------------


def forecast_summary_to_proto(fitted: FittedForecast) -> scaling_pb2.ForecastSummary:
    f = fitted.forecast
    return scaling_pb2.ForecastSummary(
        model=f.model,
        period=f.period or 0,
        step=duration(fitted.step_s),
        level=f.level,
        fit_time=timestamp(fitted.fit_time),
        fit_duration=duration(fitted.fit_duration_s),
        history_points=fitted.history_points,
        history_end=timestamp(fitted.history_end),
        requested_model=fitted.requested_model,
    )


def _fitted(agent: str, summary: scaling_pb2.ForecastSummary, forecast: Forecast) -> FittedForecast:
    return FittedForecast(
        agent=agent,
        forecast=forecast,
        requested_model=summary.requested_model,
        step_s=duration_seconds(summary.step),
        fit_time=seconds(summary.fit_time),
        fit_duration_s=duration_seconds(summary.fit_duration),
        history_points=summary.history_points,
        history_end=seconds(summary.history_end),
    )


def forecast_to_proto(fitted: FittedForecast) -> scaling_pb2.GetForecastResponse:
    f = fitted.forecast
    return scaling_pb2.GetForecastResponse(
        namespace=key_to_wire(fitted.agent)[0],
        agent=key_to_wire(fitted.agent)[1],
        summary=forecast_summary_to_proto(fitted),
        timestamps=[instant(t) for t in f.timestamps],
        mean=list(f.mean),
        lower=list(f.lower),
        upper=list(f.upper),
        notes=dict_to_struct(f.notes),
    )


def forecast_from_proto(message: scaling_pb2.GetForecastResponse) -> FittedForecast:
    s = message.summary
    forecast = Forecast(
        model=s.model,
        period=s.period or None,
        timestamps=tuple(seconds(t) for t in message.timestamps),
        mean=tuple(message.mean),
        lower=tuple(message.lower),
        upper=tuple(message.upper),
        level=s.level,
        notes=struct_to_dict(message.notes),
    )
    return _fitted(key_from_wire(message.namespace, message.agent), s, forecast)


# -- status -----------------------------------------------------------------------------------


def scaling_status_to_proto(status: ScalingStatus) -> scaling_pb2.ScalingStatus:
    """The forecast travels as its summary (the series: GetForecast)."""
    return scaling_pb2.ScalingStatus(
        namespace=key_to_wire(status.agent)[0],
        agent=key_to_wire(status.agent)[1],
        has_policy=status.has_policy,
        current=status.current,
        ready=status.ready,
        desired=status.desired,
        last_decision_time=timestamp(status.last_decision_time),
        decisions=[scaling_event_to_proto(e) for e in status.decisions],
        forecast=forecast_summary_to_proto(status.forecast) if status.forecast else None,
        forecast_error=status.forecast_error,
        actuation_error=status.actuation_error,
        evaluation_period=duration(status.evaluation_period_s),
    )


def scaling_status_from_proto(message: scaling_pb2.ScalingStatus) -> ScalingStatus:
    agent = key_from_wire(message.namespace, message.agent)
    fitted = None
    if message.HasField("forecast"):
        s = message.forecast
        summary_only = Forecast(s.model, s.period or None, (), (), (), (), s.level)
        fitted = _fitted(agent, s, summary_only)
    return ScalingStatus(
        agent=agent,
        has_policy=message.has_policy,
        current=message.current,
        ready=message.ready,
        desired=message.desired,
        last_decision_time=optional_seconds(message, "last_decision_time"),
        decisions=[scaling_event_from_proto(e) for e in message.decisions],
        forecast=fitted,
        forecast_error=message.forecast_error,
        actuation_error=message.actuation_error,
        evaluation_period_s=duration_seconds(message.evaluation_period),
    )


# -- load history -----------------------------------------------------------------------------


def load_sample_to_proto(sample: LoadSample) -> scaling_pb2.LoadSample:
    return scaling_pb2.LoadSample(
        time=timestamp(sample.time),
        arrivals=sample.arrivals,
        completions=sample.completions,
        queue_depth=sample.queue_depth,
        in_flight=sample.in_flight,
        service_time=duration(sample.service_time_s),
        replicas=sample.replicas,
    )


def load_sample_from_proto(
    message: scaling_pb2.LoadSample, agent: str, resolution: int
) -> LoadSample:
    """A sample of the history of `agent` at `resolution` (the request says both)."""
    return LoadSample(
        agent=agent,
        time=seconds(message.time),
        resolution=resolution,
        arrivals=message.arrivals,
        completions=message.completions,
        queue_depth=message.queue_depth,
        in_flight=message.in_flight,
        service_time_s=duration_seconds(message.service_time),
        replicas=message.replicas,
    )


def load_history_to_proto(page: LoadHistoryPage) -> scaling_pb2.GetLoadHistoryResponse:
    return scaling_pb2.GetLoadHistoryResponse(
        samples=[load_sample_to_proto(s) for s in page.samples],
        interval=duration(page.interval_s),
        next_page_token=page.next_page_token,
    )


def load_history_from_proto(
    message: scaling_pb2.GetLoadHistoryResponse, agent: str, resolution: int
) -> LoadHistoryPage:
    return LoadHistoryPage(
        samples=[load_sample_from_proto(s, agent, resolution) for s in message.samples],
        interval_s=duration_seconds(message.interval),
        next_page_token=message.next_page_token,
    )
