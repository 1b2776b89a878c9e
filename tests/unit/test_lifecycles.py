"""Every lifecycle's transition table: total, and its check agrees with it on every pair."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from models.agents import REPLICA_LIFECYCLE, ROLLOUT_LIFECYCLE, RolloutState
from models.capacity import (
    POOL_REPAIR_LIFECYCLE,
    RESERVATION_LIFECYCLE,
    PoolRepair,
    PoolRepairPhase,
    Reservation,
    ReservationState,
)
from models.errors import FailedPrecondition
from models.executions import (
    ATTEMPT_LIFECYCLE,
    EXECUTION_LIFECYCLE,
    TASK_LIFECYCLE,
    AttemptRecord,
    AttemptStatus,
    ExecutionStatus,
    TaskStatus,
)
from models.lifecycle import InvalidTransition, Lifecycle
from models.resources import ResourceAmounts

LIFECYCLES: list[Lifecycle[Any]] = [
    EXECUTION_LIFECYCLE,
    TASK_LIFECYCLE,
    ATTEMPT_LIFECYCLE,
    REPLICA_LIFECYCLE,
    ROLLOUT_LIFECYCLE,
    RESERVATION_LIFECYCLE,
    POOL_REPAIR_LIFECYCLE,
]
IDS = [lifecycle.kind for lifecycle in LIFECYCLES]


def pairs(lifecycle: Lifecycle[Any], allowed: bool) -> list[tuple[enum.Enum, enum.Enum]]:
    return [
        (current, target)
        for current, target in itertools.product(lifecycle.transitions, repeat=2)
        if (target in lifecycle.transitions[current]) == allowed
    ]


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=IDS)
def test_every_state_has_a_row(lifecycle: Lifecycle[Any]) -> None:
    assert set(lifecycle.transitions) == set(lifecycle.states)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=IDS)
def test_every_allowed_transition_passes(lifecycle: Lifecycle[Any]) -> None:
    for current, target in pairs(lifecycle, allowed=True):
        lifecycle.check(current, target)
        assert lifecycle.allows(current, target)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=IDS)
def test_every_other_pair_raises(lifecycle: Lifecycle[Any]) -> None:
    forbidden = pairs(lifecycle, allowed=False)
    assert forbidden  # every lifecycle forbids something
    for current, target in forbidden:
        with pytest.raises(InvalidTransition) as err:
            lifecycle.check(current, target)
        assert err.value.kind == lifecycle.kind
        assert err.value.current is current and err.value.target is target
        assert current.value in str(err.value) and target.value in str(err.value)


def test_terminal_states_match_the_enums_that_know_them() -> None:
    for status in ExecutionStatus:
        assert EXECUTION_LIFECYCLE.is_terminal(status) == status.terminal
    for task_status in TaskStatus:
        assert TASK_LIFECYCLE.is_terminal(task_status) == task_status.terminal
    assert [s for s in AttemptStatus if not ATTEMPT_LIFECYCLE.is_terminal(s)] == [
        AttemptStatus.RUNNING
    ]
    for state in ReservationState:
        assert RESERVATION_LIFECYCLE.is_terminal(state) == (not state.holds_capacity)
    assert not any(POOL_REPAIR_LIFECYCLE.is_terminal(p) for p in PoolRepairPhase)
    assert {s for s in RolloutState if ROLLOUT_LIFECYCLE.is_terminal(s)} == {
        RolloutState.SUCCEEDED,
        RolloutState.ROLLED_BACK,
        RolloutState.FAILED,
    }


def test_an_invalid_transition_is_a_failed_precondition() -> None:
    with pytest.raises(FailedPrecondition, match="reservation cannot go from EXPIRED to ACTIVE"):
        RESERVATION_LIFECYCLE.check(ReservationState.EXPIRED, ReservationState.ACTIVE)


def test_move_changes_a_mutable_record_only_when_allowed() -> None:
    attempt = AttemptRecord(1, AttemptStatus.RUNNING)
    ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.LOST)
    assert attempt.status is AttemptStatus.LOST
    with pytest.raises(InvalidTransition):
        ATTEMPT_LIFECYCLE.move(attempt, AttemptStatus.SUCCEEDED)
    assert attempt.status is AttemptStatus.LOST


def test_replaced_copies_a_frozen_record_with_its_changes() -> None:
    pending = Reservation(
        "r", "ns", "p", ResourceAmounts(cpu=1), 0.0, 10.0, ReservationState.PENDING, 0.0
    )
    active = RESERVATION_LIFECYCLE.replaced(pending, ReservationState.ACTIVE, message="held")
    assert (active.state, active.message) == (ReservationState.ACTIVE, "held")
    assert pending.state is ReservationState.PENDING
    repair = PoolRepair("p", 1, PoolRepairPhase.HEALED, 0.0, 0.0)
    with pytest.raises(InvalidTransition):
        POOL_REPAIR_LIFECYCLE.replaced(repair, PoolRepairPhase.RECREATED)
    with pytest.raises(InvalidTransition):
        ROLLOUT_LIFECYCLE.check(RolloutState.ROLLED_BACK, RolloutState.PROGRESSING)


class _Light(enum.Enum):
    RED = "RED"
    GREEN = "GREEN"


@dataclass
class _Lamp:
    colour: _Light


def test_a_table_without_a_row_for_every_state_is_refused() -> None:
    with pytest.raises(ValueError, match="no row for GREEN"):
        Lifecycle("lamp", _Light, {_Light.RED: frozenset({_Light.GREEN})}, field="colour")
    lamp = _Lamp(_Light.RED)
    lights = Lifecycle(
        "lamp",
        _Light,
        {_Light.RED: frozenset({_Light.GREEN}), _Light.GREEN: frozenset()},
        field="colour",
    )
    lights.move(lamp, _Light.GREEN)
    assert lamp.colour is _Light.GREEN and lights.is_terminal(_Light.GREEN)
