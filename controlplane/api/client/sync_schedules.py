"""The synchronous client's schedule methods (ScheduleService), kept apart from the rest of
OrchestratorClient, which provides `_run`, `_items` and the client's namespace. Every method
works in the client's namespace unless given another one (`namespace=`; a list takes "*" for
every namespace)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from controlplane.api.client import schedule_calls
from controlplane.api.client.calls import Call, Paged
from models.schedules import Schedule, ScheduleSpec

T = TypeVar("T")


class ScheduleMethods:
    page_size: int
    _namespace: str

    def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        raise NotImplementedError

    def create_schedule(
        self, spec: ScheduleSpec, *, namespace: str | None = None
    ) -> tuple[Schedule, bool]:
        """(the schedule, False when an identical one of that name existed), created in
        `namespace`, else the spec's, else the client's."""
        in_namespace = namespace or spec.namespace or self._namespace
        return self._run(schedule_calls.create_schedule(spec, in_namespace))

    def get_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        return self._run(schedule_calls.get_schedule(name, namespace or self._namespace))

    def iter_schedules(self, *, namespace: str | None = None) -> Iterator[Schedule]:
        """Every schedule of the namespace, by name."""
        paged = schedule_calls.list_schedules(self.page_size, namespace or self._namespace)
        return self._items(paged)

    def list_schedules(self, *, namespace: str | None = None) -> list[Schedule]:
        return list(self.iter_schedules(namespace=namespace))

    def pause_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        return self._run(schedule_calls.pause_schedule(name, namespace or self._namespace))

    def resume_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        """Fires again from the next firing time after now (paused times are not caught up)."""
        return self._run(schedule_calls.resume_schedule(name, namespace or self._namespace))

    def delete_schedule(self, name: str, *, namespace: str | None = None) -> None:
        """Executions it started run on."""
        self._run(schedule_calls.delete_schedule(name, namespace or self._namespace))
