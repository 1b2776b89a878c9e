"""orchestrator.v1.ScheduleService. Every request names its namespace (`request_namespace`);
the manager answers a schedule of another namespace as NotFound."""

from __future__ import annotations

import dataclasses
from typing import TypeAlias

import grpc

from controlplane.api.codec.schedules import schedule_spec_from_proto, schedule_to_proto
from controlplane.api.gen.orchestrator.v1 import schedule_pb2, schedule_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.schedules.manager import ScheduleManager
from models.errors import invalid
from models.namespaces import request_namespace

Ctx: TypeAlias = grpc.aio.ServicerContext


class ScheduleServicer(schedule_pb2_grpc.ScheduleServiceServicer):
    def __init__(self, schedules: ScheduleManager) -> None:
        self._schedules = schedules

    @unary
    async def CreateSchedule(
        self, request: schedule_pb2.CreateScheduleRequest, context: Ctx
    ) -> schedule_pb2.CreateScheduleResponse:
        if not request.HasField("schedule"):
            raise invalid("schedule", "is required")
        namespace = request_namespace(request.namespace)
        spec = schedule_spec_from_proto(request.schedule, "schedule")
        if spec.namespace not in ("", namespace):
            # The request's namespace is the one a caller is authorised in.
            raise invalid("schedule.namespace", f"must be empty or {namespace!r}, the request's")
        spec = dataclasses.replace(spec, namespace=namespace)
        schedule, created = await self._schedules.create(spec)
        return schedule_pb2.CreateScheduleResponse(
            schedule=schedule_to_proto(schedule), created=created
        )

    @unary
    async def GetSchedule(
        self, request: schedule_pb2.GetScheduleRequest, context: Ctx
    ) -> schedule_pb2.GetScheduleResponse:
        schedule = self._schedules.get(request.name, namespace=request_namespace(request.namespace))
        return schedule_pb2.GetScheduleResponse(schedule=schedule_to_proto(schedule))

    @unary
    async def ListSchedules(
        self, request: schedule_pb2.ListSchedulesRequest, context: Ctx
    ) -> schedule_pb2.ListSchedulesResponse:
        namespace = request_namespace(request.namespace, allow_all=True)
        schedules, token = self._schedules.list(
            request.page_size, request.page_token, namespace=namespace
        )
        return schedule_pb2.ListSchedulesResponse(
            schedules=[schedule_to_proto(s) for s in schedules], next_page_token=token
        )

    @unary
    async def PauseSchedule(
        self, request: schedule_pb2.PauseScheduleRequest, context: Ctx
    ) -> schedule_pb2.PauseScheduleResponse:
        namespace = request_namespace(request.namespace)
        schedule = await self._schedules.pause(request.name, namespace=namespace)
        return schedule_pb2.PauseScheduleResponse(schedule=schedule_to_proto(schedule))

    @unary
    async def ResumeSchedule(
        self, request: schedule_pb2.ResumeScheduleRequest, context: Ctx
    ) -> schedule_pb2.ResumeScheduleResponse:
        namespace = request_namespace(request.namespace)
        schedule = await self._schedules.resume(request.name, namespace=namespace)
        return schedule_pb2.ResumeScheduleResponse(schedule=schedule_to_proto(schedule))

    @unary
    async def DeleteSchedule(
        self, request: schedule_pb2.DeleteScheduleRequest, context: Ctx
    ) -> schedule_pb2.DeleteScheduleResponse:
        await self._schedules.delete(request.name, namespace=request_namespace(request.namespace))
        return schedule_pb2.DeleteScheduleResponse()
