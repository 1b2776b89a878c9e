"""Does a new reservation fit in a pool next to the ones already holding capacity over time?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from models.capacity import Reservation
from models.resources import ResourceAmounts


@dataclass(frozen=True)
class Conflict:
    """The reservations overlapping the first instant where capacity would be exceeded."""

    at: float
    overlapping: tuple[Reservation, ...]
    needed: ResourceAmounts

    def describe(self) -> str:
        windows = ", ".join(
            f"{r.reservation_id} [{r.start_time:.0f}, {r.end_time:.0f})" for r in self.overlapping
        )
        return f"at t={self.at:.0f} the pool would need {self.needed} but it overlaps {windows}"


def find_conflict(
    candidate: Reservation, existing: Sequence[Reservation], capacity: ResourceAmounts
) -> Conflict | None:
    """The load only rises at a start, so checking the candidate's start and every overlapping
    reservation's start inside the candidate's window is enough."""
    if not candidate.resources.fits(capacity):
        return Conflict(candidate.start_time, (), candidate.resources)
    holding = [
        r
        for r in existing
        if r.pool == candidate.pool
        and r.state.holds_capacity
        and r.start_time < candidate.end_time
        and candidate.start_time < r.end_time
    ]
    instants = sorted(
        {
            candidate.start_time,
            *(r.start_time for r in holding if r.start_time > candidate.start_time),
        }
    )
    for instant in instants:
        active = tuple(r for r in holding if r.start_time <= instant < r.end_time)
        needed = ResourceAmounts.total([candidate.resources, *(r.resources for r in active)])
        if not needed.fits(capacity):
            return Conflict(instant, active, needed)
    return None
