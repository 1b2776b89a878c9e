"""The schedule loop: every round, each due schedule's actions (`firing.decide`) are performed
and the state after each is stored before the next is decided.

Exactly once: firing time T of schedule S starts its execution with the request id derived from
(S, T), and S's state moves past T only once the start was acknowledged. A control plane killed
in between starts T again on restart, which finds the execution started the first time. When T
has meanwhile fallen out of the catch-up window, the request id is looked up before T is counted
as missed (only the first unhandled time can be in that state: times are handled in order).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from controlplane.engine.periodic import run_every
from controlplane.engine.schedules.firing import (
    Action,
    Buffer,
    Miss,
    Skip,
    Start,
    Timing,
    after_buffer,
    after_miss,
    after_refused,
    after_skip,
    after_start,
    decide,
    is_due,
    request_id,
)
from controlplane.engine.schedules.manager import ScheduleManager
from models.cron_zones import rfc3339
from models.errors import FailedPrecondition, NotFound, OrchestratorError, Unavailable
from models.executions import ExecutionRecord, ExecutionStatus
from models.schedules import FiringState, Schedule

log = logging.getLogger(__name__)

# Actions one schedule may take in one round (a long catch-up goes on in the next rounds, so
# other schedules are not kept waiting behind it).
MAX_ACTIONS_PER_ROUND = 100


@dataclass(frozen=True)
class ExecutionPorts:
    """What the loop needs of the execution engine (its public start and cancel) and of the
    store (an execution's status, the execution a request id started in a namespace)."""

    start: Callable[[str, int, dict[str, Any], str, str], Awaitable[tuple[ExecutionRecord, bool]]]
    cancel: Callable[[str, str], Awaitable[Any]]
    status_of: Callable[[str], ExecutionStatus | None]
    started_by: Callable[[str, str], str | None]


@dataclass(frozen=True)
class Fired:
    """One action a round performed: the execution it started, or why its start was refused."""

    schedule: str
    action: Action
    execution_id: str = ""
    error: str = ""


class ScheduleLoop:
    def __init__(
        self,
        schedules: ScheduleManager,
        executions: ExecutionPorts,
        clock: Callable[[], float],
        interval_s: float,
    ) -> None:
        self._schedules = schedules
        self._executions = executions
        self._clock = clock
        self._interval_s = interval_s

    async def run(self) -> None:
        await run_every(self._interval_s, self.run_once, log, "schedule round")

    async def run_once(self) -> list[Fired]:
        """One round over every schedule; returns what it did."""
        done: list[Fired] = []
        for key in self._schedules.names():
            done += await self._fire(key)
        return done

    async def _fire(self, key: str) -> list[Fired]:
        done: list[Fired] = []
        async with self._schedules.lock(key):
            for _ in range(MAX_ACTIONS_PER_ROUND):
                found = self._schedules.current(key)
                if found is None:
                    break
                schedule, timing = found
                now = self._clock()
                if not is_due(schedule.spec, schedule.state, now):
                    break
                running = self._running(schedule.state.last_execution_ids)
                action = decide(schedule.spec, schedule.state, now, running, timing)
                if action is None:
                    break
                result = await self._perform(schedule, action, timing)
                if result is None:  # the store refuses writes: the same action next round
                    break
                state, fired = result
                await self._schedules.store_state(schedule, state)
                done.append(fired)
        return done

    def _running(self, execution_ids: tuple[str, ...]) -> list[str]:
        running = []
        for execution_id in execution_ids:
            status = self._executions.status_of(execution_id)
            if status is not None and not status.terminal:
                running.append(execution_id)
        return running

    async def _perform(
        self, schedule: Schedule, action: Action, timing: Timing
    ) -> tuple[FiringState, Fired] | None:
        name, state = schedule.name, schedule.state
        if isinstance(action, Start):
            return await self._start(schedule, action, timing)
        if isinstance(action, Skip):
            log.info("schedule %s: firing %s skipped (an execution still runs)", name, _at(action))
            return after_skip(state, action, timing), Fired(name, action)
        if isinstance(action, Buffer):
            log.info("schedule %s: firing %s waits for the running execution", name, _at(action))
            return after_buffer(state, action, timing), Fired(name, action)
        return self._miss(schedule, action, timing)

    def _miss(self, schedule: Schedule, action: Miss, timing: Timing) -> tuple[FiringState, Fired]:
        name = schedule.name
        # Started just before the control plane stopped, its state not stored yet?
        execution_id = self._executions.started_by(
            schedule.spec.namespace, request_id(name, action.first)
        )
        if execution_id is not None:
            start = Start(action.first)
            return after_start(schedule.state, start, execution_id, timing), Fired(
                name, start, execution_id
            )
        log.warning(
            "schedule %s: %d firing time(s) from %s are older than the catch-up window (%gs): "
            "not started",
            name,
            action.count,
            rfc3339(action.first),
            schedule.spec.catch_up_window_s,
        )
        return after_miss(schedule.state, action), Fired(name, action)

    async def _start(
        self, schedule: Schedule, action: Start, timing: Timing
    ) -> tuple[FiringState, Fired] | None:
        name, spec, state = schedule.name, schedule.spec, schedule.state
        for other in action.cancel:
            try:
                await self._executions.cancel(other, f"schedule {name} fired at {_at(action)}")
            except (FailedPrecondition, NotFound):
                pass  # it ended meanwhile
            except Unavailable:
                return None
        try:
            record, created = await self._executions.start(
                spec.workflow,
                spec.revision,
                dict(spec.inputs),
                request_id(name, action.fire_time),
                spec.namespace,
            )
        except Unavailable as exc:
            log.warning("schedule %s: firing %s waits: %s", name, _at(action), exc.message)
            return None
        except OrchestratorError as exc:
            log.warning("schedule %s: firing %s refused: %s", name, _at(action), exc.message)
            return after_refused(state, action, exc.message, timing), Fired(
                name, action, error=exc.message
            )
        except Exception as exc:
            log.exception("schedule %s: firing %s failed", name, _at(action))
            error = f"{type(exc).__name__}: {exc}"
            return after_refused(state, action, error, timing), Fired(name, action, error=error)
        again = "" if created else " (already started by this request id)"
        log.info(
            "schedule %s: firing %s started execution %s%s",
            name,
            _at(action),
            record.execution_id,
            again,
        )
        return after_start(state, action, record.execution_id, timing), Fired(
            name, action, record.execution_id
        )


def _at(action: Start | Skip | Buffer) -> str:
    return rfc3339(action.fire_time)
