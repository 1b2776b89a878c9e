"""What a pool or a reservation asks the cluster to hold: bundles and where they may go (pure).

Bundle shapes decide what fits: Ray draws an actor's whole request from one bundle, so a pool
of one big bundle must sit on one node and a replica larger than every bundle never fits.

- A pool that owns its nodes whole gets one bundle per member node, shaped like that node,
  laid out STRICT_SPREAD (one per node).
- A share (and a reservation) is cut into equal bundles: as many as the greatest common
  divisor of its whole-numbered amounts (cpu, gpu, custom; memory is divided among them),
  at most ``MAX_BUNDLES``. ``cpu=4`` gives four bundles of one CPU, ``cpu=4, gpu=2`` two of
  ``cpu=2, gpu=1``; fractional amounts give one bundle.

Bundles are constrained by the pool's label selector, not pinned to node ids, so Ray can
re-place a bundle on another matching node when its node dies (or on a node that joins).
Only where labels cannot say it (a selection by node ids, or by a custom resource that the
bundle itself does not request) are bundles restricted to the set of member node ids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from models.backend import CapacityRequest
from models.capacity import PoolRecord, PoolSpec, Reservation
from models.resources import NodeInfo, PlacementStrategy, ResourceAmounts

MAX_BUNDLES = 64
# Ray's default label naming a node by its hex id (on every node).
NODE_ID_LABEL = "ray.io/node-id"


class NoLiveMembers(ValueError):
    """The bundles can only go to member nodes by id (or are shaped like them), and no
    member node is alive to give them."""


def pool_generation(record: PoolRecord) -> int:
    """Which group realises this version of the pool: every update makes a new one (its
    update time in milliseconds), so an update creates the new group before the old goes."""
    return round(record.update_time * 1000)


def _bundle_count(amounts: ResourceAmounts) -> int:
    counted = [amounts.cpu, amounts.gpu, *amounts.custom.values()]
    values = [v for v in counted if v > 0]
    if not values or any(abs(v - round(v)) > 1e-9 for v in values):
        return 1
    count = 0
    for value in values:
        count = math.gcd(count, round(value))
    while count > MAX_BUNDLES:  # the largest divisor of count that is at most MAX_BUNDLES
        count = max(d for d in range(1, MAX_BUNDLES + 1) if count % d == 0)
    return max(count, 1)


def split_bundles(amounts: ResourceAmounts) -> list[ResourceAmounts]:
    """Equal bundles that add up to ``amounts`` (see the module docstring)."""
    if amounts.is_zero():
        return []
    count = _bundle_count(amounts)
    memory, rest = divmod(amounts.memory, count)
    return [
        ResourceAmounts(
            cpu=amounts.cpu / count,
            memory=memory + (rest if i == 0 else 0),
            gpu=amounts.gpu / count,
            custom={k: v / count for k, v in amounts.custom.items() if v},
        )
        for i in range(count)
    ]


def _needs_node_ids(spec: PoolSpec, bundles: Sequence[ResourceAmounts]) -> bool:
    if NODE_ID_LABEL in spec.selector.labels:
        return False  # the labels already name the nodes
    if spec.selector.node_ids:
        return True
    return any(b.get(name) <= 0 for b in bundles for name in spec.selector.custom_resources)


def _request(
    spec: PoolSpec,
    members: Sequence[NodeInfo],
    bundles: list[ResourceAmounts],
    strategy: PlacementStrategy,
) -> CapacityRequest:
    node_ids = tuple(n.node_id for n in members) if _needs_node_ids(spec, bundles) else ()
    if not bundles or (_needs_node_ids(spec, bundles) and not node_ids):
        raise NoLiveMembers(f"no live node of pool {spec.name!r} to hold its capacity on")
    return CapacityRequest(
        bundles=tuple(bundles),
        strategy=strategy,
        labels=dict(spec.selector.labels),
        node_ids=node_ids,
    )


def pool_request(spec: PoolSpec, members: Sequence[NodeInfo]) -> CapacityRequest:
    """The capacity a pool holds over its (live) member nodes; NoLiveMembers if the group
    cannot be described without one."""
    if spec.share is None:
        bundles = [n.capacity for n in members if not n.capacity.is_zero()]
        return _request(spec, members, bundles, PlacementStrategy.STRICT_SPREAD)
    return _request(spec, members, split_bundles(spec.share), spec.strategy)


def reservation_request(
    reservation: Reservation, pool: PoolSpec, members: Sequence[NodeInfo]
) -> CapacityRequest:
    """A reservation's capacity, on the nodes of its pool."""
    return _request(pool, members, split_bundles(reservation.resources), reservation.strategy)
