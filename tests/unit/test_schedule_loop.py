"""The schedule loop with a fake clock, real SQLite and a real workflow catalog; the execution
engine is a stand-in that keeps one execution per request id, as the real one does (its
idempotence is tested on its own). Restarts build the manager and the loop again on the same
store, and a kill is an exception that unwinds the loop between an acknowledged start and the
state written after it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.schedules.firing import Buffer, Miss, Skip, Start
from controlplane.engine.schedules.loop import ExecutionPorts, Fired, ScheduleLoop
from controlplane.engine.schedules.manager import ScheduleManager
from controlplane.store import SqliteStore
from controlplane.store.schedules import ScheduleStore
from models.cron_zones import rfc3339
from models.errors import FailedPrecondition, OrchestratorError, Unavailable
from models.executions import ExecutionRecord, ExecutionStatus
from models.schedules import OverlapPolicy, ScheduleSpec

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC).timestamp()
MINUTE = 60.0
WORKFLOW = """
name: report
inputs: {day: {type: string, default: today}}
tasks:
  - {id: write, agent: work, input: "${inputs.day}"}
"""


class Killed(BaseException):
    """The control plane dies here (nothing after it runs)."""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Executions:
    """One execution per request id, RUNNING until the test ends it."""

    def __init__(self) -> None:
        self.by_request: dict[str, str] = {}
        self.status: dict[str, ExecutionStatus] = {}
        self.calls: list[str] = []
        self.cancelled: list[str] = []
        self.refusal: OrchestratorError | None = None
        self.kill_after_start = False

    async def start(
        self, workflow: str, revision: int, inputs: dict[str, Any], request_id: str, ns: str
    ) -> tuple[ExecutionRecord, bool]:
        self.calls.append(request_id)
        if self.refusal is not None:
            raise self.refusal
        created = request_id not in self.by_request
        if created:
            execution_id = f"e{len(self.by_request) + 1}"
            self.by_request[request_id] = execution_id
            self.status[execution_id] = ExecutionStatus.RUNNING
        execution_id = self.by_request[request_id]
        if self.kill_after_start:
            raise Killed
        record = ExecutionRecord(
            execution_id, workflow, 1, self.status[execution_id], inputs, 0.0, request_id
        )
        return record, created

    async def cancel(self, execution_id: str, reason: str) -> None:
        if self.status[execution_id].terminal:
            raise FailedPrecondition("already ended")
        self.cancelled.append(execution_id)
        self.status[execution_id] = ExecutionStatus.CANCELLED

    def end_all(self) -> None:
        for execution_id, status in self.status.items():
            if not status.terminal:
                self.status[execution_id] = ExecutionStatus.SUCCEEDED

    def started_times(self, schedule: str) -> list[str]:
        prefix = f"schedule:{schedule}:"
        return sorted(r.removeprefix(prefix) for r in self.by_request if r.startswith(prefix))

    def ports(self) -> ExecutionPorts:
        return ExecutionPorts(
            start=self.start,
            cancel=self.cancel,
            status_of=self.status.get,
            started_by=lambda namespace, request_id: self.by_request.get(request_id),
        )


class Plane:
    """The parts of a control plane the loop needs, on one data directory."""

    def __init__(self, data_dir: Path, clock: Clock, executions: Executions) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.executions = executions
        self.store = SqliteStore(data_dir / "orchestrator.db")
        self.catalog = WorkflowCatalog(self.store, lambda: {"work"}, clock)
        self.manager = ScheduleManager(ScheduleStore(self.store), self.catalog, clock)
        self.loop = ScheduleLoop(self.manager, executions.ports(), clock, interval_s=1.0)

    def run(self, coroutine: Any) -> Any:
        async def body() -> Any:
            try:
                return await coroutine
            finally:
                await self.catalog.close()

        return asyncio.run(body())

    def round(self) -> list[Fired]:
        done: list[Fired] = self.run(self.loop.run_once())
        return done

    def create(self, **changes: Any) -> None:
        fields: dict[str, Any] = {"name": "daily", "workflow": "report", "cron": "* * * * *"}
        fields.update(changes)
        self.run(self.manager.create(ScheduleSpec(**fields)))

    def restart(self) -> Plane:
        self.store.close()
        return Plane(self.data_dir, self.clock, self.executions)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[Plane]:
    clock = Clock(T0 - 30)
    plane = Plane(tmp_path, clock, Executions())
    plane.run(plane.catalog.create(WORKFLOW))
    yield plane
    plane.store.close()


def at(minutes: float) -> str:
    return rfc3339(T0 + minutes * MINUTE)


def test_each_time_starts_once_and_the_state_is_stored(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.ALLOW_ALL)
    assert plane.round() == []  # 08:59:30: nothing due
    plane.clock.now = T0 + 0.4
    (fired,) = plane.round()
    assert fired.action == Start(T0) and fired.execution_id == "e1"
    assert plane.round() == []  # the same time never twice
    plane.clock.now = T0 + 2 * MINUTE + 1
    assert [f.action for f in plane.round()] == [Start(T0 + MINUTE), Start(T0 + 2 * MINUTE)]
    schedule = plane.manager.get("daily")
    assert schedule.state.last_fire_time == T0 + 2 * MINUTE
    assert schedule.state.next_fire_time == T0 + 3 * MINUTE
    assert schedule.state.last_execution_ids == ("e3", "e2", "e1")
    # What the loop stored is what a restarted control plane reads.
    assert plane.restart().manager.get("daily") == schedule
    assert plane.executions.started_times("daily") == [at(0), at(1), at(2)]


def test_times_missed_while_down_start_once_each_within_the_window(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.ALLOW_ALL, catch_up_window_s=300.0)
    plane.clock.now = T0 + 1
    plane.round()
    # Down from 09:00:01 to 09:12:30: 09:01 .. 09:07 are older than 5 minutes.
    plane.clock.now = T0 + 12.5 * MINUTE
    second = plane.restart()
    done = second.round()
    assert done[0].action == Miss(T0 + MINUTE, 7, T0 + 8 * MINUTE)
    assert [f.action.fire_time for f in done[1:]] == [  # type: ignore[union-attr]
        T0 + m * MINUTE for m in range(8, 13)
    ]
    assert second.manager.get("daily").state.missed_count == 7
    third = second.restart()
    assert third.round() == []
    assert plane.executions.started_times("daily") == [at(0), *map(at, range(8, 13))]
    assert len(plane.executions.calls) == len(set(plane.executions.calls))


def test_a_kill_between_the_start_and_its_record_starts_nothing_twice(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.ALLOW_ALL)
    plane.clock.now = T0 + 0.2
    plane.executions.kill_after_start = True
    with pytest.raises(Killed):
        plane.round()
    assert plane.manager.get("daily").state.next_fire_time == T0  # not recorded
    plane.executions.kill_after_start = False
    second = plane.restart()
    (fired,) = second.round()
    # Started again with the same request id: the execution of the first try.
    assert fired == Fired("daily", Start(T0), "e1")
    assert plane.executions.calls == [f"schedule:daily:{at(0)}"] * 2
    assert plane.executions.started_times("daily") == [at(0)]
    assert second.manager.get("daily").state.last_execution_ids == ("e1",)


def test_a_killed_firing_found_after_its_window_counts_as_started(plane: Plane) -> None:
    plane.create(catch_up_window_s=60.0)
    plane.clock.now = T0 + 0.2
    plane.executions.kill_after_start = True
    with pytest.raises(Killed):
        plane.round()
    plane.executions.kill_after_start = False
    plane.executions.end_all()
    plane.clock.now = T0 + 10 * MINUTE + 5  # 09:00 is long out of the window
    second = plane.restart()
    done = second.round()
    assert done[0] == Fired("daily", Start(T0), "e1")
    assert done[1].action == Miss(T0 + MINUTE, 9, T0 + 10 * MINUTE)
    state = second.manager.get("daily").state
    assert state.missed_count == 9 and state.last_execution_ids == ("e2", "e1")  # e2: 09:10


def test_skip_while_the_previous_execution_runs(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.SKIP)
    plane.clock.now = T0 + 1
    plane.round()
    plane.clock.now = T0 + 2 * MINUTE + 1
    assert [f.action for f in plane.round()] == [Skip(T0 + MINUTE), Skip(T0 + 2 * MINUTE)]
    plane.executions.end_all()
    plane.clock.now = T0 + 3 * MINUTE + 1
    assert [f.action for f in plane.round()] == [Start(T0 + 3 * MINUTE)]
    assert plane.manager.get("daily").state.skipped_count == 2
    assert plane.executions.started_times("daily") == [at(0), at(3)]


def test_buffer_one_starts_one_waiting_firing_when_the_running_one_ends(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.BUFFER_ONE)
    plane.clock.now = T0 + 1
    plane.round()
    plane.clock.now = T0 + 2 * MINUTE + 1
    assert [f.action for f in plane.round()] == [Buffer(T0 + MINUTE), Skip(T0 + 2 * MINUTE)]
    assert plane.round() == []
    # The buffered firing survives a restart, and starts once the running execution ends.
    second = plane.restart()
    assert second.manager.get("daily").state.buffered_fire_time == T0 + MINUTE
    plane.executions.end_all()
    second.clock.now = T0 + 2 * MINUTE + 20
    (fired,) = second.round()
    assert fired.action == Start(T0 + MINUTE, buffered=True) and fired.execution_id == "e2"
    state = second.manager.get("daily").state
    assert state.buffered_fire_time is None and state.next_fire_time == T0 + 3 * MINUTE
    assert plane.executions.started_times("daily") == [at(0), at(1)]


def test_cancel_other_cancels_the_running_execution_then_starts(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.CANCEL_OTHER)
    plane.clock.now = T0 + 1
    plane.round()
    plane.clock.now = T0 + MINUTE + 1
    (fired,) = plane.round()
    assert fired.action == Start(T0 + MINUTE, cancel=("e1",)) and fired.execution_id == "e2"
    assert plane.executions.cancelled == ["e1"]
    assert plane.executions.status["e2"] is ExecutionStatus.RUNNING


def test_allow_all_overlaps(plane: Plane) -> None:
    plane.create(overlap_policy=OverlapPolicy.ALLOW_ALL)
    plane.clock.now = T0 + MINUTE + 1
    plane.round()
    assert [plane.executions.status[e] for e in ("e1", "e2")] == [ExecutionStatus.RUNNING] * 2


def test_a_refused_start_is_recorded_and_an_outage_is_waited_out(plane: Plane) -> None:
    plane.create()
    plane.clock.now = T0 + 1
    plane.executions.refusal = Unavailable("the store refuses writes")
    assert plane.round() == []
    assert plane.manager.get("daily").state.next_fire_time == T0  # tried again next round
    plane.executions.refusal = FailedPrecondition("agent 'work' is not deployed")
    (fired,) = plane.round()
    assert fired.error == "agent 'work' is not deployed"
    state = plane.manager.get("daily").state
    assert state.failed_count == 1 and state.next_fire_time == T0 + MINUTE
    assert state.last_error == f"{at(0)}: agent 'work' is not deployed"
    plane.executions.refusal = None
    plane.clock.now = T0 + MINUTE + 1
    assert plane.round()[0].execution_id == "e1"


def test_a_paused_schedule_does_not_fire_and_resumes_from_now(plane: Plane) -> None:
    plane.create()
    plane.run(plane.manager.pause("daily"))
    assert plane.manager.get("daily").state.next_fire_time is None
    plane.clock.now = T0 + 5 * MINUTE + 1
    assert plane.round() == []
    resumed = plane.run(plane.manager.resume("daily"))
    assert resumed.state.next_fire_time == T0 + 6 * MINUTE  # the paused times are not caught up
    plane.clock.now = T0 + 6 * MINUTE + 1
    assert [f.action for f in plane.round()] == [Start(T0 + 6 * MINUTE)]


def test_a_deleted_schedule_stops_firing(plane: Plane) -> None:
    plane.create()
    plane.run(plane.manager.delete("daily"))
    plane.clock.now = T0 + 5 * MINUTE
    assert plane.round() == []
    assert plane.restart().manager.names() == []


def test_daylight_saving_nights_in_new_york(plane: Plane) -> None:
    spring = datetime(2026, 3, 7, tzinfo=UTC).timestamp()  # 6 March, 19:00 EST
    plane.clock.now = spring
    plane.create(cron="30 2 * * *", time_zone="America/New_York")
    fired = []
    for day in range(4):  # one round every 30 minutes for four days
        for step in range(48):
            plane.clock.now = spring + day * 86400 + step * 1800
            fired += [rfc3339(f.action.fire_time) for f in plane.round()]  # type: ignore[union-attr]
    # 7 March, then not on the 8th (02:30 does not exist), then 9 and 10 March.
    assert fired == ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"]
    plane.executions.end_all()


def test_fall_back_fires_the_repeated_time_once(tmp_path: Path) -> None:
    autumn = datetime(2026, 11, 1, 4, 0, tzinfo=UTC).timestamp()  # 00:00 EDT
    plane = Plane(tmp_path, Clock(autumn), Executions())
    plane.run(plane.catalog.create(WORKFLOW))
    plane.create(cron="30 1 * * *", time_zone="America/New_York")
    fired = []
    for step in range(4 * 12):  # every 5 minutes for four hours
        plane.clock.now = autumn + step * 300
        fired += [rfc3339(f.action.fire_time) for f in plane.round()]  # type: ignore[union-attr]
        plane.executions.end_all()
    assert fired == ["2026-11-01T05:30:00Z"]  # 01:30 EDT, not again at 01:30 EST
    plane.store.close()
