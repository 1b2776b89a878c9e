"""Schedules as ScheduleService serves them: validated, stored durably before they are
acknowledged, and kept in memory for the firing loop. One lock per schedule orders the loop's
firings and the API's changes of that schedule (a schedule deleted during a firing stays
deleted)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable

from controlplane.engine import paging
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.service import DEFAULT_NAMESPACE, MAX_INPUT_BYTES
from controlplane.engine.schedules.firing import Timing
from controlplane.engine.schedules.validation import spec_problems, violation
from controlplane.store.schedules import ScheduleStore
from controlplane.workflow import check_inputs
from models.cron_zones import MAX_IDLE_DAYS
from models.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, invalid
from models.schedules import FiringState, Schedule, ScheduleSpec

log = logging.getLogger(__name__)


def _not_found(name: str) -> NotFound:
    return NotFound(f"schedule {name!r} not found", [FieldViolation("name", "no such schedule")])


class ScheduleManager:
    def __init__(
        self, store: ScheduleStore, catalog: WorkflowCatalog, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._schedules: dict[str, Schedule] = {}
        self._timings: dict[str, Timing] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        for schedule in store.load_all():
            try:
                self._timings[schedule.name] = Timing.of(schedule.spec)
            except ValueError:
                # e.g. a zone the zone database of this host no longer has: listed, not fired.
                log.exception("schedule %s cannot fire", schedule.name)
            self._schedules[schedule.name] = schedule

    # -- for the firing loop ----------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._schedules)

    def lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def current(self, name: str) -> tuple[Schedule, Timing] | None:
        """The schedule and its timing, None when it is gone (or cannot fire)."""
        schedule, timing = self._schedules.get(name), self._timings.get(name)
        return None if schedule is None or timing is None else (schedule, timing)

    async def store_state(self, schedule: Schedule, state: FiringState) -> Schedule:
        """Stores the new firing state of `schedule` (under its lock), then keeps it."""
        updated = dataclasses.replace(schedule, state=state, update_time=self._clock())
        await asyncio.to_thread(self._store.update, updated)
        if self._schedules.get(schedule.name) is schedule:
            self._schedules[schedule.name] = updated
        return updated

    # -- the API ----------------------------------------------------------------------------

    async def create(self, spec: ScheduleSpec) -> tuple[Schedule, bool]:
        """Validates every field (InvalidArgument naming each), then stores the schedule; the
        same spec under an existing name returns the existing schedule (created False)."""
        spec = dataclasses.replace(spec, namespace=spec.namespace or DEFAULT_NAMESPACE)
        problems = spec_problems(spec)
        if spec.workflow and spec.revision >= 0:
            problems += await self._workflow_problems(spec)
        now = self._clock()
        timing = None
        if not problems:
            timing = Timing.of(spec)
            if timing.next_after(now) is None:
                years = MAX_IDLE_DAYS // 366
                problems.append(violation("cron", f"matches no time in the next {years} years"))
        if problems or timing is None:
            raise InvalidArgument(f"invalid schedule ({len(problems)} problems)", problems)
        async with self.lock(spec.name):
            existing = self._schedules.get(spec.name)
            if existing is not None:
                if dataclasses.replace(existing.spec, paused=spec.paused) == spec:
                    return existing, False
                raise AlreadyExists(
                    f"a different schedule named {spec.name!r} exists",
                    [violation("name", "a schedule with other settings has this name")],
                )
            state = FiringState(next_fire_time=None if spec.paused else timing.next_after(now))
            schedule = Schedule(spec, uuid.uuid4().hex, now, now, state)
            await asyncio.to_thread(self._store.insert, schedule)
            self._schedules[spec.name] = schedule
            self._timings[spec.name] = timing
        log.info("schedule %s created (%s in %s)", spec.name, spec.cron, spec.time_zone)
        return schedule, True

    async def _workflow_problems(self, spec: ScheduleSpec) -> list[FieldViolation]:
        """The workflow must exist, and the inputs match its declared inputs as StartExecution
        checks them (against the latest revision when `revision` is 0)."""
        try:
            revision = self._catalog.get(spec.workflow, spec.revision)
        except NotFound:
            if spec.revision and self._catalog_has(spec.workflow):
                return [violation("revision", f"workflow {spec.workflow!r} has no such revision")]
            return [violation("workflow", f"no workflow named {spec.workflow!r}")]
        if len(json.dumps(spec.inputs)) > MAX_INPUT_BYTES:
            return [violation("inputs", f"are larger than {MAX_INPUT_BYTES} bytes")]
        definition = await self._catalog.load_definition(revision)
        _, problems = check_inputs(definition, spec.inputs, self._catalog.limits.value_depth)
        return [violation(p.path or "inputs", p.message) for p in problems]

    def _catalog_has(self, workflow: str) -> bool:
        try:
            self._catalog.get(workflow)
        except NotFound:
            return False
        return True

    def get(self, name: str) -> Schedule:
        if not name:
            raise invalid("name", "is required")
        schedule = self._schedules.get(name)
        if schedule is None:
            raise _not_found(name)
        return schedule

    def list(self, page_size: int, page_token: str) -> tuple[list[Schedule], str]:
        size = paging.page_size(page_size)
        after = paging.decode(page_token, "schedules") or ""
        if not isinstance(after, str):
            raise invalid("page_token", "is not a token this server issued")
        names = [name for name in sorted(self._schedules) if name > after][: size + 1]
        page = [self._schedules[name] for name in names[:size]]
        token = paging.encode(page[-1].name, "schedules") if len(names) > size else ""
        return page, token

    async def pause(self, name: str) -> Schedule:
        """No firing from now on (idempotent); a firing in progress finishes first."""
        self.get(name)  # NotFound before any lock is made for a name that does not exist
        async with self.lock(name):
            schedule = self.get(name)
            if schedule.paused:
                return schedule
            spec = dataclasses.replace(schedule.spec, paused=True)
            state = dataclasses.replace(schedule.state, next_fire_time=None)
            return await self._replace(schedule, spec, state)

    async def resume(self, name: str) -> Schedule:
        """Fires again from the first firing time after now (idempotent)."""
        self.get(name)  # NotFound before any lock is made for a name that does not exist
        async with self.lock(name):
            schedule = self.get(name)
            timing = self._timings.get(name)
            if not schedule.paused or timing is None:
                return schedule
            spec = dataclasses.replace(schedule.spec, paused=False)
            next_time = timing.next_after(self._clock())
            state = dataclasses.replace(schedule.state, next_fire_time=next_time)
            return await self._replace(schedule, spec, state)

    async def _replace(
        self, schedule: Schedule, spec: ScheduleSpec, state: FiringState
    ) -> Schedule:
        updated = dataclasses.replace(schedule, spec=spec, state=state, update_time=self._clock())
        await asyncio.to_thread(self._store.update, updated)
        self._schedules[schedule.name] = updated
        log.info("schedule %s %s", schedule.name, "paused" if spec.paused else "resumed")
        return updated

    async def delete(self, name: str) -> None:
        """Stops firing for good (a firing in progress finishes first); executions it started
        run on."""
        self.get(name)  # NotFound before any lock is made for a name that does not exist
        async with self.lock(name):
            schedule = self.get(name)
            await asyncio.to_thread(self._store.delete, schedule.schedule_id)
            self._schedules.pop(name, None)
            self._timings.pop(name, None)
        log.info("schedule %s deleted", name)
