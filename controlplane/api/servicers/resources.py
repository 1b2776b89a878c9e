"""orchestrator.v1.ResourceService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from controlplane.api.caller import current_caller
from controlplane.api.codec.resources import (
    amounts_from_proto,
    cluster_to_proto,
    pool_spec_from_proto,
    pool_to_proto,
    quota_from_proto,
    quota_to_proto,
    reservation_to_proto,
)
from controlplane.api.codec.wellknown import duration_seconds, optional_seconds
from controlplane.api.gen.orchestrator.v1 import resource_pb2, resource_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.pools import PoolService
from controlplane.engine.capacity.quotas import QuotaService
from controlplane.engine.capacity.reservations import ReservationService
from controlplane.engine.dispatch.usage import UsageReport
from controlplane.engine.planning.planner import scheduler_violations
from models.errors import InvalidArgument, invalid
from scheduler.cluster import total_capacity

Ctx: TypeAlias = grpc.aio.ServicerContext


class ResourceServicer(resource_pb2_grpc.ResourceServiceServicer):
    def __init__(
        self,
        cluster: ClusterObserver,
        pools: PoolService,
        quotas: QuotaService,
        reservations: ReservationService,
        usage: UsageReport,
    ) -> None:
        self._cluster = cluster
        self._pools = pools
        self._quotas = quotas
        self._reservations = reservations
        self._usage = usage

    @unary
    async def CreatePool(
        self, request: resource_pb2.CreatePoolRequest, context: Ctx
    ) -> resource_pb2.CreatePoolResponse:
        if not request.HasField("pool"):
            raise invalid("pool", "is required")
        view = await self._pools.create_pool(pool_spec_from_proto(request.pool))
        return resource_pb2.CreatePoolResponse(pool=pool_to_proto(view.info()))

    @unary
    async def GetPool(
        self, request: resource_pb2.GetPoolRequest, context: Ctx
    ) -> resource_pb2.GetPoolResponse:
        view = await self._pools.get_pool(request.name)
        return resource_pb2.GetPoolResponse(pool=pool_to_proto(view.info()))

    @unary
    async def ListPools(
        self, request: resource_pb2.ListPoolsRequest, context: Ctx
    ) -> resource_pb2.ListPoolsResponse:
        views, token = await self._pools.list_pools(request.page_size, request.page_token)
        return resource_pb2.ListPoolsResponse(
            pools=[pool_to_proto(v.info()) for v in views], next_page_token=token
        )

    @unary
    async def UpdatePool(
        self, request: resource_pb2.UpdatePoolRequest, context: Ctx
    ) -> resource_pb2.UpdatePoolResponse:
        if not request.HasField("pool"):
            raise invalid("pool", "is required")
        view = await self._pools.update_pool(pool_spec_from_proto(request.pool))
        return resource_pb2.UpdatePoolResponse(pool=pool_to_proto(view.info()))

    @unary
    async def DeletePool(
        self, request: resource_pb2.DeletePoolRequest, context: Ctx
    ) -> resource_pb2.DeletePoolResponse:
        await self._pools.delete_pool(request.name)
        return resource_pb2.DeletePoolResponse()

    @unary
    async def GetClusterState(
        self, request: resource_pb2.GetClusterStateRequest, context: Ctx
    ) -> resource_pb2.GetClusterStateResponse:
        view = await self._cluster.cluster_state()
        capacity = total_capacity(n for n in view.nodes if n.alive)
        # A caller sees the usage of the namespaces it holds a role in (all: on `*`).
        caller = current_caller(context.peer())
        namespaces = [
            usage
            for usage in self._usage.namespaces(capacity)
            if caller.role_in(usage.namespace) is not None
        ]
        return cluster_to_proto(view.usage(namespaces))

    @unary
    async def SetQuota(
        self, request: resource_pb2.SetQuotaRequest, context: Ctx
    ) -> resource_pb2.SetQuotaResponse:
        if not request.HasField("quota"):
            raise invalid("quota", "is required")
        if request.quota.weight < 0:
            raise invalid("quota.weight", "must not be negative")
        if request.quota.plan_interval.ToNanoseconds() < 0:
            raise invalid("quota.plan_interval", "must not be negative")
        wanted = quota_from_proto(request.quota)
        problems = scheduler_violations(wanted)
        if problems:
            raise InvalidArgument("invalid namespace scheduling settings", problems)
        policy = await self._quotas.set_quota(wanted)
        return resource_pb2.SetQuotaResponse(quota=quota_to_proto(policy))

    @unary
    async def GetQuota(
        self, request: resource_pb2.GetQuotaRequest, context: Ctx
    ) -> resource_pb2.GetQuotaResponse:
        policy = self._quotas.get_quota(request.namespace)
        return resource_pb2.GetQuotaResponse(quota=quota_to_proto(policy))

    @unary
    async def Reserve(
        self, request: resource_pb2.ReserveRequest, context: Ctx
    ) -> resource_pb2.ReserveResponse:
        reservation = await self._reservations.reserve(
            namespace=request.namespace,
            pool=request.pool,
            resources=amounts_from_proto(request.resources),
            start_time=optional_seconds(request, "start_time"),
            duration_s=duration_seconds(request.duration),
            request_id=request.request_id,
        )
        return resource_pb2.ReserveResponse(reservation=reservation_to_proto(reservation))

    @unary
    async def GetReservation(
        self, request: resource_pb2.GetReservationRequest, context: Ctx
    ) -> resource_pb2.GetReservationResponse:
        reservation = self._reservations.get_reservation(request.reservation_id)
        return resource_pb2.GetReservationResponse(reservation=reservation_to_proto(reservation))

    @unary
    async def CancelReservation(
        self, request: resource_pb2.CancelReservationRequest, context: Ctx
    ) -> resource_pb2.CancelReservationResponse:
        reservation = await self._reservations.cancel_reservation(request.reservation_id)
        return resource_pb2.CancelReservationResponse(reservation=reservation_to_proto(reservation))
