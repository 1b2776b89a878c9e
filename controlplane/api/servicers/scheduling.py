"""orchestrator.v1.SchedulerService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from controlplane.api.codec.scheduling import plan_to_proto, scheduler_to_proto
from controlplane.api.codec.wellknown import optional_seconds
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
            schedulers=[scheduler_to_proto(s) for s in self._planner.schedulers()]
        )

    @unary
    async def Plan(
        self, request: scheduler_pb2.PlanRequest, context: Ctx
    ) -> scheduler_pb2.PlanResponse:
        time_limit = optional_seconds(request, "time_limit")
        if time_limit is None:
            time_limit = DEFAULT_TIME_LIMIT_S
        if request.namespace:
            if request.problem_json:
                raise invalid("problem_json", "give either problem_json or namespace, not both")
            return plan_to_proto(
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
        return plan_to_proto(plan)
