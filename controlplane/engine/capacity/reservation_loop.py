"""The reservation lifecycle control loop: a pure ``decide`` plus a thin shell.

A reservation is PENDING until its window opens; then its capacity is held on the cluster (a
placement group in its pool's nodes) and it is ACTIVE; when the window ends the group is
removed and it is EXPIRED. If Ray cannot place the group, it stays PENDING with the reason
(Ray keeps trying and so does every round) and becomes FAILED if the window ends first.
CANCELLED (by request) releases at once. Every state change is stored before Ray is asked to
act; groups have deterministic names, so acting twice is harmless and a group whose
reservation no longer holds capacity (a release that failed, a crash in between) is found
and released by a later round.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from controlplane.engine.periodic import run_every
from models.capacity import RESERVATION_LIFECYCLE, Reservation, ReservationState

log = logging.getLogger(__name__)


class ActionKind(enum.Enum):
    ACTIVATE = "ACTIVATE"  # hold the capacity (the window is open, or the group was lost)
    END = "END"  # the window is over: record EXPIRED / FAILED, then release
    RELEASE = "RELEASE"  # a group whose reservation no longer holds capacity


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reservation_id: str


def ended(reservation: Reservation, now: float) -> Reservation | None:
    """The reservation as it reads once its window is over: EXPIRED if it held its capacity,
    FAILED if it never did. None while the window is open or it no longer holds capacity."""
    if not reservation.state.holds_capacity or now < reservation.end_time:
        return None
    if reservation.state is ReservationState.ACTIVE:
        return RESERVATION_LIFECYCLE.replaced(
            reservation, ReservationState.EXPIRED, message="the window ended"
        )
    reason = f" ({reservation.message})" if reservation.message else ""
    return RESERVATION_LIFECYCLE.replaced(
        reservation,
        ReservationState.FAILED,
        message=f"the window ended before the capacity could be held{reason}",
    )


def decide(
    reservations: Sequence[Reservation],
    now: float,
    held: Collection[str] | None = None,
) -> list[Action]:
    """What to do about the stored PENDING/ACTIVE ``reservations`` at ``now``.

    ``held`` is the set of reservation ids with a group on the cluster (None: unknown, so
    neither lost groups nor orphans are looked for).
    """
    actions: list[Action] = []
    live: set[str] = set()
    for r in sorted(reservations, key=lambda r: (r.start_time, r.reservation_id)):
        if not r.state.holds_capacity:
            continue
        live.add(r.reservation_id)
        if now >= r.end_time:
            actions.append(Action(ActionKind.END, r.reservation_id))
        elif now >= r.start_time and (
            r.state is ReservationState.PENDING
            or (held is not None and r.reservation_id not in held)  # ACTIVE, group lost
        ):
            actions.append(Action(ActionKind.ACTIVATE, r.reservation_id))
    if held is not None:
        actions.extend(Action(ActionKind.RELEASE, rid) for rid in sorted(set(held) - live))
    return actions


class ReservationSteps(Protocol):
    """What the loop observes and acts through; each step re-checks under the reservation's
    lock."""

    async def held_reservations(self) -> frozenset[str] | None: ...

    def live_reservations(self) -> list[Reservation]: ...

    async def activate_reservation(self, reservation_id: str) -> Reservation | None: ...

    async def end_reservation(self, reservation_id: str) -> Reservation | None: ...

    async def release_orphan(self, reservation_id: str) -> None: ...


class ReservationLoop:
    """Runs ``decide`` over the stored reservations and the groups on the cluster."""

    def __init__(
        self,
        reservations: ReservationSteps,
        clock: Callable[[], float],
        interval_s: float = 1.0,
    ) -> None:
        self._reservations = reservations
        self._clock = clock
        self.interval_s = interval_s

    async def run_once(self) -> list[Action]:
        """One round: observe, decide, act (each action re-checks under the reservation's
        lock, so a decision made on a snapshot never overrides a newer change)."""
        held = await self._reservations.held_reservations()
        actions = decide(self._reservations.live_reservations(), self._clock(), held)
        for action in actions:
            try:
                if action.kind is ActionKind.ACTIVATE:
                    await self._reservations.activate_reservation(action.reservation_id)
                elif action.kind is ActionKind.END:
                    await self._reservations.end_reservation(action.reservation_id)
                else:
                    await self._reservations.release_orphan(action.reservation_id)
            except Exception:
                log.exception("%s of reservation %s failed", action.kind.value, action)
        return actions

    async def run(self) -> None:
        """Rounds every ``interval_s`` until cancelled."""
        await run_every(self.interval_s, self.run_once, log, "reservation loop round")
