"""Schedules: a workflow started at the times of a cron expression in a time zone.

Not to be confused with `models.scheduling.Schedule`, a scheduler's placement of operations:
this `Schedule` is the API resource of ScheduleService.

- `ScheduleSpec`: what a client asks for (validated by the engine, every field by its path);
- `FiringState`: what the control loop keeps while firing it, stored after each firing;
- `Schedule`: both, with the identity and times the server gives it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIME_ZONE = "UTC"
# Times missed while the control plane was down are started on restart when they are at most
# this old; older ones are counted as missed.
DEFAULT_CATCH_UP_WINDOW_S = 3600.0
# A firing is always allowed this much delay (the loop turns about every second).
MIN_CATCH_UP_WINDOW_S = 10.0
# How many of the executions a schedule started it remembers (newest first).
RECENT_EXECUTIONS = 10


class OverlapPolicy(enum.Enum):
    """What a firing does while an execution this schedule started earlier still runs."""

    SKIP = "SKIP"  # nothing: the firing is skipped and counted
    BUFFER_ONE = "BUFFER_ONE"  # start it when the running one ends; at most one waits
    ALLOW_ALL = "ALLOW_ALL"  # start it anyway
    CANCEL_OTHER = "CANCEL_OTHER"  # cancel the running ones, then start it


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule as a client creates it. `revision` 0: the workflow's latest revision at each
    firing; `namespace`: the schedule's, where its workflow is looked up and its executions
    run ("": the default namespace)."""

    name: str
    workflow: str
    cron: str
    revision: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)
    time_zone: str = DEFAULT_TIME_ZONE
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP
    catch_up_window_s: float = DEFAULT_CATCH_UP_WINDOW_S
    namespace: str = ""
    paused: bool = False


@dataclass(frozen=True)
class FiringState:
    """Where a schedule's firing stands.

    next_fire_time: the earliest firing time not handled yet (None: the expression never fires
        again, or the schedule is paused and has no next time to show);
    last_fire_time: the latest firing time handled (started, skipped, buffered, failed);
    last_execution_ids: the executions it started, newest first (at most RECENT_EXECUTIONS);
    buffered_fire_time: a firing BUFFER_ONE holds until the running execution ends;
    skipped_count: firings skipped by the overlap policy; missed_count: firing times older than
        the catch-up window when the control plane came to them; failed_count / last_error:
        firings whose start was refused (e.g. the workflow's agents are not deployed).
    """

    next_fire_time: float | None = None
    last_fire_time: float | None = None
    last_execution_ids: tuple[str, ...] = ()
    buffered_fire_time: float | None = None
    skipped_count: int = 0
    missed_count: int = 0
    failed_count: int = 0
    last_error: str = ""


@dataclass(frozen=True)
class Schedule:
    spec: ScheduleSpec
    schedule_id: str
    create_time: float
    update_time: float
    state: FiringState = field(default_factory=FiringState)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def paused(self) -> bool:
        return self.spec.paused
