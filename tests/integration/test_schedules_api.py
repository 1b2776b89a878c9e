"""ScheduleService end to end: a real control plane on a socket with real SQLite and the real
execution engine, the in-process agent backend instead of Ray (the firing path does not reach
Ray). The control plane's clock runs ahead of the wall clock by an offset set before a schedule is
created, so that a minute starts a second or two later: a firing happens soon, without waiting
for the wall clock's next minute. Validation (every bad field at its path), CRUD and paging,
firing through StartExecution, catching up after a restart, and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.api.gen.orchestrator.v1 import schedule_pb2, schedule_pb2_grpc
from controlplane.cli.main import EXIT_REJECTED, main
from models.agents import AgentSpec
from models.cron_zones import rfc3339
from models.executions import ExecutionRecord, ExecutionStatus
from models.schedules import OverlapPolicy, ScheduleSpec
from tests.integration.conftest import eventually
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend

WORKFLOW = """
name: report
inputs:
  day: {type: string}
  pages: {type: integer, default: 1}
tasks:
  - {id: write, agent: work, input: {day: "${inputs.day}", pages: "${inputs.pages}"}}
outputs: {written: "${tasks.write.output}"}
"""
LEAD_S = 1.5


class ShiftedClock:
    """The wall clock plus an offset that only moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def near_a_minute(self) -> None:
        """Moves forward to LEAD_S before the next minute."""
        self.offset += (60 - self() % 60 - LEAD_S) % 60


def start_server(data_dir: Path, clock: Callable[[], float]) -> ServerThread:
    return ServerThread(
        data_dir,
        "unused",
        backend=FakeBackend(),
        overrides={"loops.schedule_interval_s": 0.1, "grpc.shutdown_grace_s": 0.1},
        clock=clock,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    server = start_server(tmp_path, ShiftedClock())
    with OrchestratorClient(server.address) as client:
        client.deploy_agent(AgentSpec("work", "v1", "m:Work"))
        client.create_workflow(WORKFLOW)
    yield server
    server.stop()


def violations(error: ClientError) -> dict[str, str]:
    return dict(error.violations)


def test_every_bad_field_is_named_by_its_path(server: ServerThread) -> None:
    with OrchestratorClient(server.address) as client:
        with pytest.raises(ClientError) as bad:
            client.create_schedule(
                ScheduleSpec(
                    name="Nightly!",
                    workflow="ghost",
                    cron="61 * * * *",
                    time_zone="Mars/Olympus_Mons",
                    catch_up_window_s=1.0,
                )
            )
        assert bad.value.code_name == "INVALID_ARGUMENT"
        found = violations(bad.value)
        assert set(found) == {
            "schedule.name",
            "schedule.workflow",
            "schedule.cron",
            "schedule.time_zone",
            "schedule.catch_up_window",
        }
        assert "minute" in found["schedule.cron"] and "61" in found["schedule.cron"]
        assert "Mars/Olympus_Mons" in found["schedule.time_zone"]
        assert "ghost" in found["schedule.workflow"]
        # The namespace first: where the rest is looked up (the spec's is the request's).
        with pytest.raises(ClientError) as namespace:
            client.create_schedule(ScheduleSpec("n", "report", "@daily", namespace="Team A"))
        assert set(violations(namespace.value)) == {"namespace"}

        # Inputs are checked against the workflow's declared inputs, as StartExecution does.
        with pytest.raises(ClientError) as inputs:
            client.create_schedule(
                ScheduleSpec("nightly", "report", "0 3 * * *", inputs={"pages": "two", "x": 1})
            )
        assert set(violations(inputs.value)) == {
            "schedule.inputs.day",  # required, missing
            "schedule.inputs.pages",  # expected integer
            "schedule.inputs.x",  # not declared
        }
        with pytest.raises(ClientError) as revision:
            client.create_schedule(ScheduleSpec("nightly", "report", "0 3 * * *", revision=7))
        assert "schedule.revision" in violations(revision.value)
        with pytest.raises(ClientError) as never:
            client.create_schedule(
                ScheduleSpec("nightly", "report", "0 0 30 2 *", inputs={"day": "d"})
            )
        assert "no time" in violations(never.value)["schedule.cron"]

    # An overlap policy this server does not know, from any client.
    stub = schedule_pb2_grpc.ScheduleServiceStub(grpc.insecure_channel(server.address))
    with pytest.raises(grpc.RpcError) as unknown:
        stub.CreateSchedule(
            schedule_pb2.CreateScheduleRequest(
                schedule=schedule_pb2.Schedule(
                    name="x", workflow="report", cron="@daily", overlap_policy=9
                )
            )
        )
    assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "schedule.overlap_policy" in (unknown.value.details() or "")


def test_create_get_list_pause_resume_delete(server: ServerThread) -> None:
    daily = ScheduleSpec(
        "daily", "report", "30 6 * * mon-fri", inputs={"day": "mon"}, time_zone="Europe/Paris"
    )
    with OrchestratorClient(server.address, page_size=2) as client:
        created, was_new = client.create_schedule(daily)
        assert was_new and created.spec == ScheduleSpec(**{**vars(daily), "namespace": "default"})
        assert created.state.next_fire_time is not None and not created.paused
        # The same request again finds it; other settings under its name are refused.
        again, was_new = client.create_schedule(daily)
        assert not was_new and again == created
        with pytest.raises(ClientError) as taken:
            client.create_schedule(ScheduleSpec("daily", "report", "@hourly", inputs={"day": "x"}))
        assert taken.value.code_name == "ALREADY_EXISTS"
        for name in ("a-first", "zz-last"):
            client.create_schedule(
                ScheduleSpec(name, "report", "@daily", inputs={"day": name}, paused=True)
            )
        # Three schedules at two a page, by name.
        assert [s.name for s in client.list_schedules()] == ["a-first", "daily", "zz-last"]
        assert client.get_schedule("zz-last").state.next_fire_time is None  # created paused

        paused = client.pause_schedule("daily")
        assert paused.paused and paused.state.next_fire_time is None
        assert client.pause_schedule("daily") == paused  # idempotent
        resumed = client.resume_schedule("daily")
        assert not resumed.paused and resumed.state.next_fire_time is not None
        assert resumed.update_time >= paused.update_time

        client.delete_schedule("daily")
        with pytest.raises(ClientError) as gone:
            client.get_schedule("daily")
        assert gone.value.code_name == "NOT_FOUND"
        with pytest.raises(ClientError) as unnamed:
            client.get_schedule("")
        assert unnamed.value.code_name == "INVALID_ARGUMENT"

    with grpc.insecure_channel(server.address) as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answer = next(
            reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        )
        services = {s.name for s in answer.list_services_response.service}
        assert "orchestrator.v1.ScheduleService" in services


def scheduled_runs(client: OrchestratorClient, name: str) -> dict[str, ExecutionRecord]:
    """The executions the schedule started, by request id."""
    prefix = f"schedule:{name}:"
    runs = [e for e in client.list_executions("report") if e.request_id.startswith(prefix)]
    by_id = {e.request_id: e for e in runs}
    assert len(by_id) == len(runs)
    return by_id


def test_firings_start_executions_and_times_missed_while_down_are_caught_up(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    server = start_server(tmp_path, clock)
    try:
        with OrchestratorClient(server.address) as client:
            client.deploy_agent(AgentSpec("work", "v1", "m:Work"))
            client.create_workflow(WORKFLOW)
            clock.near_a_minute()
            created, _ = client.create_schedule(
                ScheduleSpec(
                    "minutely",
                    "report",
                    "* * * * *",
                    inputs={"day": "today"},
                    overlap_policy=OverlapPolicy.ALLOW_ALL,
                )
            )
            first_time = created.state.next_fire_time
            assert first_time is not None and first_time - clock() < 5
            first = f"schedule:minutely:{rfc3339(first_time)}"
            runs = eventually(lambda: scheduled_runs(client, "minutely"), timeout=30)
            assert first in runs
            execution_id = runs[first].execution_id
            eventually(lambda: client.get_execution(execution_id).status.terminal)
            finished = client.get_execution(execution_id)
            assert finished.status is ExecutionStatus.SUCCEEDED
            assert finished.inputs == {"day": "today", "pages": 1}
            state = client.get_schedule("minutely").state
            assert state.last_execution_ids[-1] == execution_id
    finally:
        server.stop()

    # Down for three minutes: on restart, each of them starts once (the window is an hour).
    clock.offset += 180
    server = start_server(tmp_path, clock)
    try:
        with OrchestratorClient(server.address) as client:
            expected = {f"schedule:minutely:{rfc3339(first_time + 60 * m)}" for m in range(4)}
            eventually(lambda: scheduled_runs(client, "minutely").keys() >= expected, timeout=30)
            schedule = client.pause_schedule("minutely")  # no firing from here on
            runs = scheduled_runs(client, "minutely")
            assert schedule.state.missed_count == 0
            # Nothing twice: one execution per firing time, and the schedule knows each.
            fired_until = schedule.state.last_fire_time
            assert fired_until is not None
            assert set(runs) == {
                f"schedule:minutely:{rfc3339(t)}"
                for t in range(int(first_time), int(fired_until) + 1, 60)
            }
            assert set(schedule.state.last_execution_ids) == {e.execution_id for e in runs.values()}
    finally:
        server.stop()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_commands(server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    address = ("--address", server.address)
    code, out, _ = run_cli(
        capsys,
        "schedules",
        "create",
        "nightly",
        "--workflow",
        "report",
        "--cron",
        "30 2 * * *",
        "--time-zone",
        "America/New_York",
        "--input",
        "day=monday",
        "--overlap",
        "buffer-one",
        "--catch-up-window",
        "10m",
        *address,
    )
    assert code == 0 and "schedule nightly created" in out and "-0" in out  # a New York time
    code, out, _ = run_cli(capsys, "schedules", "list", *address)
    assert code == 0
    assert all(word in out for word in ("nightly", "report", "30 2 * * *", "buffer-one", "active"))
    code, out, _ = run_cli(capsys, "schedules", "get", "nightly", "-o", "json", *address)
    shown = json.loads(out)
    assert shown["overlap_policy"] == "BUFFER_ONE" and shown["catch_up_window_s"] == 600
    assert shown["inputs"] == {"day": "monday"} and shown["time_zone"] == "America/New_York"
    code, out, _ = run_cli(capsys, "schedules", "pause", "nightly", *address)
    assert code == 0 and "paused" in out
    code, out, _ = run_cli(capsys, "schedules", "resume", "nightly", *address)
    assert code == 0 and "active" in out and "catch-up   10m" in out
    code, _, err = run_cli(
        capsys,
        "schedules",
        "create",
        "bad",
        "--workflow",
        "report",
        "--cron",
        "* * *",
        "--input",
        "day=x",
        *address,
    )
    assert code == EXIT_REJECTED and "schedule.cron" in err
    code, out, _ = run_cli(capsys, "schedules", "delete", "nightly", *address)
    assert code == 0 and "deleted schedule nightly" in out
    code, _, err = run_cli(capsys, "schedules", "get", "nightly", *address)
    assert code == EXIT_REJECTED and "NOT_FOUND" in err
