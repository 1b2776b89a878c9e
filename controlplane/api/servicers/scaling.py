"""orchestrator.v1.ScalingService."""

from __future__ import annotations

import grpc

from controlplane.api.codec.agent_keys import request_key
from controlplane.api.codec.scaling import (
    LOAD_RESOLUTIONS,
    forecast_to_proto,
    get_policy_response,
    load_history_to_proto,
    scaling_event_to_proto,
    scaling_status_to_proto,
    set_policy_response,
)
from controlplane.api.codec.scaling_policies import scaling_policy_document_from_request
from controlplane.api.codec.wellknown import optional_seconds
from controlplane.api.gen.orchestrator.v1 import scaling_pb2, scaling_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.scaling.forecasts import ForecastWorker
from controlplane.engine.scaling.load_recorder import POOL_PREFIX
from controlplane.engine.scaling.loop import ScalingLoop
from controlplane.engine.scaling.policies import ScalingManager
from models.errors import invalid


class ScalingServicer(scaling_pb2_grpc.ScalingServiceServicer):
    def __init__(
        self, manager: ScalingManager, loop: ScalingLoop, forecasts: ForecastWorker
    ) -> None:
        self._manager = manager
        self._loop = loop
        self._forecasts = forecasts

    @unary
    async def SetScalingPolicy(
        self, request: scaling_pb2.SetScalingPolicyRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.SetScalingPolicyResponse:
        if not request.HasField("policy"):
            raise invalid("policy", "is required")
        view = await self._manager.set_policy(scaling_policy_document_from_request(request))
        return set_policy_response(view)

    @unary
    async def GetScalingPolicy(
        self, request: scaling_pb2.GetScalingPolicyRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetScalingPolicyResponse:
        key = request_key(request.namespace, request.agent, "agent")
        return get_policy_response(self._manager.get_policy(key))

    @unary
    async def DeleteScalingPolicy(
        self, request: scaling_pb2.DeleteScalingPolicyRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.DeleteScalingPolicyResponse:
        await self._manager.delete_policy(request_key(request.namespace, request.agent, "agent"))
        return scaling_pb2.DeleteScalingPolicyResponse()

    @unary
    async def GetScalingStatus(
        self, request: scaling_pb2.GetScalingStatusRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetScalingStatusResponse:
        key = request_key(request.namespace, request.agent, "agent")
        status = self._loop.status(key, request.decisions)
        return scaling_pb2.GetScalingStatusResponse(status=scaling_status_to_proto(status))

    @unary
    async def GetForecast(
        self, request: scaling_pb2.GetForecastRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetForecastResponse:
        horizon = optional_seconds(request, "horizon") or 0.0
        key = _agent_or_pool(request.namespace, request.agent)
        fitted = await self._forecasts.get(key, horizon, request.model, request.level)
        return forecast_to_proto(fitted)

    @unary
    async def ListScalingEvents(
        self, request: scaling_pb2.ListScalingEventsRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.ListScalingEventsResponse:
        key = request_key(request.namespace, request.agent, "agent")
        events, token = self._manager.list_events(
            key, request.include_holds, request.page_size, request.page_token
        )
        return scaling_pb2.ListScalingEventsResponse(
            events=[scaling_event_to_proto(e) for e in events], next_page_token=token
        )

    @unary
    async def GetLoadHistory(
        self, request: scaling_pb2.GetLoadHistoryRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetLoadHistoryResponse:
        page = self._manager.load_history(
            _agent_or_pool(request.namespace, request.agent),
            LOAD_RESOLUTIONS.from_proto(request.resolution, "resolution"),
            optional_seconds(request, "start"),
            optional_seconds(request, "end"),
            request.page_size,
            request.page_token,
        )
        return load_history_to_proto(page)


def _agent_or_pool(namespace: str, agent: str) -> str:
    """The key of the agent a request names, or "pool:<name>": a pool's load is the pool's,
    whichever namespace asks."""
    return agent if agent.startswith(POOL_PREFIX) else request_key(namespace, agent, "agent")
