"""The execution state machine against a real SQLite store and an in-process backend."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, ServerConfig, StoreConfig
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from models.executions import AttemptStatus, EventType, ExecutionRecord, ExecutionStatus, TaskStatus
from models.namespaces import qualified_name
from tests.unit.fake_backend import Behaviour, FakeBackend

FAN = """
name: fan
inputs: {project: {type: string}}
tasks:
  - id: a
    agent: echo
    input: {spec: "${inputs.project}", kind: ui}
  - id: b
    agent: echo
    input: {spec: "${inputs.project}", kind: api}
  - id: c
    agent: echo
    depends_on: [a, b]
    input: {ui: "${tasks.a.output}", api: "${tasks.b.output.kind}"}
outputs: {report: "${tasks.c.output}"}
"""


def run(
    coro_fn: Callable[[ControlPlane, FakeBackend], Awaitable[None]],
    tmp_path: Path,
    grace_s: float = 0.1,
    behaviours: dict[str, Behaviour] | None = None,
) -> None:
    """`coro_fn` on a started control plane; `behaviours` are the agents' before it starts (a
    restarted control plane resumes executions at once)."""

    async def main() -> None:
        backend = FakeBackend()
        backend.behaviours.update(behaviours or {})
        config = ServerConfig(
            store=StoreConfig(data_dir=tmp_path),
            grpc=GrpcConfig(host="127.0.0.1", port=0, shutdown_grace_s=grace_s),
        )
        cp = ControlPlane(config, backend)
        await cp.start()
        try:
            # A task runs on the agent of its execution's namespace: each has its `echo`.
            for namespace in ("default", "team", "strict"):
                name = qualified_name(namespace, "echo")
                await cp.agents.deploy(AgentSpec(name=name, version="v1", import_path="m:Echo"))
            await coro_fn(cp, backend)
        finally:
            await cp.stop()

    asyncio.run(main())


async def wait_terminal(
    cp: ControlPlane, execution_id: str, timeout: float = 10
) -> ExecutionRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = cp.executions.get(execution_id)
        if record.status.terminal:
            return record
        await asyncio.sleep(0.01)
    raise AssertionError(f"execution {execution_id} did not finish")


def test_fan_out_fan_in_resolves_outputs_and_events(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        await cp.catalog.create(FAN)
        record, created = await cp.executions.start("fan", 0, {"project": "shop"}, "")
        assert created
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.outputs == {"report": {"ui": {"spec": "shop", "kind": "ui"}, "api": "api"}}
        events = cp.store.read_events(record.execution_id)
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[0].type is EventType.EXECUTION_STARTED
        assert events[-1].type is EventType.EXECUTION_SUCCEEDED
        started_c = next(
            e for e in events if e.type is EventType.ATTEMPT_STARTED and e.task_id == "c"
        )
        done_ab = [
            e.sequence for e in events if e.type is EventType.TASK_SUCCEEDED and e.task_id in "ab"
        ]
        assert max(done_ab) < started_c.sequence

    run(body, tmp_path)


def test_retries_with_backoff_then_fails_and_skips_downstream(tmp_path: Path) -> None:
    text = """
name: flaky
tasks:
  - id: a
    agent: echo
    retry: {max_attempts: 3, initial_interval: 10ms, backoff_coefficient: 2, max_interval: 1s}
  - id: b
    agent: echo
    depends_on: [a]
"""

    async def always_fail(value: Any, request: AttemptRequest) -> Any:
        raise RuntimeError(f"boom {request.attempt}")

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = always_fail
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("flaky", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert done.error is not None and done.error.task_id == "a"
        assert done.error.type == "RuntimeError"
        a, b = done.tasks["a"], done.tasks["b"]
        assert [x.status for x in a.attempts] == [AttemptStatus.FAILED] * 3
        assert a.attempts[2].error is not None and a.attempts[2].error.message == "boom 3"
        assert a.status is TaskStatus.FAILED and b.status is TaskStatus.SKIPPED

    run(body, tmp_path)


def test_non_retryable_error_fails_at_once(tmp_path: Path) -> None:
    text = """
name: nonretry
tasks:
  - id: a
    agent: echo
    retry: {max_attempts: 5, initial_interval: 10ms, non_retryable_errors: [ValueError]}
"""

    async def bad_value(value: Any, request: AttemptRequest) -> Any:
        raise ValueError("no")

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = bad_value
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("nonretry", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert len(done.tasks["a"].attempts) == 1
        assert done.status is ExecutionStatus.FAILED

    run(body, tmp_path)


def test_attempt_timeout_cancels_and_retries(tmp_path: Path) -> None:
    text = """
name: slow
tasks:
  - id: a
    agent: echo
    timeout: 50ms
    retry: {max_attempts: 2, initial_interval: 10ms}
"""

    async def slow_first(value: Any, request: AttemptRequest) -> Any:
        if request.attempt == 1:
            await asyncio.sleep(10)
        return {"attempt": request.attempt}

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = slow_first
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("slow", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        attempts = done.tasks["a"].attempts
        assert [x.status for x in attempts] == [AttemptStatus.TIMED_OUT, AttemptStatus.SUCCEEDED]
        assert done.tasks["a"].output == {"attempt": 2}
        assert len(backend.cancelled) == 1

    run(body, tmp_path)


def test_cancel_stops_running_attempts(tmp_path: Path) -> None:
    text = """
name: long
tasks:
  - {id: a, agent: echo}
  - {id: b, agent: echo, depends_on: [a]}
"""

    async def forever(value: Any, request: AttemptRequest) -> Any:
        await asyncio.sleep(60)

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = forever
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("long", 0, {}, "")
        while not backend.calls:
            await asyncio.sleep(0.01)
        cancelled = await cp.executions.cancel(record.execution_id, "user asked")
        assert cancelled.status is ExecutionStatus.CANCELLED
        assert cancelled.tasks["a"].status is TaskStatus.CANCELLED
        assert cancelled.tasks["a"].attempts[0].status is AttemptStatus.CANCELLED
        assert cancelled.tasks["b"].status is TaskStatus.CANCELLED
        for _ in range(100):
            if backend.cancelled:
                break
            await asyncio.sleep(0.01)
        assert len(backend.cancelled) == 1
        with pytest.raises(FailedPrecondition):
            await cp.executions.cancel(record.execution_id, "again")

    run(body, tmp_path)


def test_workflow_timeout(tmp_path: Path) -> None:
    text = """
name: wf-timeout
timeout: 100ms
tasks:
  - {id: a, agent: echo}
"""

    async def forever(value: Any, request: AttemptRequest) -> Any:
        await asyncio.sleep(60)

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = forever
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("wf-timeout", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.TIMED_OUT
        assert done.error is not None and done.error.type == "WorkflowTimeout"

    run(body, tmp_path)


def test_request_id_is_idempotent_and_inputs_are_checked(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        await cp.catalog.create(FAN)
        first, created1 = await cp.executions.start("fan", 0, {"project": "x"}, "req-1")
        second, created2 = await cp.executions.start("fan", 0, {"project": "x"}, "req-1")
        assert created1 and not created2
        assert first.execution_id == second.execution_id
        with pytest.raises(AlreadyExists) as reused:
            await cp.executions.start("other", 0, {}, "req-1")
        assert reused.value.violations[0].field == "request_id"
        with pytest.raises(InvalidArgument) as bad:
            await cp.executions.start("fan", 0, {"project": 3}, "")
        assert [v.field for v in bad.value.violations] == ["inputs.project"]
        with pytest.raises(NotFound):
            await cp.executions.start("nope", 0, {}, "")
        with pytest.raises(NotFound):
            await cp.executions.start("fan", 7, {"project": "x"}, "")

    run(body, tmp_path)


def test_unknown_agent_is_an_error_at_start(tmp_path: Path) -> None:
    text = "name: ghost\ntasks:\n  - {id: a, agent: ghost}\n"

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        _, _, warnings = await cp.catalog.create(text)
        assert [w.path for w in warnings] == ["tasks[0].agent"]
        with pytest.raises(FailedPrecondition) as err:
            await cp.executions.start("ghost", 0, {}, "")
        assert err.value.violations[0].field == "tasks[0].agent"

    run(body, tmp_path)


def test_revisions_are_immutable_and_deduplicated(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        r1, c1, _ = await cp.catalog.create(FAN)
        r1b, c1b, _ = await cp.catalog.create(FAN)
        r2, c2, _ = await cp.catalog.create(FAN.replace("kind: api", "kind: backend"))
        assert (r1.revision, c1) == (1, True)
        assert (r1b.revision, c1b) == (1, False)
        assert (r2.revision, c2) == (2, True)
        assert cp.catalog.get("fan", 1).definition_text == FAN

    run(body, tmp_path)


def test_restart_resumes_and_never_reruns_succeeded_tasks(tmp_path: Path) -> None:
    text = """
name: chain
tasks:
  - {id: a, agent: echo, input: {n: 1}}
  - {id: b, agent: echo, input: {prev: "${tasks.a.output.n}"}}
"""
    gate = asyncio.Event()
    state: dict[str, str] = {}

    async def block_b(value: Any, request: AttemptRequest) -> Any:
        if request.task_id == "b" and not gate.is_set():
            await asyncio.sleep(60)
        return value

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = block_b
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("chain", 0, {}, "")
        state["id"] = record.execution_id
        while len(backend.calls) < 2:
            await asyncio.sleep(0.01)

    run(first, tmp_path)  # stops the control plane with b in flight

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        gate.set()
        backend.behaviours["echo"] = block_b
        done = await wait_terminal(cp, state["id"])
        assert done.status is ExecutionStatus.SUCCEEDED
        assert [c.task_id for c in backend.calls] == ["b"]  # a is not run again
        b = done.tasks["b"]
        assert [x.status for x in b.attempts] == [AttemptStatus.LOST, AttemptStatus.SUCCEEDED]
        assert b.output == {"prev": 1}
        types = [e.type for e in cp.store.read_events(state["id"])]
        assert EventType.EXECUTION_RESUMED in types and EventType.ATTEMPT_LOST in types

    run(second, tmp_path)


def test_output_that_is_not_json_fails_the_task_without_retry(tmp_path: Path) -> None:
    text = """
name: bad-output
tasks:
  - id: a
    agent: echo
    retry: {max_attempts: 3, initial_interval: 10ms}
"""

    async def returns_a_set(value: Any, request: AttemptRequest) -> Any:
        return {"items": {1, 2}}

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = returns_a_set
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("bad-output", 0, {}, "")
        done = await wait_terminal(cp, record.execution_id)
        assert done.status is ExecutionStatus.FAILED
        assert len(done.tasks["a"].attempts) == 1
        assert done.error is not None and done.error.type == "OutputNotSerializable"

    run(body, tmp_path)


def test_graceful_stop_lets_attempts_in_flight_finish(tmp_path: Path) -> None:
    text = """
name: drain
tasks:
  - {id: a, agent: echo, input: {n: 1}}
  - {id: b, agent: echo, input: {prev: "${tasks.a.output.n}"}}
"""
    state: dict[str, str] = {}

    async def slow_a(value: Any, request: AttemptRequest) -> Any:
        if request.task_id == "a":
            await asyncio.sleep(0.3)
        return value

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = slow_a
        await cp.catalog.create(text)
        record, _ = await cp.executions.start("drain", 0, {}, "")
        state["id"] = record.execution_id
        while not backend.calls:
            await asyncio.sleep(0.01)

    run(first, tmp_path, grace_s=5)  # stop while a is in flight: a finishes, b never starts

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        stored = cp.executions.get(state["id"])
        assert stored.tasks["a"].status is TaskStatus.SUCCEEDED
        done = await wait_terminal(cp, state["id"])
        assert done.status is ExecutionStatus.SUCCEEDED
        assert [c.task_id for c in backend.calls] == ["b"]
        assert [x.status for x in done.tasks["a"].attempts] == [AttemptStatus.SUCCEEDED]

    run(second, tmp_path)


GATED = """
name: gated
tasks:
  - {id: a, agent: echo, input: {n: 1}}
"""


def test_namespace_quota_queues_executions_in_arrival_order(tmp_path: Path) -> None:
    from models.queueing import Backpressure, NamespacePolicy, Quota

    gate = asyncio.Event()

    async def wait_gate(value: Any, request: AttemptRequest) -> Any:
        await gate.wait()
        return value

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = wait_gate
        await cp.quotas.set_quota(
            NamespacePolicy(
                "team", backpressure=Backpressure.QUEUE, quota=Quota(max_concurrent_executions=1)
            )
        )
        await cp.catalog.create(GATED)
        await cp.catalog.create(GATED, namespace="team")
        first, _ = await cp.executions.start("gated", 0, {}, "", "team")
        second, _ = await cp.executions.start("gated", 0, {}, "", "team")
        third, _ = await cp.executions.start("gated", 0, {}, "", "team")
        other, _ = await cp.executions.start("gated", 0, {}, "", "")  # default namespace: no quota
        while len(backend.calls) < 2:
            await asyncio.sleep(0.01)
        assert {c.execution_id for c in backend.calls} == {first.execution_id, other.execution_id}
        queued = cp.executions.get(second.execution_id)
        assert queued.status is ExecutionStatus.PENDING and queued.namespace == "team"
        assert [e.type for e in cp.store.read_events(second.execution_id)] == [
            EventType.EXECUTION_STARTED,
            EventType.EXECUTION_QUEUED,
        ]
        cancelled = await cp.executions.cancel(third.execution_id, "not needed")
        assert cancelled.status is ExecutionStatus.CANCELLED
        gate.set()
        done = await wait_terminal(cp, second.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED
        order = [c.execution_id for c in backend.calls]
        assert order.index(first.execution_id) < order.index(second.execution_id)
        assert third.execution_id not in order

    run(body, tmp_path)


def test_namespace_quota_rejects_with_resource_exhausted(tmp_path: Path) -> None:
    from models.errors import ResourceExhausted
    from models.queueing import Backpressure, NamespacePolicy, Quota

    async def forever(value: Any, request: AttemptRequest) -> Any:
        await asyncio.sleep(60)

    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.behaviours["echo"] = forever
        await cp.quotas.set_quota(
            NamespacePolicy(
                "strict", backpressure=Backpressure.REJECT, quota=Quota(max_concurrent_executions=1)
            )
        )
        await cp.catalog.create(GATED, namespace="strict")
        await cp.executions.start("gated", 0, {}, "", "strict")
        with pytest.raises(ResourceExhausted) as err:
            await cp.executions.start("gated", 0, {}, "", "strict")
        assert err.value.violations[0].field == "namespace"
        assert "1/1 concurrent executions" in err.value.message
        with pytest.raises(InvalidArgument):
            await cp.executions.start("gated", 0, {}, "", "Not Valid")

    run(body, tmp_path)


def test_queued_execution_stays_queued_across_a_restart(tmp_path: Path) -> None:
    from models.queueing import NamespacePolicy, Quota

    ids: dict[str, str] = {}
    # One gate per run: an asyncio.Event belongs to the event loop that first waits on it, and
    # each run below has its own loop (a shared one fails every wait of the second run).
    gates: list[asyncio.Event] = []

    async def wait_gate(value: Any, request: AttemptRequest) -> Any:
        await gates[-1].wait()
        return value

    async def first(cp: ControlPlane, backend: FakeBackend) -> None:
        gates.append(asyncio.Event())
        backend.behaviours["echo"] = wait_gate
        await cp.quotas.set_quota(NamespacePolicy("team", quota=Quota(max_concurrent_executions=1)))
        await cp.catalog.create(GATED, namespace="team")
        ids["a"] = (await cp.executions.start("gated", 0, {}, "", "team"))[0].execution_id
        ids["b"] = (await cp.executions.start("gated", 0, {}, "", "team"))[0].execution_id
        while not backend.calls:
            await asyncio.sleep(0.01)

    run(first, tmp_path)

    async def second(cp: ControlPlane, backend: FakeBackend) -> None:
        while not backend.calls:
            await asyncio.sleep(0.01)
        assert [c.execution_id for c in backend.calls] == [ids["a"]]  # b still waits
        assert cp.executions.get(ids["b"]).status is ExecutionStatus.PENDING
        gates[-1].set()
        assert (await wait_terminal(cp, ids["b"])).status is ExecutionStatus.SUCCEEDED
        assert cp.executions.get(ids["a"]).status is ExecutionStatus.SUCCEEDED

    gates.append(asyncio.Event())
    run(second, tmp_path, behaviours={"echo": wait_gate})
