"""The queue system between "ready" and "dispatched": namespace policies, queued and running
items, the observed snapshot a round of queueing decides over, and the decisions it returns
(standard library only).

Resource amounts reuse `models.resources.ResourceAmounts` (cpu, memory in bytes, gpu, custom).
Times are seconds on the caller's clock, passed in; nothing here reads a clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from models.resources import ResourceAmounts


class Backpressure(enum.Enum):
    """What StartExecution does when a namespace is over its quota or its pools are saturated."""

    REJECT = "REJECT"  # answer RESOURCE_EXHAUSTED
    QUEUE = "QUEUE"  # accept; the execution waits in the namespace's queue


@dataclass(frozen=True)
class Quota:
    """Per-namespace ceilings; None means unlimited. `max_resources` components that are zero
    (or custom resources absent) are unlimited as well, so a quota of cpu only is easy to say."""

    max_resources: ResourceAmounts | None = None
    max_replicas: int | None = None
    max_concurrent_executions: int | None = None


@dataclass(frozen=True)
class NamespacePolicy:
    name: str
    weight: float = 1.0  # fair-share weight (DRF)
    priority: int = 0  # higher may preempt lower when below its fair share
    max_queue: int | None = None  # most executions waiting at admission (None: unbounded)
    backpressure: Backpressure = Backpressure.QUEUE
    quota: Quota = field(default_factory=Quota)
    placement_policy: str = "best-fit"  # online policy placing each ready task on a node
    batch_scheduler: str = ""  # rolling-horizon planner (cpsat, ga, ml...); "" = none
    plan_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ValueError(f"namespace {self.name}: weight must be > 0, got {self.weight}")
        if self.max_queue is not None and self.max_queue < 0:
            raise ValueError(f"namespace {self.name}: max_queue must be >= 0")
        if self.plan_interval_s <= 0:
            raise ValueError(f"namespace {self.name}: plan_interval_s must be > 0")


@dataclass(frozen=True)
class QueuedItem:
    """One ready attempt waiting for capacity.

    `enqueued_at` is when the item first became ready; a preempted or requeued item keeps it,
    so its wait time and its aging continue from there (it does not lose its place).
    `level` is its multi-level feedback level (0 = top) and `level_since` when it entered that
    level (None: `enqueued_at`); both are ignored unless the multi-level option is on.
    """

    id: str
    namespace: str
    enqueued_at: float
    priority: int = 0
    demand: ResourceAmounts = field(default_factory=ResourceAmounts)
    replicas: int = 1  # replica leases the item holds while running
    execution_id: str = ""
    task_id: str = ""
    attempt: int = 1
    preempted_count: int = 0
    level: int = 0
    level_since: float | None = None
    # Position in the namespace's batch plan (lower first, among equal aged priority);
    # None: not planned, served after planned items in arrival order.
    rank: float | None = None


@dataclass(frozen=True)
class RunningItem:
    item: QueuedItem
    started_at: float

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def namespace(self) -> str:
        return self.item.namespace

    @property
    def demand(self) -> ResourceAmounts:
        return self.item.demand


@dataclass(frozen=True)
class QueueConfig:
    """Tunables of the queue system.

    age_rate: priority points gained per second waited (effective priority =
        priority + age_rate * waited seconds), so low-priority items cannot starve.
    multilevel: turn on multi-level feedback; `levels` levels are served in order, an item drops
        a level when preempted or when its attempt ran at least `long_run_s`, and climbs one
        level back for every `promote_after_s` it waits in a level.
    preemption: allow Preempt decisions; at most `max_preemptions_per_round` per round.
    """

    age_rate: float = 0.0
    multilevel: bool = False
    levels: int = 3
    promote_after_s: float = 60.0
    long_run_s: float | None = None
    preemption: bool = True
    max_preemptions_per_round: int = 16

    def __post_init__(self) -> None:
        if self.age_rate < 0:
            raise ValueError("age_rate must be >= 0")
        if self.levels < 1:
            raise ValueError("levels must be >= 1")
        if self.promote_after_s <= 0:
            raise ValueError("promote_after_s must be > 0")

    @property
    def effective_levels(self) -> int:
        return self.levels if self.multilevel else 1


@dataclass(frozen=True)
class NamespaceState:
    """What is observed of one namespace: its policy, waiting items and running items. Its
    usage is the sum of its running items' demands."""

    policy: NamespacePolicy
    queued: tuple[QueuedItem, ...] = ()
    running: tuple[RunningItem, ...] = ()

    @property
    def name(self) -> str:
        return self.policy.name


@dataclass(frozen=True)
class QueueSnapshot:
    """The whole observed state one round decides over.

    capacity: the cluster (or pool) capacity fair shares are measured against.
    reserved: capacity held by something outside the queue system (not free for items).
    """

    capacity: ResourceAmounts
    namespaces: tuple[NamespaceState, ...]
    config: QueueConfig = field(default_factory=QueueConfig)
    reserved: ResourceAmounts = field(default_factory=ResourceAmounts)


# -- decisions of a round ------------------------------------------------------------------


@dataclass(frozen=True)
class Dispatch:
    """Start this item now (its demand fits the free capacity and its namespace's quota)."""

    item: QueuedItem  # as served: `level` / `level_since` reflect promotions
    effective_priority: float
    wait_s: float


@dataclass(frozen=True)
class Preempt:
    """Stop this running attempt and requeue it (see `scheduler.queueing.requeue`)."""

    victim: RunningItem
    for_namespace: str
    for_item: str
    reason: str


@dataclass(frozen=True)
class Reject:
    """Refuse: an execution at admission, or a queued item that can never run (its demand
    exceeds its namespace's quota). Maps to RESOURCE_EXHAUSTED."""

    id: str
    namespace: str
    reason: str


Action = Dispatch | Preempt | Reject


# -- admission of StartExecution -----------------------------------------------------------


@dataclass(frozen=True)
class ExecutionRequest:
    execution_id: str
    namespace: str
    demand: ResourceAmounts = field(default_factory=ResourceAmounts)  # largest task's demand


@dataclass(frozen=True)
class AdmissionState:
    """What admission needs of a namespace: its policy, how many executions are running
    (admitted and not finished), how many wait at admission, and whether its pools are
    saturated (see `scheduler.queueing.pools_saturated`)."""

    policy: NamespacePolicy
    active_executions: int = 0
    waiting_executions: int = 0
    saturated: bool = False


@dataclass(frozen=True)
class Accept:
    execution_id: str


@dataclass(frozen=True)
class Queue:
    execution_id: str
    reason: str


Admission = Accept | Queue | Reject


# -- metrics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueMetrics:
    """Queue depth and wait time of one namespace at one instant."""

    namespace: str
    depth: int
    running: int
    oldest_wait_s: float
    mean_wait_s: float
    depth_by_level: tuple[int, ...] = ()


@dataclass(frozen=True)
class NamespaceUsage:
    namespace: str
    allocated: ResourceAmounts
    running_tasks: int
    queued_tasks: int
    oldest_wait_s: float
    running_executions: int
    queued_executions: int
    weighted_dominant_share: float
