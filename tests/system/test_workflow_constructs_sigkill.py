"""SIGKILL `orchestrator serve` (and the local Ray it started) while five executions are each in
the middle of a construct, start it again on the same data dir, and check each one: a 500-item
for_each, the third iteration of a loop, a task waiting for a signal (sent while the server is
down, then again), a paused execution, and a sleep. One kill serves all five, so the module
pays for two server starts instead of ten.

The agents append every call to a file (tests/support/construct_agents.py), so "no succeeded
item or iteration runs again" is counted on the replicas' side, not read from the server."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from models.agents import AgentSpec
from models.executions import (
    AttemptStatus,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskStatus,
)
from tests.support.construct_agents import read_calls, score
from tests.support.serve_process import Serve, free_port

T = TypeVar("T")
AGENTS = "tests.support.construct_agents"
ITEMS = 500
KILL_AFTER_ITEMS = 100
ITEM_CONCURRENCY = 4
FILES = [f"src/module_{i:03d}.py" for i in range(ITEMS)]
# Long enough that the wake time usually falls after the restart (about 15 s here).
NAP_S = 25.0

FAN = json.dumps(
    {
        "name": "fan",
        "inputs": {"files": {"type": "array"}, "gate": {"type": "string"}},
        "tasks": [
            {"id": "plan", "agent": "worker", "input": {"files": "${inputs.files}"}},
            {
                "id": "review",
                "agent": "reviewer",
                "for_each": "${tasks.plan.output.files}",
                "max_concurrency": ITEM_CONCURRENCY,
                "input": {
                    "file": "${item}",
                    "position": "${index}",
                    "hold_from": KILL_AFTER_ITEMS,
                    "until_file": "${inputs.gate}",
                },
            },
        ],
        "outputs": {"reviews": "${tasks.review.output}"},
    }
)
REVISE = """
name: revise
inputs: {gate: {type: string}}
tasks:
  - id: draft
    agent: reviser
    loop: {until: "output.approved == true", max_iterations: 6}
    input:
      round: "${loop.iteration}"
      previous: "${loop.previous}"
      approve_at: 4
      hold_round: 3
      until_file: "${inputs.gate}"
outputs: {final: "${tasks.draft.output}"}
"""
APPROVAL = """
name: approval
tasks:
  - {id: build, agent: worker, input: {artifact: app-1.0}}
  - {id: approve, wait_for_signal: approve, depends_on: [build]}
  - {id: release, agent: worker, input: {by: "${tasks.approve.output.user}"}}
outputs: {released_by: "${tasks.release.output.by}"}
"""
# Two branches: one whose first task finished while paused (its next one must not start),
# one whose task was running when paused (its lost attempt must not be retried while paused).
PAUSABLE = """
name: pausable
inputs: {gate_a: {type: string}, gate_b: {type: string}}
tasks:
  - {id: a1, agent: worker, input: {until_file: "${inputs.gate_a}"}}
  - {id: a2, agent: worker, depends_on: [a1]}
  - {id: b1, agent: worker, input: {until_file: "${inputs.gate_b}"}}
"""
NAP = f"""
name: nap
tasks:
  - {{id: rest, sleep: {NAP_S:g}s}}
  - {{id: after, agent: worker, depends_on: [rest]}}
"""
SIGNAL_REQUEST = "approve-during-outage"


@dataclass
class Crash:
    """What the module's one kill left behind, and the restarted server."""

    client: OrchestratorClient
    calls_file: str
    gates: Path
    ids: dict[str, str]  # workflow name -> the execution that was killed in the middle
    before: dict[str, ExecutionRecord]  # just before the kill
    called_before: dict[str, list[str]]  # the tasks the agents had been called for by then
    signal_refusal: ClientError  # what the signal sent while the server was down met
    restarted_at: float  # wall clock: the second server answered


def until(check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def holds(check: Callable[[], bool], what: str, for_s: float) -> None:
    """`check()` stays true for `for_s` seconds (what must not happen does not)."""
    end = time.monotonic() + for_s
    while time.monotonic() < end:
        assert check(), what
        time.sleep(0.05)


def task_status(client: OrchestratorClient, execution_id: str, task_id: str) -> TaskStatus | None:
    task = client.get_execution(execution_id).tasks.get(task_id)
    return None if task is None else task.status


def finished(client: OrchestratorClient, execution_id: str, timeout: float = 90) -> ExecutionRecord:
    record = until(
        lambda: (r := client.get_execution(execution_id)).status.terminal and r,
        f"execution {execution_id} to end",
        timeout,
    )
    return client.with_omitted_values(record)


def item_index(task_id: str) -> int:
    return int(task_id[task_id.index("[") + 1 : -1])


def deploy(client: OrchestratorClient, calls_file: str) -> None:
    for name, cls, replicas, extra in (
        ("worker", "Worker", 2, {}),
        ("reviewer", "Reviewer", 2, {}),
        ("reviser", "Reviser", 1, {}),
    ):
        spec = AgentSpec(
            name,
            "v1",
            f"{AGENTS}:{cls}",
            replicas=replicas,
            max_concurrency=4,
            config={"calls_file": calls_file, **extra},
        )
        client.deploy_agent(spec)
    for definition in (FAN, REVISE, APPROVAL, PAUSABLE, NAP):
        client.create_workflow(definition)


def bring_to_the_middle(client: OrchestratorClient, calls_file: str, gates: Path) -> dict[str, str]:
    """Starts one execution per construct and returns once each is where the kill should find
    it: the loop holding in its third iteration, the signal awaited, the execution paused, the
    timer running, and the fan-out past its first hundred items."""
    ids: dict[str, str] = {}

    def start(workflow: str, inputs: dict[str, object] | None = None) -> str:
        ids[workflow] = client.start_execution(workflow, inputs, request_id=workflow).execution_id
        return ids[workflow]

    revise = start("revise", {"gate": str(gates / "round-3")})
    until(lambda: "draft#3" in read_calls(calls_file, revise), "the third iteration")

    approval = start("approval")
    until(
        lambda: task_status(client, approval, "approve") is TaskStatus.RUNNING,
        "the wait for the signal",
    )

    pausable = start("pausable", {"gate_a": str(gates / "a"), "gate_b": str(gates / "b")})
    until(lambda: len(read_calls(calls_file, pausable)) == 2, "a1 and b1 to run")
    assert client.pause_execution(pausable, "investigating").paused
    (gates / "a").touch()
    until(lambda: task_status(client, pausable, "a1") is TaskStatus.SUCCEEDED, "a1 to finish")

    nap = start("nap")
    until(lambda: task_status(client, nap, "rest") is TaskStatus.RUNNING, "the timer")

    # The items from the hundred-and-first on hold until their gate opens, so the kill finds
    # exactly a hundred items done and four in flight on the replicas.
    fan = start("fan", {"files": FILES, "gate": str(gates / "items")})

    def held() -> bool:
        called = [t for t in read_calls(calls_file, fan) if t.startswith("review[")]
        review = client.get_execution(fan).tasks["review"]
        return (
            len(called) == KILL_AFTER_ITEMS + ITEM_CONCURRENCY
            and review.items_succeeded == KILL_AFTER_ITEMS
            and review.items_running == ITEM_CONCURRENCY
        )

    until(held, "a hundred items done and four more held")
    return ids


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    work = tmp_path_factory.mktemp("constructs")
    calls_file, gates, data_dir = str(work / "calls.log"), work / "gates", work / "data"
    gates.mkdir()
    first = Serve(data_dir, free_port(), None, {})
    try:
        with OrchestratorClient(first.address, timeout_s=120) as client:
            deploy(client, calls_file)
            ids = bring_to_the_middle(client, calls_file, gates)
            before = {name: client.get_execution(eid) for name, eid in ids.items()}
            called = {name: read_calls(calls_file, eid) for name, eid in ids.items()}
    finally:
        first.kill()

    # Down: the signal cannot be delivered, and the client says so (no retries here).
    offline = OrchestratorClient(first.address, timeout_s=5, retry=None)
    with offline, pytest.raises(ClientError) as refused:
        offline.signal_execution(ids["approval"], "approve", {"user": "ada"}, SIGNAL_REQUEST)

    second = Serve(data_dir, int(first.address.rsplit(":", 1)[1]), None, {})
    restarted_at = time.time()
    try:
        with OrchestratorClient(second.address, timeout_s=60) as client:
            yield Crash(client, calls_file, gates, ids, before, called, refused.value, restarted_at)
    finally:
        for gate in ("items", "round-3", "a", "b"):  # nothing left holding a replica
            (gates / gate).touch()
        second.terminate()


def test_a_for_each_resumes_without_rerunning_a_succeeded_item(crash: Crash) -> None:
    client, eid = crash.client, crash.ids["fan"]
    review = crash.before["fan"].tasks["review"]
    assert (review.items_total, review.items_succeeded, review.items_running) == (
        ITEMS,
        KILL_AFTER_ITEMS,
        ITEM_CONCURRENCY,
    )
    called = [t for t in crash.called_before["fan"] if t.startswith("review[")]
    in_flight = [t for t in called if item_index(t) >= KILL_AFTER_ITEMS]
    done_before = [t for t in called if t not in in_flight]
    assert len(done_before) == KILL_AFTER_ITEMS and len(in_flight) == ITEM_CONCURRENCY

    (crash.gates / "items").touch()
    done = finished(client, eid)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    expected = [{"file": f, "position": i, "score": score(f)} for i, f in enumerate(FILES)]
    assert done.tasks["review"].output == expected
    assert done.outputs == {"reviews": expected}
    assert done.tasks["review"].items_succeeded == ITEMS

    # Those in flight at the kill were lost and ran again; every other item, the hundred that
    # had succeeded among them, ran once: on the replicas (the calls) and in the history.
    items = [f"review[{i}]" for i in range(ITEMS)]
    once_or_twice = {t: 2 if t in in_flight else 1 for t in items}
    calls = Counter(read_calls(crash.calls_file, eid))
    assert calls["plan"] == 1
    assert {t: calls[t] for t in items} == once_or_twice
    events = list(client.watch_execution(eid))
    started = Counter(e.task_id for e in events if e.type is EventType.ATTEMPT_STARTED)
    assert {t: started[t] for t in items} == once_or_twice
    lost = [e.task_id for e in events if e.type is EventType.ATTEMPT_LOST]
    assert sorted(lost) == sorted(in_flight)

    fresh = client.start_execution("fan", {"files": FILES, "gate": str(crash.gates / "items")})
    uninterrupted = finished(client, fresh.execution_id)
    assert uninterrupted.status is ExecutionStatus.SUCCEEDED
    assert uninterrupted.outputs == done.outputs


def test_a_loop_killed_in_its_third_iteration_reruns_no_earlier_one(crash: Crash) -> None:
    client, eid = crash.client, crash.ids["revise"]
    before = crash.before["revise"]
    assert [before.tasks[f"draft#{n}"].status for n in (1, 2, 3)] == [
        TaskStatus.SUCCEEDED,
        TaskStatus.SUCCEEDED,
        TaskStatus.RUNNING,
    ]
    (crash.gates / "round-3").touch()
    done = finished(client, eid)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error

    assert Counter(read_calls(crash.calls_file, eid)) == {
        "draft#1": 1,
        "draft#2": 1,
        "draft#3": 2,  # its attempt was lost with the server and ran again
        "draft#4": 1,
    }
    for n in (1, 2):
        assert done.tasks[f"draft#{n}"].attempts == before.tasks[f"draft#{n}"].attempts
    assert [a.status for a in done.tasks["draft#3"].attempts] == [
        AttemptStatus.LOST,
        AttemptStatus.SUCCEEDED,
    ]
    assert "draft#5" not in done.tasks
    assert done.outputs is not None and done.outputs["final"]["round"] == 4

    uninterrupted = finished(
        client,
        client.start_execution("revise", {"gate": str(crash.gates / "round-3")}).execution_id,
    )
    assert uninterrupted.outputs == done.outputs


def test_a_signal_sent_while_the_server_was_down_is_delivered_once_when_sent_again(
    crash: Crash,
) -> None:
    client, eid = crash.client, crash.ids["approval"]
    assert crash.signal_refusal.code_name == "UNAVAILABLE", crash.signal_refusal
    waiting = client.get_execution(eid)
    assert waiting.status is ExecutionStatus.RUNNING
    approve = waiting.tasks["approve"]
    assert approve.status is TaskStatus.RUNNING and approve.output is None
    assert approve.attempts == crash.before["approval"].tasks["approve"].attempts  # same wait

    client.signal_execution(eid, "approve", {"user": "ada"}, SIGNAL_REQUEST)
    done = finished(client, eid)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.tasks["approve"].output == {"user": "ada"}
    assert done.outputs == {"released_by": "ada"}
    received = [e for e in client.watch_execution(eid) if e.type is EventType.SIGNAL_RECEIVED]
    assert [e.details["request_id"] for e in received] == [SIGNAL_REQUEST]
    assert Counter(read_calls(crash.calls_file, eid)) == {"build": 1, "release": 1}


def test_a_paused_execution_stays_paused_until_resumed(crash: Crash) -> None:
    client, eid = crash.client, crash.ids["pausable"]
    before = crash.before["pausable"]
    assert before.paused and before.tasks["b1"].status is TaskStatus.RUNNING

    def still_held() -> bool:
        record = client.get_execution(eid)
        return (
            record.paused
            and record.status is ExecutionStatus.RUNNING
            and not record.tasks["a2"].attempts
            and all(a.status is not AttemptStatus.RUNNING for a in record.tasks["b1"].attempts)
        )

    holds(still_held, "a paused execution started an attempt after the restart", for_s=2.0)
    assert sorted(read_calls(crash.calls_file, eid)) == ["a1", "b1"]

    (crash.gates / "b").touch()
    client.resume_execution(eid, "fine")
    done = finished(client, eid)
    assert done.status is ExecutionStatus.SUCCEEDED and not done.paused, done.error
    assert done.tasks["a1"].attempts == before.tasks["a1"].attempts
    assert done.tasks["b1"].attempts[0].status is AttemptStatus.LOST
    assert Counter(read_calls(crash.calls_file, eid)) == {"a1": 1, "a2": 1, "b1": 2}


def test_a_sleep_ends_at_its_original_wake_time(crash: Crash) -> None:
    client, eid = crash.client, crash.ids["nap"]
    (started,) = crash.before["nap"].tasks["rest"].attempts
    wake = started.start_time + NAP_S
    done = finished(client, eid, timeout=NAP_S + 30)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    (rest,) = done.tasks["rest"].attempts
    assert rest.start_time == started.start_time and rest.end_time is not None
    assert rest.end_time >= wake
    # At the wake time, or at once if that passed while the server was down; never a whole
    # sleep counted again from the restart.
    assert rest.end_time - max(wake, crash.restarted_at) < 5, (
        rest.end_time - wake,
        crash.restarted_at - wake,
    )
    assert read_calls(crash.calls_file, eid) == ["after"]
