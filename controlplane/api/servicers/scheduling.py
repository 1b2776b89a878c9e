"""orchestrator.v1.SchedulerService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from controlplane.api import convert
from controlplane.api.gen.orchestrator.v1 import scheduler_pb2, scheduler_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.planning.planner import Planner
from models.errors import invalid

Ctx: TypeAlias = grpc.aio.ServicerContext
DEFAULT_TIME_LIMIT_S = 10.0


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServiceServicer):
    def __init__(self, planner: Planner) -> None:
        self._planner = planner

    @unary
    async def ListSchedulers(
        self, request: scheduler_pb2.ListSchedulersRequest, context: Ctx
    ) -> scheduler_pb2.ListSchedulersResponse:
        return scheduler_pb2.ListSchedulersResponse(
            schedulers=[
                scheduler_pb2.SchedulerInfo(name=name, kind=kind, description=description)
                for name, kind, description in self._planner.schedulers()
            ]
        )

    @unary
    async def Plan(
        self, request: scheduler_pb2.PlanRequest, context: Ctx
    ) -> scheduler_pb2.PlanResponse:
        time_limit = (
            request.time_limit.ToNanoseconds() / 1e9
            if request.HasField("time_limit")
            else DEFAULT_TIME_LIMIT_S
        )
        if request.namespace:
            if request.problem_json:
                raise invalid("problem_json", "give either problem_json or namespace, not both")
            return convert.plan_to_proto(
                await self._planner.plan_namespace(
                    request.namespace, request.scheduler, time_limit, request.adopt
                )
            )
        if request.adopt:
            raise invalid("adopt", "only a namespace plan can be adopted")
        plan = await self._planner.plan(
            request.problem_json,
            request.scheduler,
            time_limit,
            request.seed,
            request.workers or 1,
        )
        return convert.plan_to_proto(plan)
