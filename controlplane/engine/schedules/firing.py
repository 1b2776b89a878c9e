"""What a schedule does next, as pure functions of its spec, its firing state, the time and
which of its executions still run: `decide` names one action, `after_*` give the state to store
once the action is done. The loop (`loop.py`) performs the actions; nothing here reads a clock
or the store.

Firing time T of schedule S starts its execution with the request id `request_id(S, T)`, so a
firing attempted twice (a loop that retries, a control plane restarted between the start and
storing the new state) starts one execution.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from models.cron import CronExpr
from models.cron_zones import fire_times, load_zone, next_fire_time, rfc3339
from models.schedules import RECENT_EXECUTIONS, FiringState, OverlapPolicy, ScheduleSpec

# Missed firing times are counted one by one up to this many per catch-up (beyond, the count
# is a lower bound), so that a long outage of an every-minute schedule costs little.
MAX_COUNTED_MISSES = 100_000


def request_id(schedule: str, fire_time: float) -> str:
    """`schedule:nightly:2026-03-08T07:30:00Z`."""
    return f"schedule:{schedule}:{rfc3339(fire_time)}"


@dataclass(frozen=True)
class Timing:
    """A spec's cron expression in its time zone (both already validated)."""

    cron: CronExpr
    zone: ZoneInfo

    @classmethod
    def of(cls, spec: ScheduleSpec) -> Timing:
        return cls(CronExpr.parse(spec.cron), load_zone(spec.time_zone))

    def next_after(self, when: float) -> float | None:
        return next_fire_time(self.cron, self.zone, when)

    def missed(self, due: float, cutoff: float) -> tuple[int, float | None]:
        """(how many firing times from `due` are before `cutoff`, the first one at or after
        it)."""
        count = 1
        for fire_time in fire_times(self.cron, self.zone, due):
            if fire_time >= cutoff:
                return count, fire_time
            count += 1
            if count >= MAX_COUNTED_MISSES:
                break
        return count, self.next_after(math.nextafter(cutoff, -math.inf))


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Start the execution of `fire_time` (the buffered one with `buffered`), cancelling the
    running ones in `cancel` first (CANCEL_OTHER)."""

    fire_time: float
    buffered: bool = False
    cancel: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    """The overlap policy drops this firing (an execution still runs)."""

    fire_time: float


@dataclass(frozen=True)
class Buffer:
    """BUFFER_ONE holds this firing until the running execution ends."""

    fire_time: float


@dataclass(frozen=True)
class Miss:
    """`count` firing times from `first` are older than the catch-up window; the next one to
    handle is `resume_at`."""

    first: float
    count: int
    resume_at: float | None


Action = Start | Skip | Buffer | Miss


def is_due(spec: ScheduleSpec, state: FiringState, now: float) -> bool:
    """Whether `decide` may have something to do (a cheap test before looking at executions)."""
    if spec.paused:
        return False
    if state.buffered_fire_time is not None:
        return True
    return state.next_fire_time is not None and state.next_fire_time <= now


def decide(
    spec: ScheduleSpec,
    state: FiringState,
    now: float,
    running: Sequence[str],
    timing: Timing,
) -> Action | None:
    """The one next action of a schedule at `now`, given the executions it started that still
    run (`running`, newest first); None when nothing is due."""
    if spec.paused:
        return None
    if state.buffered_fire_time is not None and not running:
        return Start(state.buffered_fire_time, buffered=True)
    due = state.next_fire_time
    if due is None or due > now:
        return None
    cutoff = now - spec.catch_up_window_s
    if due < cutoff:
        count, resume_at = timing.missed(due, cutoff)
        return Miss(due, count, resume_at)
    policy = spec.overlap_policy
    if not running or policy is OverlapPolicy.ALLOW_ALL:
        return Start(due)
    if policy is OverlapPolicy.CANCEL_OTHER:
        return Start(due, cancel=tuple(running))
    if policy is OverlapPolicy.BUFFER_ONE and state.buffered_fire_time is None:
        return Buffer(due)
    return Skip(due)


# -- the state after an action ----------------------------------------------------------------


def _handled(state: FiringState, fire_time: float, timing: Timing) -> FiringState:
    """`fire_time`, the next firing time, is dealt with: move on to the one after it."""
    return dataclasses.replace(
        state, last_fire_time=fire_time, next_fire_time=timing.next_after(fire_time)
    )


def after_start(
    state: FiringState, action: Start, execution_id: str, timing: Timing
) -> FiringState:
    if action.buffered:
        state = dataclasses.replace(state, buffered_fire_time=None)
    else:
        state = _handled(state, action.fire_time, timing)
    recent = (execution_id, *(e for e in state.last_execution_ids if e != execution_id))
    return dataclasses.replace(state, last_execution_ids=recent[:RECENT_EXECUTIONS])


def after_refused(state: FiringState, action: Start, error: str, timing: Timing) -> FiringState:
    """The start was refused for good (not an outage): counted, with why, and passed over."""
    if action.buffered:
        state = dataclasses.replace(state, buffered_fire_time=None)
    else:
        state = _handled(state, action.fire_time, timing)
    return dataclasses.replace(
        state,
        failed_count=state.failed_count + 1,
        last_error=f"{rfc3339(action.fire_time)}: {error}",
    )


def after_skip(state: FiringState, action: Skip, timing: Timing) -> FiringState:
    state = _handled(state, action.fire_time, timing)
    return dataclasses.replace(state, skipped_count=state.skipped_count + 1)


def after_buffer(state: FiringState, action: Buffer, timing: Timing) -> FiringState:
    state = _handled(state, action.fire_time, timing)
    return dataclasses.replace(state, buffered_fire_time=action.fire_time)


def after_miss(state: FiringState, action: Miss) -> FiringState:
    return dataclasses.replace(
        state,
        next_fire_time=action.resume_at,
        missed_count=state.missed_count + action.count,
    )
