"""The synchronous client's schedule methods (ScheduleService), kept apart from the rest of
OrchestratorClient, which provides `_run` and `_items`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from controlplane.api.client import schedule_calls
from controlplane.api.client.calls import Call, Paged
from models.schedules import Schedule, ScheduleSpec

T = TypeVar("T")


class ScheduleMethods:
    page_size: int

    def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        raise NotImplementedError

    def create_schedule(self, spec: ScheduleSpec) -> tuple[Schedule, bool]:
        """(the schedule, False when an identical one of that name existed)."""
        return self._run(schedule_calls.create_schedule(spec))

    def get_schedule(self, name: str) -> Schedule:
        return self._run(schedule_calls.get_schedule(name))

    def iter_schedules(self) -> Iterator[Schedule]:
        """Every schedule, by name."""
        return self._items(schedule_calls.list_schedules(self.page_size))

    def list_schedules(self) -> list[Schedule]:
        return list(self.iter_schedules())

    def pause_schedule(self, name: str) -> Schedule:
        return self._run(schedule_calls.pause_schedule(name))

    def resume_schedule(self, name: str) -> Schedule:
        """Fires again from the next firing time after now (paused times are not caught up)."""
        return self._run(schedule_calls.resume_schedule(name))

    def delete_schedule(self, name: str) -> None:
        """Executions it started run on."""
        self._run(schedule_calls.delete_schedule(name))
