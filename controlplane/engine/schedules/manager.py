"""Schedules as ScheduleService serves them: validated, stored durably before they are
acknowledged, and kept in memory for the firing loop. One lock per schedule orders the loop's
firings and the API's changes of that schedule (a schedule deleted during a firing stays
deleted).

A schedule belongs to a namespace: its name is unique there, its workflow is looked up there
and its executions run there. It is held under its key, `qualified_name(namespace, name)`; a
schedule of another namespace than the caller's is NotFound."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Callable

from controlplane.engine import paging
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.service import MAX_INPUT_BYTES
from controlplane.engine.schedules.firing import Timing
from controlplane.engine.schedules.validation import spec_problems, violation
from controlplane.store.schedules import ScheduleStore
from controlplane.workflow import check_inputs
from models.cron_zones import MAX_IDLE_DAYS
from models.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound, invalid
from models.namespaces import namespace_or_default, qualified_name
from models.schedules import FiringState, Schedule, ScheduleSpec
from models.security import ALL_NAMESPACES, DEFAULT_NAMESPACE

log = logging.getLogger(__name__)


def _not_found(namespace: str, name: str) -> NotFound:
    return NotFound(
        f"schedule {name!r} not found in namespace {namespace}",
        [FieldViolation("name", "no such schedule")],
    )


def key_of(schedule: Schedule) -> str:
    """What the schedule is held, locked and stored under."""
    return qualified_name(namespace_or_default(schedule.spec.namespace), schedule.name)


class ScheduleManager:
    def __init__(
        self, store: ScheduleStore, catalog: WorkflowCatalog, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        # By key (key_of).
        self._schedules: dict[str, Schedule] = {}
        self._timings: dict[str, Timing] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        for schedule in store.load_all():
            key = key_of(schedule)
            try:
                self._timings[key] = Timing.of(schedule.spec)
            except ValueError:
                # e.g. a zone the zone database of this host no longer has: listed, not fired.
                log.exception("schedule %s cannot fire", key)
            self._schedules[key] = schedule

    # -- for the firing loop: schedules by key ------------------------------------------------

    def names(self) -> list[str]:
        """The keys of every schedule."""
        return sorted(self._schedules)

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def current(self, key: str) -> tuple[Schedule, Timing] | None:
        """The schedule and its timing, None when it is gone (or cannot fire)."""
        schedule, timing = self._schedules.get(key), self._timings.get(key)
        return None if schedule is None or timing is None else (schedule, timing)

    async def store_state(self, schedule: Schedule, state: FiringState) -> Schedule:
        """Stores the new firing state of `schedule` (under its lock), then keeps it."""
        updated = dataclasses.replace(schedule, state=state, update_time=self._clock())
        await asyncio.to_thread(self._store.update, updated)
        key = key_of(schedule)
        if self._schedules.get(key) is schedule:
            self._schedules[key] = updated
        return updated

    # -- the API ----------------------------------------------------------------------------

    async def create(self, spec: ScheduleSpec) -> tuple[Schedule, bool]:
        """Validates every field (InvalidArgument naming each), then stores the schedule in
        `spec.namespace`; the same spec under an existing name of that namespace returns the
        existing schedule (created False)."""
        spec = dataclasses.replace(spec, namespace=namespace_or_default(spec.namespace))
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
        key = qualified_name(spec.namespace, spec.name)
        async with self.lock(key):
            existing = self._schedules.get(key)
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
            self._schedules[key] = schedule
            self._timings[key] = timing
        log.info("schedule %s created (%s in %s)", key, spec.cron, spec.time_zone)
        return schedule, True

    async def _workflow_problems(self, spec: ScheduleSpec) -> list[FieldViolation]:
        """The workflow must exist, and the inputs match its declared inputs as StartExecution
        checks them (against the latest revision when `revision` is 0)."""
        try:
            revision = self._catalog.get(spec.workflow, spec.revision, namespace=spec.namespace)
        except NotFound:
            if spec.revision and self._catalog_has(spec.namespace, spec.workflow):
                return [violation("revision", f"workflow {spec.workflow!r} has no such revision")]
            where = f"in namespace {spec.namespace}"
            return [violation("workflow", f"no workflow named {spec.workflow!r} {where}")]
        if len(json.dumps(spec.inputs)) > MAX_INPUT_BYTES:
            return [violation("inputs", f"are larger than {MAX_INPUT_BYTES} bytes")]
        definition = await self._catalog.load_definition(revision)
        _, problems = check_inputs(definition, spec.inputs, self._catalog.limits.value_depth)
        return [violation(p.path or "inputs", p.message) for p in problems]

    def _catalog_has(self, namespace: str, workflow: str) -> bool:
        try:
            self._catalog.get(workflow, namespace=namespace)
        except NotFound:
            return False
        return True

    def get(self, name: str, *, namespace: str = DEFAULT_NAMESPACE) -> Schedule:
        """Schedule `name` of `namespace`."""
        if not name:
            raise invalid("name", "is required")
        schedule = self._schedules.get(qualified_name(namespace, name))
        if schedule is None:
            raise _not_found(namespace, name)
        return schedule

    def list(
        self, page_size: int, page_token: str, *, namespace: str = DEFAULT_NAMESPACE
    ) -> tuple[list[Schedule], str]:
        """The schedules of `namespace` (`*`: of every one), in the order of "namespace/name"."""
        size = paging.page_size(page_size)
        query = ["schedules", namespace]
        after = paging.decode(page_token, query) or ""
        if not isinstance(after, str):
            raise invalid("page_token", "is not a token this server issued")
        positions = sorted(
            (f"{s.spec.namespace}/{s.name}", s)
            for s in self._schedules.values()
            if namespace in (ALL_NAMESPACES, s.spec.namespace)
        )
        found = [(p, s) for p, s in positions if p > after][: size + 1]
        page = [s for _, s in found[:size]]
        token = paging.encode(found[size - 1][0], query) if len(found) > size else ""
        return page, token

    async def pause(self, name: str, *, namespace: str = DEFAULT_NAMESPACE) -> Schedule:
        """No firing from now on (idempotent); a firing in progress finishes first."""
        self.get(
            name, namespace=namespace
        )  # NotFound before any lock is made for a name that is not
        async with self.lock(qualified_name(namespace, name)):
            schedule = self.get(name, namespace=namespace)
            if schedule.paused:
                return schedule
            spec = dataclasses.replace(schedule.spec, paused=True)
            state = dataclasses.replace(schedule.state, next_fire_time=None)
            return await self._replace(schedule, spec, state)

    async def resume(self, name: str, *, namespace: str = DEFAULT_NAMESPACE) -> Schedule:
        """Fires again from the first firing time after now (idempotent)."""
        self.get(
            name, namespace=namespace
        )  # NotFound before any lock is made for a name that is not
        key = qualified_name(namespace, name)
        async with self.lock(key):
            schedule = self.get(name, namespace=namespace)
            timing = self._timings.get(key)
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
        key = key_of(schedule)
        self._schedules[key] = updated
        log.info("schedule %s %s", key, "paused" if spec.paused else "resumed")
        return updated

    async def delete(self, name: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        """Stops firing for good (a firing in progress finishes first); executions it started
        run on."""
        self.get(
            name, namespace=namespace
        )  # NotFound before any lock is made for a name that is not
        key = qualified_name(namespace, name)
        async with self.lock(key):
            schedule = self.get(name, namespace=namespace)
            await asyncio.to_thread(self._store.delete, schedule.schedule_id)
            self._schedules.pop(key, None)
            self._timings.pop(key, None)
        log.info("schedule %s deleted", key)
