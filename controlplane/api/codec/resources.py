"""orchestrator.v1.ResourceService messages <-> models.capacity, models.queueing and
models.resources."""

from __future__ import annotations

from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.wellknown import (
    duration,
    duration_seconds,
    optional_seconds,
    seconds,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import resource_pb2
from models.capacity import (
    ClusterUsage,
    NodeUsage,
    PoolInfo,
    PoolRecord,
    PoolRepairPhase,
    PoolRepairStatus,
    PoolSpec,
    PoolUsage,
    Reservation,
    ReservationState,
)
from models.queueing import Backpressure, NamespacePolicy, NamespaceUsage, Quota
from models.resources import (
    NodeInfo,
    NodeSelector,
    PlacementStrategy,
    RealizationState,
    ResourceAmounts,
)

# A request that names no strategy gets Ray's default, PACK.
PLACEMENT_STRATEGIES = matching_table(
    resource_pb2.PlacementStrategy, PlacementStrategy, unspecified=PlacementStrategy.PACK
)
# A quota that names no backpressure queues (the NamespacePolicy default).
BACKPRESSURES = matching_table(
    resource_pb2.Backpressure, Backpressure, unspecified=Backpressure.QUEUE
)
RESERVATION_STATES = matching_table(resource_pb2.ReservationState, ReservationState)
REALIZATION_STATES = matching_table(resource_pb2.RealizationState, RealizationState)
REPAIR_PHASES = matching_table(resource_pb2.PoolRepair.Phase, PoolRepairPhase)

# Quota fields whose zero value means "not given" and reads as the NamespacePolicy default.
DEFAULT_WEIGHT = 1.0
DEFAULT_PLACEMENT_POLICY = "best-fit"
DEFAULT_PLAN_INTERVAL_S = 5.0


def amounts_to_proto(amounts: ResourceAmounts) -> resource_pb2.ResourceAmounts:
    return resource_pb2.ResourceAmounts(
        cpu=amounts.cpu, memory=amounts.memory, gpu=amounts.gpu, custom=dict(amounts.custom)
    )


def amounts_from_proto(message: resource_pb2.ResourceAmounts) -> ResourceAmounts:
    return ResourceAmounts(
        cpu=message.cpu, memory=message.memory, gpu=message.gpu, custom=dict(message.custom)
    )


# -- pools ------------------------------------------------------------------------------------


def pool_spec_to_proto(spec: PoolSpec) -> resource_pb2.PoolSpec:
    message = resource_pb2.PoolSpec(
        name=spec.name,
        selector=resource_pb2.NodeSelector(
            labels=dict(spec.selector.labels),
            custom_resources=list(spec.selector.custom_resources),
            node_ids=list(spec.selector.node_ids),
        ),
        strategy=PLACEMENT_STRATEGIES.to_proto(spec.strategy),
    )
    if spec.share is None:
        message.whole_nodes = True
    else:
        message.share.CopyFrom(amounts_to_proto(spec.share))
    return message


def pool_spec_from_proto(message: resource_pb2.PoolSpec) -> PoolSpec:
    selector = message.selector
    return PoolSpec(
        name=message.name,
        selector=NodeSelector(
            labels=dict(selector.labels),
            custom_resources=tuple(selector.custom_resources),
            node_ids=tuple(selector.node_ids),
        ),
        share=amounts_from_proto(message.share) if message.HasField("share") else None,
        strategy=PLACEMENT_STRATEGIES.from_proto(message.strategy, "pool.strategy"),
    )


def pool_repair_to_proto(repair: PoolRepairStatus) -> resource_pb2.PoolRepair:
    return resource_pb2.PoolRepair(
        phase=REPAIR_PHASES.to_proto(repair.phase),
        losses=repair.losses,
        lost_time=timestamp(repair.lost_time),
        failed_tries=repair.attempts,
        next_try_time=timestamp(repair.retry_time or None),
        message=repair.message,
    )


def pool_repair_from_proto(message: resource_pb2.PoolRepair) -> PoolRepairStatus:
    return PoolRepairStatus(
        phase=REPAIR_PHASES.from_proto(message.phase, "pool.repair.phase"),
        losses=message.losses,
        lost_time=seconds(message.lost_time),
        attempts=message.failed_tries,
        retry_time=optional_seconds(message, "next_try_time") or 0.0,
        message=message.message,
    )


def pool_to_proto(pool: PoolInfo) -> resource_pb2.Pool:
    return resource_pb2.Pool(
        spec=pool_spec_to_proto(pool.spec),
        node_ids=list(pool.node_ids),
        capacity=amounts_to_proto(pool.capacity),
        allocated=amounts_to_proto(pool.allocated),
        create_time=timestamp(pool.record.create_time),
        update_time=timestamp(pool.record.update_time),
        placement_group_id=pool.placement_group_id,
        realization=REALIZATION_STATES.to_proto(pool.state),
        message=pool.message,
        repair=pool_repair_to_proto(pool.repair) if pool.repair is not None else None,
    )


def pool_from_proto(message: resource_pb2.Pool) -> PoolInfo:
    return PoolInfo(
        record=PoolRecord(
            spec=pool_spec_from_proto(message.spec),
            create_time=seconds(message.create_time),
            update_time=seconds(message.update_time),
        ),
        node_ids=tuple(message.node_ids),
        capacity=amounts_from_proto(message.capacity),
        allocated=amounts_from_proto(message.allocated),
        state=REALIZATION_STATES.from_proto(message.realization, "pool.realization"),
        placement_group_id=message.placement_group_id,
        message=message.message,
        repair=pool_repair_from_proto(message.repair) if message.HasField("repair") else None,
    )


# -- cluster ----------------------------------------------------------------------------------


def node_to_proto(node: NodeUsage) -> resource_pb2.Node:
    info = node.info
    return resource_pb2.Node(
        node_id=info.node_id,
        address=info.address,
        alive=info.alive,
        labels=dict(info.labels),
        capacity=amounts_to_proto(info.capacity),
        allocated=amounts_to_proto(node.allocated),
        free=amounts_to_proto(info.free),
        pools=list(node.pools),
    )


def node_from_proto(message: resource_pb2.Node) -> NodeUsage:
    return NodeUsage(
        info=NodeInfo(
            node_id=message.node_id,
            address=message.address,
            alive=message.alive,
            labels=dict(message.labels),
            capacity=amounts_from_proto(message.capacity),
            free=amounts_from_proto(message.free),
        ),
        allocated=amounts_from_proto(message.allocated),
        pools=tuple(message.pools),
    )


def pool_usage_to_proto(usage: PoolUsage) -> resource_pb2.PoolUsage:
    return resource_pb2.PoolUsage(
        pool=usage.pool,
        capacity=amounts_to_proto(usage.capacity),
        allocated=amounts_to_proto(usage.allocated),
    )


def pool_usage_from_proto(message: resource_pb2.PoolUsage) -> PoolUsage:
    return PoolUsage(
        pool=message.pool,
        capacity=amounts_from_proto(message.capacity),
        allocated=amounts_from_proto(message.allocated),
    )


def namespace_usage_to_proto(usage: NamespaceUsage) -> resource_pb2.NamespaceUsage:
    return resource_pb2.NamespaceUsage(
        namespace=usage.namespace,
        allocated=amounts_to_proto(usage.allocated),
        # Every running task holds one replica lease.
        replicas=usage.running_tasks,
        running_executions=usage.running_executions,
        weighted_dominant_share=usage.weighted_dominant_share,
        queued_tasks=usage.queued_tasks,
        oldest_wait=duration(usage.oldest_wait_s),
        running_tasks=usage.running_tasks,
        queued_executions=usage.queued_executions,
    )


def namespace_usage_from_proto(message: resource_pb2.NamespaceUsage) -> NamespaceUsage:
    return NamespaceUsage(
        namespace=message.namespace,
        allocated=amounts_from_proto(message.allocated),
        running_tasks=message.running_tasks,
        queued_tasks=message.queued_tasks,
        oldest_wait_s=duration_seconds(message.oldest_wait),
        running_executions=message.running_executions,
        queued_executions=message.queued_executions,
        weighted_dominant_share=message.weighted_dominant_share,
    )


def cluster_to_proto(usage: ClusterUsage) -> resource_pb2.GetClusterStateResponse:
    return resource_pb2.GetClusterStateResponse(
        nodes=[node_to_proto(n) for n in usage.nodes],
        pools=[pool_usage_to_proto(p) for p in usage.pools],
        namespaces=[namespace_usage_to_proto(n) for n in usage.namespaces],
        fragmentation=dict(usage.fragmentation),
        observe_time=timestamp(usage.observe_time),
    )


def cluster_from_proto(message: resource_pb2.GetClusterStateResponse) -> ClusterUsage:
    return ClusterUsage(
        nodes=[node_from_proto(n) for n in message.nodes],
        pools=[pool_usage_from_proto(p) for p in message.pools],
        namespaces=[namespace_usage_from_proto(n) for n in message.namespaces],
        fragmentation=dict(message.fragmentation),
        observe_time=seconds(message.observe_time),
    )


# -- quotas -----------------------------------------------------------------------------------


def quota_to_proto(policy: NamespacePolicy) -> resource_pb2.Quota:
    quota = policy.quota
    message = resource_pb2.Quota(
        namespace=policy.name,
        max_replicas=quota.max_replicas or 0,
        max_concurrent_executions=quota.max_concurrent_executions or 0,
        weight=policy.weight,
        priority=policy.priority,
        backpressure=BACKPRESSURES.to_proto(policy.backpressure),
        placement_policy=policy.placement_policy,
        batch_scheduler=policy.batch_scheduler,
        plan_interval=duration(policy.plan_interval_s),
    )
    if quota.max_resources is not None:
        message.max.CopyFrom(amounts_to_proto(quota.max_resources))
    return message


def quota_from_proto(message: resource_pb2.Quota) -> NamespacePolicy:
    plan_interval = optional_seconds(message, "plan_interval")
    return NamespacePolicy(
        name=message.namespace,
        weight=message.weight or DEFAULT_WEIGHT,
        priority=message.priority,
        backpressure=BACKPRESSURES.from_proto(message.backpressure, "quota.backpressure"),
        placement_policy=message.placement_policy or DEFAULT_PLACEMENT_POLICY,
        batch_scheduler=message.batch_scheduler,
        plan_interval_s=plan_interval or DEFAULT_PLAN_INTERVAL_S,
        quota=Quota(
            max_resources=amounts_from_proto(message.max) if message.HasField("max") else None,
            max_replicas=message.max_replicas or None,
            max_concurrent_executions=message.max_concurrent_executions or None,
        ),
    )


# -- reservations -----------------------------------------------------------------------------


def reservation_to_proto(reservation: Reservation) -> resource_pb2.Reservation:
    return resource_pb2.Reservation(
        reservation_id=reservation.reservation_id,
        namespace=reservation.namespace,
        pool=reservation.pool,
        resources=amounts_to_proto(reservation.resources),
        start_time=timestamp(reservation.start_time),
        duration=duration(reservation.duration_s),
        state=RESERVATION_STATES.to_proto(reservation.state),
        strategy=PLACEMENT_STRATEGIES.to_proto(reservation.strategy),
        create_time=timestamp(reservation.create_time),
        message=reservation.message,
        placement_group_id=reservation.placement_group_id,
    )


def reservation_from_proto(message: resource_pb2.Reservation) -> Reservation:
    return Reservation(
        reservation_id=message.reservation_id,
        namespace=message.namespace,
        pool=message.pool,
        resources=amounts_from_proto(message.resources),
        start_time=seconds(message.start_time),
        duration_s=duration_seconds(message.duration),
        state=RESERVATION_STATES.from_proto(message.state, "reservation.state"),
        create_time=seconds(message.create_time),
        strategy=PLACEMENT_STRATEGIES.from_proto(message.strategy, "reservation.strategy"),
        message=message.message,
        placement_group_id=message.placement_group_id,
    )
