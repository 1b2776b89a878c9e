"""Resource pools and reservations as the control plane records them (standard library only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from models.resources import NodeSelector, PlacementStrategy, ResourceAmounts


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
