"""The capacity calls of the API as data (pools, quotas, the cluster, reservations): see
calls.py."""

from __future__ import annotations

from controlplane.api.client.calls import Call, Page, Paged, nothing
from controlplane.api.codec.resources import (
    PLACEMENT_STRATEGIES,
    amounts_to_proto,
    cluster_from_proto,
    pool_from_proto,
    pool_spec_to_proto,
    quota_from_proto,
    quota_to_proto,
    reservation_from_proto,
)
from controlplane.api.codec.wellknown import duration, timestamp
from controlplane.api.gen.orchestrator.v1 import resource_pb2
from models.capacity import ClusterUsage, PoolInfo, PoolSpec, Reservation
from models.queueing import NamespacePolicy
from models.resources import PlacementStrategy, ResourceAmounts


def create_pool(spec: PoolSpec) -> Call[PoolInfo]:
    request = resource_pb2.CreatePoolRequest(pool=pool_spec_to_proto(spec))
    return Call("resources.CreatePool", request, lambda r: pool_from_proto(r.pool))


def get_pool(name: str) -> Call[PoolInfo]:
    request = resource_pb2.GetPoolRequest(name=name)
    return Call("resources.GetPool", request, lambda r: pool_from_proto(r.pool))


def list_pools(page_size: int) -> Paged[PoolInfo]:
    def page(token: str) -> Call[Page[PoolInfo]]:
        request = resource_pb2.ListPoolsRequest(page_size=page_size, page_token=token)
        return Call(
            "resources.ListPools",
            request,
            lambda r: Page([pool_from_proto(p) for p in r.pools], r.next_page_token),
        )

    return page


def update_pool(spec: PoolSpec) -> Call[PoolInfo]:
    request = resource_pb2.UpdatePoolRequest(pool=pool_spec_to_proto(spec))
    return Call("resources.UpdatePool", request, lambda r: pool_from_proto(r.pool))


def delete_pool(name: str) -> Call[None]:
    return Call("resources.DeletePool", resource_pb2.DeletePoolRequest(name=name), nothing)


def cluster_state() -> Call[ClusterUsage]:
    request = resource_pb2.GetClusterStateRequest()
    return Call("resources.GetClusterState", request, cluster_from_proto)


def set_quota(policy: NamespacePolicy) -> Call[NamespacePolicy]:
    request = resource_pb2.SetQuotaRequest(quota=quota_to_proto(policy))
    return Call("resources.SetQuota", request, lambda r: quota_from_proto(r.quota))


def get_quota(namespace: str) -> Call[NamespacePolicy]:
    request = resource_pb2.GetQuotaRequest(namespace=namespace)
    return Call("resources.GetQuota", request, lambda r: quota_from_proto(r.quota))


# -- reservations -----------------------------------------------------------------------------


def reserve(
    namespace: str,
    pool: str,
    resources: ResourceAmounts,
    duration_s: float,
    start_time: float | None,
    strategy: PlacementStrategy | None,
    request_id: str,
) -> Call[Reservation]:
    request = resource_pb2.ReserveRequest(
        namespace=namespace,
        pool=pool,
        resources=amounts_to_proto(resources),
        start_time=timestamp(start_time),
        duration=duration(duration_s),
        strategy=(
            PLACEMENT_STRATEGIES.to_proto(strategy)
            if strategy is not None
            else resource_pb2.PLACEMENT_STRATEGY_UNSPECIFIED
        ),
        request_id=request_id,
    )
    return Call(
        "resources.Reserve",
        request,
        lambda r: reservation_from_proto(r.reservation),
        request_id=request_id,
    )


def get_reservation(reservation_id: str) -> Call[Reservation]:
    request = resource_pb2.GetReservationRequest(reservation_id=reservation_id)
    return Call(
        "resources.GetReservation", request, lambda r: reservation_from_proto(r.reservation)
    )


def cancel_reservation(reservation_id: str) -> Call[Reservation]:
    request = resource_pb2.CancelReservationRequest(reservation_id=reservation_id)
    return Call(
        "resources.CancelReservation", request, lambda r: reservation_from_proto(r.reservation)
    )


# -- schedulers -------------------------------------------------------------------------------
