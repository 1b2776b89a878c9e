"""Every construct of workflows that decide, on real local Ray replicas through a real server:
conditions and trigger rules, a bounded for_each, a loop until approved, child workflows (and
their cancellation), a signal, a durable sleep, compensations with a finally task, and pauses
(of a running task, and of one queued for a replica slot).
The agents append each call to a file, so the tests also see which tasks used a replica."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec
from models.executions import EventType, ExecutionRecord, ExecutionStatus, TaskStatus
from tests.integration.conftest import eventually
from tests.support.construct_agents import read_calls, score
from tests.support.server_thread import ServerThread

AGENTS = "tests.support.construct_agents"


@pytest.fixture(scope="module")
def calls_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("calls") / "calls.log")


@pytest.fixture(scope="module")
def client(server: ServerThread, calls_file: str) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=60) as c:
        # Eight slots for the fan-out: its bound of four is the engine's, not the replicas'.
        for name, cls, replicas, extra in (
            ("worker", "Worker", 2, {}),
            ("reviewer", "Reviewer", 2, {"delay_s": 0.1, "timed": True}),
            ("reviser", "Reviser", 1, {}),
            ("solo", "Worker", 1, {}),
        ):
            config = {"calls_file": calls_file, **extra}
            slots = 1 if name == "solo" else 4  # solo: one slot, so a second task queues
            spec = AgentSpec(
                name, "v1", f"{AGENTS}:{cls}", replicas, max_concurrency=slots, config=config
            )
            c.deploy_agent(spec)
        yield c


def _finished(
    client: OrchestratorClient, execution_id: str, timeout: float = 60
) -> ExecutionRecord:
    def check() -> ExecutionRecord | None:
        record = client.get_execution(execution_id)
        return record if record.status.terminal else None

    return eventually(check, timeout=timeout)


def _task_is(
    client: OrchestratorClient, execution_id: str, task_id: str, status: TaskStatus
) -> bool:
    task = client.get_execution(execution_id).tasks.get(task_id)
    return task is not None and task.status is status


def _statuses(record: ExecutionRecord) -> dict[str, str]:
    return {tid: t.status.value for tid, t in record.tasks.items()}


def _holds(check: Any, what: str, for_s: float) -> None:
    """`check()` stays true for `for_s` seconds (what must not happen does not)."""
    until = time.monotonic() + for_s
    while time.monotonic() < until:
        assert check(), what
        time.sleep(0.05)


def test_conditions_and_trigger_rules_skip_tasks_with_their_reasons(
    client: OrchestratorClient, calls_file: str
) -> None:
    client.create_workflow(
        """
name: decide
tasks:
  - {id: score, agent: worker, input: {score: 0.5}}
  - {id: fix, agent: worker, when: "tasks.score.output.score < 0.8", input: {fixing: true}}
  - {id: celebrate, agent: worker, when: "tasks.score.output.score >= 0.8"}
  - {id: ship, agent: worker, depends_on: [fix], input: {fail: true}, retry: {max_attempts: 1}}
  - {id: announce, agent: worker, depends_on: [ship]}
  - {id: party, agent: worker, depends_on: [celebrate]}
  - {id: tolerant, agent: worker, depends_on: [fix, celebrate], trigger: none_failed}
  - {id: rollback, agent: worker, depends_on: [ship], trigger: any_failed}
  - {id: alarm, agent: worker, depends_on: [fix], trigger: any_failed}
  - {id: cleanup, agent: worker, depends_on: [ship, celebrate], trigger: all_done}
"""
    )
    done = _finished(client, client.start_execution("decide").execution_id)
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None and done.error.task_id == "ship"
    assert _statuses(done) == {
        "score": "SUCCEEDED",
        "fix": "SUCCEEDED",
        "celebrate": "SKIPPED",
        "ship": "FAILED",
        "announce": "SKIPPED",
        "party": "SKIPPED",
        "tolerant": "SUCCEEDED",
        "rollback": "SUCCEEDED",
        "alarm": "SKIPPED",
        "cleanup": "SUCCEEDED",
    }
    reasons = {
        tid: (t.error.type, t.error.message)
        for tid, t in done.tasks.items()
        if t.status is TaskStatus.SKIPPED and t.error is not None
    }
    assert {tid: kind for tid, (kind, _) in reasons.items()} == {
        "celebrate": "ConditionFalse",
        "announce": "UpstreamFailed",
        "party": "UpstreamSkipped",
        "alarm": "NotTriggered",
    }
    assert "score >= 0.8" in reasons["celebrate"][1]
    assert "no upstream task failed" in reasons["alarm"][1]
    # Only the tasks that ran used a replica, each once.
    ran = sorted(read_calls(calls_file, done.execution_id))
    assert ran == sorted(t for t, s in _statuses(done).items() if s != "SKIPPED")
    assert all(not done.tasks[t].attempts for t in reasons)
    skipped = [
        e for e in client.watch_execution(done.execution_id) if e.type is EventType.TASK_SKIPPED
    ]
    assert sorted(e.task_id for e in skipped) == sorted(reasons)


def test_a_for_each_of_fifty_items_runs_at_most_four_at_once_and_keeps_item_order(
    client: OrchestratorClient, calls_file: str
) -> None:
    files = [f"src/module_{i:02d}.py" for i in range(50)]
    client.create_workflow(
        json.dumps(
            {
                "name": "fan-out",
                "inputs": {"files": {"type": "array"}},
                "tasks": [
                    {"id": "plan", "agent": "worker", "input": {"files": "${inputs.files}"}},
                    {
                        "id": "review",
                        "agent": "reviewer",
                        "for_each": "${tasks.plan.output.files}",
                        "max_concurrency": 4,
                        "input": {"file": "${item}", "position": "${index}"},
                    },
                ],
                "outputs": {"reviews": "${tasks.review.output}"},
            }
        )
    )
    started = time.monotonic()
    done = _finished(client, client.start_execution("fan-out", {"files": files}).execution_id)
    took = time.monotonic() - started
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    done = client.with_omitted_values(done)
    reviews = done.tasks["review"].output
    assert [(r["file"], r["position"], r["score"]) for r in reviews] == [
        (f, i, score(f)) for i, f in enumerate(files)
    ]
    assert done.outputs == {"reviews": reviews}
    review = done.tasks["review"]
    assert (review.items_total, review.items_succeeded, review.items_failed) == (50, 50, 0)
    calls = read_calls(calls_file, done.execution_id)
    assert sorted(calls) == sorted(["plan", *(f"review[{i}]" for i in range(50))])

    # The most calls in progress at one moment, from the agents' own clocks.
    edges = sorted(
        [(r["started"], 1) for r in reviews] + [(r["ended"], -1) for r in reviews],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    running, peak = 0, 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 2 <= peak <= 4, peak
    assert took < 30, took  # 50 x 0.1 s four at a time, not one at a time


def test_a_loop_revises_until_the_reviewer_approves(
    client: OrchestratorClient, calls_file: str
) -> None:
    client.create_workflow(
        """
name: revise
tasks:
  - id: draft
    agent: reviser
    loop: {until: "output.approved == true", max_iterations: 5}
    input: {round: "${loop.iteration}", previous: "${loop.previous}", approve_at: 3}
  - {id: publish, agent: worker, input: {final: "${tasks.draft.output}"}}
outputs: {published: "${tasks.publish.output.final.round}"}
"""
    )
    done = _finished(client, client.start_execution("revise").execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    first = {"round": 1, "approved": False, "revised": None}
    second = {"round": 2, "approved": False, "revised": first}
    assert done.tasks["draft"].output == {"round": 3, "approved": True, "revised": second}
    assert [done.tasks[f"draft#{n}"].output for n in (1, 2)] == [first, second]
    assert "draft#4" not in done.tasks
    assert done.outputs == {"published": 3}
    assert read_calls(calls_file, done.execution_id) == ["draft#1", "draft#2", "draft#3", "publish"]


CHILD = """
name: child
inputs: {x: {type: integer}, gate: {type: string, default: ""}}
tasks:
  - {id: work, agent: worker, input: {x: "${inputs.x}", until_file: "${inputs.gate}"}}
outputs: {worked_on: "${tasks.work.output.x}"}
"""


def _children(client: OrchestratorClient, parent_id: str) -> list[ExecutionRecord]:
    return [e for e in client.list_executions("child") if e.parent_execution_id == parent_id]


def test_a_child_workflow_gives_the_parent_its_outputs(client: OrchestratorClient) -> None:
    client.create_workflow(CHILD)
    client.create_workflow(
        """
name: parent
tasks:
  - {id: call, workflow: child, input: {x: 21}}
  - {id: use, agent: worker, input: {got: "${tasks.call.output.worked_on}"}}
outputs: {answer: "${tasks.use.output.got}"}
"""
    )
    done = _finished(client, client.start_execution("parent").execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.tasks["call"].output == {"worked_on": 21}
    assert done.outputs == {"answer": 21}
    children = _children(client, done.execution_id)
    assert len(children) == 1 and children[0].status is ExecutionStatus.SUCCEEDED
    child = client.get_execution(children[0].execution_id)
    assert child.outputs == {"worked_on": 21}
    assert child.tasks["work"].attempts[0].replica.startswith("worker")


def test_cancelling_the_parent_cancels_its_child(
    client: OrchestratorClient, tmp_path: Path, calls_file: str
) -> None:
    client.create_workflow(CHILD)
    client.create_workflow(
        """
name: held-parent
inputs: {gate: {type: string}}
tasks:
  - {id: call, workflow: child, input: {x: 1, gate: "${inputs.gate}"}}
"""
    )
    gate = tmp_path / "never"
    parent_id = client.start_execution("held-parent", {"gate": str(gate)}).execution_id
    child = eventually(lambda: next(iter(_children(client, parent_id)), None))
    eventually(lambda: read_calls(calls_file, child.execution_id) == ["work"])
    client.cancel_execution(parent_id, "not needed")
    parent = _finished(client, parent_id)
    assert parent.status is ExecutionStatus.CANCELLED
    assert parent.tasks["call"].status is TaskStatus.CANCELLED
    ended = _finished(client, child.execution_id)
    assert ended.status is ExecutionStatus.CANCELLED
    assert ended.tasks["work"].status is TaskStatus.CANCELLED
    assert read_calls(calls_file, child.execution_id) == ["work"]  # not retried
    # The call on the replica was interrupted, not left to hold its slot.
    eventually(lambda: read_calls(calls_file, child.execution_id, "cancelled") == ["work"])


def test_a_task_waits_for_a_signal_sent_through_the_client(client: OrchestratorClient) -> None:
    client.create_workflow(
        """
name: approval
tasks:
  - {id: build, agent: worker, input: {artifact: app-1.0}}
  - {id: approve, wait_for_signal: approve, depends_on: [build], timeout: 60s}
  - {id: release, agent: worker, input: {by: "${tasks.approve.output.user}"}}
outputs: {released_by: "${tasks.release.output.by}"}
"""
    )
    execution_id = client.start_execution("approval").execution_id
    eventually(lambda: _task_is(client, execution_id, "approve", TaskStatus.RUNNING))
    waiting = client.get_execution(execution_id).tasks["approve"]
    assert waiting.attempts[0].replica == ""  # no replica while it waits
    client.signal_execution(execution_id, "approve", {"user": "ada"}, "approve-1")
    client.signal_execution(execution_id, "approve", {"user": "ada"}, "approve-1")  # a retry
    done = _finished(client, execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.tasks["approve"].output == {"user": "ada"}
    assert done.outputs == {"released_by": "ada"}
    received = [
        e for e in client.watch_execution(execution_id) if e.type is EventType.SIGNAL_RECEIVED
    ]
    assert len(received) == 1 and received[0].details["request_id"] == "approve-1"


def test_a_sleep_waits_its_duration_without_a_replica(
    client: OrchestratorClient, calls_file: str
) -> None:
    client.create_workflow(
        """
name: nap
tasks:
  - {id: rest, sleep: 1500ms}
  - {id: after, agent: worker, depends_on: [rest]}
"""
    )
    done = _finished(client, client.start_execution("nap").execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    (rest,) = done.tasks["rest"].attempts
    assert rest.replica == "" and rest.end_time is not None
    assert 1.5 <= rest.end_time - rest.start_time < 5
    after = done.tasks["after"].attempts[0]
    assert after.start_time >= rest.end_time
    assert read_calls(calls_file, done.execution_id) == ["after"]


def test_a_failure_runs_compensations_in_reverse_and_the_finally_task(
    client: OrchestratorClient, calls_file: str
) -> None:
    client.create_workflow(
        """
name: saga
tasks:
  - {id: book, agent: worker, input: {n: 1}, compensate: {agent: worker, input: {undo: book}}}
  - id: pay
    agent: worker
    depends_on: [book]
    input: {n: 2}
    compensate: {agent: worker, input: {undo: pay, paid: "${tasks.pay.output.n}"}}
  - {id: ship, agent: worker, depends_on: [pay], input: {fail: true}, retry: {max_attempts: 1}}
finally:
  - {id: notify, agent: worker, input: {status: "${execution.status}"}}
"""
    )
    done = _finished(client, client.start_execution("saga").execution_id)
    assert done.status is ExecutionStatus.FAILED
    assert done.error is not None and done.error.task_id == "ship"
    assert done.tasks["pay:compensate"].output == {"undo": "pay", "paid": 2}
    assert done.tasks["book:compensate"].output == {"undo": "book"}
    assert done.tasks["notify"].output == {"status": "FAILED"}
    assert read_calls(calls_file, done.execution_id) == [
        "book",
        "pay",
        "ship",
        "pay:compensate",
        "book:compensate",
        "notify",
    ]


def test_a_paused_execution_starts_nothing_until_resumed(
    client: OrchestratorClient, tmp_path: Path, calls_file: str
) -> None:
    client.create_workflow(
        """
name: pausable
inputs: {gate: {type: string}}
tasks:
  - {id: first, agent: worker, input: {until_file: "${inputs.gate}"}}
  - {id: second, agent: worker, depends_on: [first]}
"""
    )
    gate = tmp_path / "gate"
    execution_id = client.start_execution("pausable", {"gate": str(gate)}).execution_id
    eventually(lambda: read_calls(calls_file, execution_id) == ["first"])
    assert client.pause_execution(execution_id, "investigating").paused
    gate.touch()  # the running attempt finishes while paused
    eventually(lambda: _task_is(client, execution_id, "first", TaskStatus.SUCCEEDED))
    _holds(
        lambda: not client.get_execution(execution_id).tasks["second"].attempts,
        "an attempt started while paused",
        for_s=1.0,
    )
    record = client.get_execution(execution_id)
    assert record.status is ExecutionStatus.RUNNING and record.paused
    client.resume_execution(execution_id, "fine")
    done = _finished(client, execution_id)
    assert done.status is ExecutionStatus.SUCCEEDED and not done.paused, done.error
    assert read_calls(calls_file, execution_id) == ["first", "second"]
    types = [e.type for e in client.watch_execution(execution_id)]
    assert types.index(EventType.EXECUTION_PAUSED) < types.index(EventType.EXECUTION_UNPAUSED)


def test_a_task_queued_for_a_replica_when_paused_waits_for_the_resume(
    client: OrchestratorClient, tmp_path: Path
) -> None:
    client.create_workflow(
        """
name: solo-task
inputs: {gate: {type: string, default: ""}}
tasks:
  - {id: only, agent: solo, input: {until_file: "${inputs.gate}"}}
"""
    )
    gate = tmp_path / "gate"
    hog = client.start_execution("solo-task", {"gate": str(gate)}).execution_id
    eventually(lambda: client.get_execution(hog).tasks["only"].attempts)  # the only slot
    queued = client.start_execution("solo-task").execution_id
    eventually(lambda: _task_is(client, queued, "only", TaskStatus.SCHEDULED))
    assert client.pause_execution(queued, "investigating").paused
    gate.touch()  # the slot frees
    _finished(client, hog)
    _holds(
        lambda: not client.get_execution(queued).tasks["only"].attempts,
        "an attempt started while its execution was paused",
        for_s=1.5,
    )
    client.resume_execution(queued, "done looking")
    done = _finished(client, queued)
    assert done.status is ExecutionStatus.SUCCEEDED and not done.paused
