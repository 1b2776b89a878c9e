"""Resource pools and reservations as the control plane records them (standard library only)."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from models.lifecycle import Lifecycle
from models.queueing import NamespaceUsage
from models.resources import (
    NodeInfo,
    NodeSelector,
    PlacementStrategy,
    PoolRealization,
    RealizationState,
    ResourceAmounts,
)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    selector: NodeSelector = field(default_factory=NodeSelector)
    # None: the selected nodes whole; otherwise this share of their capacity.
    share: ResourceAmounts | None = None
    strategy: PlacementStrategy = PlacementStrategy.PACK


@dataclass(frozen=True)
class PoolRecord:
    spec: PoolSpec
    create_time: float
    update_time: float


class ReservationState(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def holds_capacity(self) -> bool:
        return self in (ReservationState.PENDING, ReservationState.ACTIVE)


_RESERVATION_ENDS = frozenset(
    {ReservationState.EXPIRED, ReservationState.CANCELLED, ReservationState.FAILED}
)
RESERVATION_LIFECYCLE = Lifecycle(
    "reservation",
    ReservationState,
    {
        # PENDING -> PENDING: still waiting for Ray to hold the capacity (a new reason). It
        # can only fail, never expire: it held nothing.
        ReservationState.PENDING: frozenset(
            {
                ReservationState.PENDING,
                ReservationState.ACTIVE,
                ReservationState.CANCELLED,
                ReservationState.FAILED,
            }
        ),
        # ACTIVE -> ACTIVE / PENDING: its group was lost and is held again, or not yet.
        ReservationState.ACTIVE: frozenset(
            {ReservationState.ACTIVE, ReservationState.PENDING} | _RESERVATION_ENDS
        ),
        **{state: frozenset() for state in _RESERVATION_ENDS},
    },
    field="state",
)


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    namespace: str
    pool: str
    resources: ResourceAmounts
    start_time: float
    duration_s: float
    state: ReservationState
    create_time: float
    strategy: PlacementStrategy = PlacementStrategy.PACK
    request_id: str = ""
    message: str = ""
    # The Ray placement group that holds (or held) the capacity once the window opened.
    placement_group_id: str = ""

    @property
    def end_time(self) -> float:
        return self.start_time + self.duration_s


class PoolRepairPhase(enum.Enum):
    """Where the repair of a pool whose placement group went missing stands."""

    LOST = "LOST"  # the group was found missing; it is being created again (retried)
    RECREATED = "RECREATED"  # the group exists again; the pool's replicas move in once placed
    HEALED = "HEALED"  # the replicas of the pool's agents run in the re-created group


POOL_REPAIR_LIFECYCLE = Lifecycle(
    "pool repair",
    PoolRepairPhase,
    {
        # LOST -> LOST: a failed try, recorded with when to try again. LOST -> HEALED: a
        # restart found the group created but not yet recorded, and starts the replicas anew.
        PoolRepairPhase.LOST: frozenset(
            {PoolRepairPhase.LOST, PoolRepairPhase.RECREATED, PoolRepairPhase.HEALED}
        ),
        # RECREATED -> RECREATED: moving the replicas (again, after a failed try).
        # RECREATED -> LOST: the re-created group was lost too.
        PoolRepairPhase.RECREATED: frozenset(
            {PoolRepairPhase.LOST, PoolRepairPhase.RECREATED, PoolRepairPhase.HEALED}
        ),
        # A healed pool whose group is lost again starts a new repair.
        PoolRepairPhase.HEALED: frozenset({PoolRepairPhase.LOST}),
    },
    field="phase",
)


@dataclass(frozen=True)
class PoolRepairStatus:
    """Where the repair of a pool's lost placement group stands, as GetPool reports it: the
    fields of `PoolRepair` a client sees."""

    phase: PoolRepairPhase
    losses: int
    lost_time: float
    # Failed tries of the current step, and no new try before ``retry_time`` (0.0: none due).
    attempts: int = 0
    retry_time: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class PoolRepair:
    """The pool reconciler's durable record of a lost placement group (one per pool: the
    latest loss). Written before every step it takes, so a restarted control plane resumes
    the repair where it stopped."""

    pool: str
    # The pool generation whose group was lost (a later generation makes the record stale).
    generation: int
    phase: PoolRepairPhase
    # When the loss was noticed, and when this record last changed.
    lost_time: float
    update_time: float
    # Failed tries of the current step, and no new try before ``retry_time``.
    attempts: int = 0
    retry_time: float = 0.0
    message: str = ""
    # How many times the pool's group has been lost since the pool was created.
    losses: int = 1

    @property
    def outstanding(self) -> bool:
        return self.phase is not PoolRepairPhase.HEALED

    @property
    def status(self) -> PoolRepairStatus:
        return PoolRepairStatus(
            phase=self.phase,
            losses=self.losses,
            lost_time=self.lost_time,
            attempts=self.attempts,
            retry_time=self.retry_time,
            message=self.message,
        )


@dataclass(frozen=True)
class PoolInfo:
    """A pool as the API reports it: the stored record, the nodes it selects now, the capacity
    it owns and what is allocated of it, and its placement group as Ray reports it."""

    record: PoolRecord
    node_ids: tuple[str, ...]
    capacity: ResourceAmounts
    allocated: ResourceAmounts
    state: RealizationState
    placement_group_id: str = ""
    # Why the group is not READY, or where its repair stands.
    message: str = ""
    repair: PoolRepairStatus | None = None

    @property
    def spec(self) -> PoolSpec:
        return self.record.spec

    @property
    def name(self) -> str:
        return self.record.spec.name


@dataclass(frozen=True)
class PoolView:
    record: PoolRecord
    nodes: list[NodeInfo]
    capacity: ResourceAmounts
    # What the replicas of agents deployed into the pool hold of it.
    allocated: ResourceAmounts = dataclasses.field(default_factory=ResourceAmounts)
    # The placement group as Ray reports it (None: not looked up, or there is none).
    realization: PoolRealization | None = None
    # Why there is no realization (or it could not be read).
    message: str = ""
    # The repair record of the pool's current generation (set by GetPool and ListPools).
    repair: PoolRepair | None = None

    @property
    def state(self) -> RealizationState:
        return RealizationState.PENDING if self.realization is None else self.realization.state

    @property
    def state_message(self) -> str:
        return self.message if self.realization is None else self.realization.message

    def info(self) -> PoolInfo:
        """What the API reports of this view (node ids instead of the nodes)."""
        realization = self.realization
        return PoolInfo(
            record=self.record,
            node_ids=tuple(n.node_id for n in self.nodes),
            capacity=self.capacity,
            allocated=self.allocated,
            state=self.state,
            placement_group_id=realization.placement_group_id if realization else "",
            message=self.state_message,
            repair=self.repair.status if self.repair is not None else None,
        )


@dataclass(frozen=True)
class ClusterView:
    nodes: list[NodeInfo]
    pools: list[PoolView]
    fragmentation: dict[str, float]
    observe_time: float

    def usage(self, namespaces: list[NamespaceUsage]) -> ClusterUsage:
        """What GetClusterState reports: every node with what is allocated on it and the pools
        drawing from it, each pool's usage, and the given namespaces' usage."""
        member_of: dict[str, list[str]] = {}
        for pool in self.pools:
            for node in pool.nodes:
                member_of.setdefault(node.node_id, []).append(pool.record.spec.name)
        return ClusterUsage(
            nodes=[
                NodeUsage(n, n.capacity.sub(n.free), tuple(member_of.get(n.node_id, ())))
                for n in self.nodes
            ],
            pools=[PoolUsage(p.record.spec.name, p.capacity, p.allocated) for p in self.pools],
            namespaces=list(namespaces),
            fragmentation=dict(self.fragmentation),
            observe_time=self.observe_time,
        )


@dataclass(frozen=True)
class NodeUsage:
    """One node as GetClusterState reports it, with what is allocated on it and the pools
    drawing from it."""

    info: NodeInfo
    allocated: ResourceAmounts
    pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolUsage:
    pool: str
    capacity: ResourceAmounts
    allocated: ResourceAmounts


@dataclass(frozen=True)
class ClusterUsage:
    """The cluster as GetClusterState reports it."""

    nodes: list[NodeUsage]
    pools: list[PoolUsage]
    namespaces: list[NamespaceUsage]
    # Per resource: 1 - (largest free amount on one live node / total free).
    fragmentation: dict[str, float]
    observe_time: float
