"""orchestrator.v1.ScalingService."""

from __future__ import annotations

import grpc

from controlplane.api import convert
from controlplane.api.gen.orchestrator.v1 import scaling_pb2, scaling_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.scaling.forecasts import ForecastWorker
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
        view = await self._manager.set_policy(
            convert.scaling_policy_document_from_proto(request.policy)
        )
        return scaling_pb2.SetScalingPolicyResponse(
            policy=convert.scaling_policy_to_proto(view.policy),
            create_time=convert.timestamp(view.create_time),
            update_time=convert.timestamp(view.update_time),
        )

    @unary
    async def GetScalingPolicy(
        self, request: scaling_pb2.GetScalingPolicyRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetScalingPolicyResponse:
        view = self._manager.get_policy(request.agent)
        return scaling_pb2.GetScalingPolicyResponse(
            policy=convert.scaling_policy_to_proto(view.policy),
            create_time=convert.timestamp(view.create_time),
            update_time=convert.timestamp(view.update_time),
        )

    @unary
    async def DeleteScalingPolicy(
        self, request: scaling_pb2.DeleteScalingPolicyRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.DeleteScalingPolicyResponse:
        await self._manager.delete_policy(request.agent)
        return scaling_pb2.DeleteScalingPolicyResponse()

    @unary
    async def GetScalingStatus(
        self, request: scaling_pb2.GetScalingStatusRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetScalingStatusResponse:
        status = self._loop.status(request.agent, request.decisions)
        return scaling_pb2.GetScalingStatusResponse(status=convert.scaling_status_to_proto(status))

    @unary
    async def GetForecast(
        self, request: scaling_pb2.GetForecastRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetForecastResponse:
        horizon = request.horizon.ToNanoseconds() / 1e9 if request.HasField("horizon") else 0.0
        fitted = await self._forecasts.get(request.agent, horizon, request.model, request.level)
        return convert.forecast_to_proto(request.agent, fitted)

    @unary
    async def ListScalingEvents(
        self, request: scaling_pb2.ListScalingEventsRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.ListScalingEventsResponse:
        events, token = self._manager.list_events(
            request.agent, request.include_holds, request.page_size, request.page_token
        )
        return scaling_pb2.ListScalingEventsResponse(
            events=[convert.scaling_event_to_proto(e) for e in events], next_page_token=token
        )

    @unary
    async def GetLoadHistory(
        self, request: scaling_pb2.GetLoadHistoryRequest, context: grpc.aio.ServicerContext
    ) -> scaling_pb2.GetLoadHistoryResponse:
        page = self._manager.load_history(
            request.agent,
            convert.load_resolution_from_proto(request.resolution),
            convert.seconds(request.start) if request.HasField("start") else None,
            convert.seconds(request.end) if request.HasField("end") else None,
            request.page_size,
            request.page_token,
        )
        return scaling_pb2.GetLoadHistoryResponse(
            samples=[convert.load_sample_to_proto(s) for s in page.samples],
            interval=convert.duration(page.interval_s),
            next_page_token=page.next_page_token,
        )
