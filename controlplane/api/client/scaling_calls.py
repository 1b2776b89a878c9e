"""The ScalingService's unary calls as data (see `calls`): each names its agent in the client's
namespace, or by the key a response carried."""

from __future__ import annotations

from controlplane.api.client.calls import (
    FORECAST_FIT_S,
    Call,
    Page,
    Paged,
    agent_ref,
    nothing,
)
from controlplane.api.codec.agent_keys import key_from_wire
from controlplane.api.codec.scaling import (
    LOAD_RESOLUTIONS,
    forecast_from_proto,
    load_history_from_proto,
    policy_view_from_proto,
    scaling_event_from_proto,
    scaling_status_from_proto,
)
from controlplane.api.codec.scaling_policies import scaling_policy_to_proto
from controlplane.api.codec.wellknown import duration, timestamp
from controlplane.api.gen.orchestrator.v1 import scaling_pb2
from models.forecasting import FittedForecast
from models.load import LoadSample
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy, ScalingStatus


def set_scaling_policy(namespace: str, policy: ScalingPolicy) -> Call[PolicyView]:
    namespace, agent = agent_ref(namespace, policy.agent)
    message = scaling_policy_to_proto(policy)
    message.namespace, message.agent = namespace, agent
    request = scaling_pb2.SetScalingPolicyRequest(namespace=namespace, policy=message)
    return Call("scaling.SetScalingPolicy", request, policy_view_from_proto)


def get_scaling_policy(namespace: str, agent: str) -> Call[PolicyView]:
    namespace, agent = agent_ref(namespace, agent)
    request = scaling_pb2.GetScalingPolicyRequest(namespace=namespace, agent=agent)
    return Call("scaling.GetScalingPolicy", request, policy_view_from_proto)


def delete_scaling_policy(namespace: str, agent: str) -> Call[None]:
    namespace, agent = agent_ref(namespace, agent)
    request = scaling_pb2.DeleteScalingPolicyRequest(namespace=namespace, agent=agent)
    return Call("scaling.DeleteScalingPolicy", request, nothing)


def get_scaling_status(namespace: str, agent: str, decisions: int) -> Call[ScalingStatus]:
    namespace, agent = agent_ref(namespace, agent)
    request = scaling_pb2.GetScalingStatusRequest(
        namespace=namespace, agent=agent, decisions=decisions
    )
    return Call("scaling.GetScalingStatus", request, lambda r: scaling_status_from_proto(r.status))


def get_forecast(
    namespace: str, agent: str, horizon_s: float, model: str, level: float
) -> Call[FittedForecast]:
    """When the server has no forecast fitted for this model and level yet, it fits one
    first: the deadline allows for that."""
    namespace, agent = agent_ref(namespace, agent)
    request = scaling_pb2.GetForecastRequest(
        namespace=namespace, agent=agent, model=model, level=level
    )
    if horizon_s:
        request.horizon.CopyFrom(duration(horizon_s))
    return Call("scaling.GetForecast", request, forecast_from_proto, extra_s=FORECAST_FIT_S)


def list_scaling_events(
    namespace: str, agent: str, include_holds: bool, page_size: int
) -> Paged[ScalingEvent]:
    namespace, agent = agent_ref(namespace, agent)

    def page(token: str) -> Call[Page[ScalingEvent]]:
        request = scaling_pb2.ListScalingEventsRequest(
            namespace=namespace,
            agent=agent,
            include_holds=include_holds,
            page_size=page_size,
            page_token=token,
        )
        return Call(
            "scaling.ListScalingEvents",
            request,
            lambda r: Page([scaling_event_from_proto(e) for e in r.events], r.next_page_token),
        )

    return page


def get_load_history(
    namespace: str,
    agent: str,
    resolution: int,
    start: float | None,
    end: float | None,
    page_size: int,
) -> Paged[LoadSample]:
    """`agent` "pool:<name>": the summed load of a pool's agents (of every namespace)."""
    pool = agent.startswith("pool:")
    namespace, agent = (namespace, agent) if pool else agent_ref(namespace, agent)
    key = agent if pool else key_from_wire(namespace, agent)

    def page(token: str) -> Call[Page[LoadSample]]:
        request = scaling_pb2.GetLoadHistoryRequest(
            namespace=namespace,
            agent=agent,
            resolution=LOAD_RESOLUTIONS.to_proto(resolution),
            start=timestamp(start),
            end=timestamp(end),
            page_size=page_size,
            page_token=token,
        )

        def decode(response: scaling_pb2.GetLoadHistoryResponse) -> Page[LoadSample]:
            history = load_history_from_proto(response, key, resolution)
            return Page(list(history.samples), history.next_page_token)

        return Call("scaling.GetLoadHistory", request, decode)

    return page
