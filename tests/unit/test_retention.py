"""Retention through a real control plane (in-process backend, real SQLite): finished
executions older than their namespace's retention go with every row that belongs to them, in
transactions of at most 200 rows, and answer NOT_FOUND after; running executions, and families
with a member still running, stay; audit events go by the same rule. The decisions alone are
pure."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.engine.retention.decide import (
    audit_retention_s,
    cutoff,
    execution_retention_s,
    family_due,
)
from controlplane.engine.retention.loop import RetentionLoop, RetentionSettings, SweepResult
from controlplane.store.retention import EXECUTION_TABLES, RetentionStore
from models.agents import AgentSpec
from models.audit import AuditFilter
from models.backend import AttemptRequest
from models.executions import ExecutionStatus
from models.retention import StoredExecution
from models.security import AccessPolicy
from tests.support.server_thread import ServerThread
from tests.unit.fake_backend import FakeBackend, Gate

DAY = 86400.0
T0 = 1_800_000_000.0


# -- the decisions ----------------------------------------------------------------------------


def stored(
    execution_id: str,
    status: ExecutionStatus = ExecutionStatus.SUCCEEDED,
    end: float | None = 10.0,
    parent: str = "",
) -> StoredExecution:
    return StoredExecution(execution_id, "default", status, end, parent)


def test_a_namespace_policy_overrides_the_default_and_zero_keeps_for_ever() -> None:
    assert execution_retention_s(AccessPolicy("a"), 30.0) == 30.0
    assert execution_retention_s(AccessPolicy("a", execution_retention_s=5.0), 30.0) == 5.0
    assert audit_retention_s(AccessPolicy("a", audit_retention_s=7.0), 30.0) == 7.0
    assert cutoff(100.0, 30.0) == 70.0
    assert cutoff(100.0, 0.0) is None


def test_a_family_goes_whole_once_every_member_ended_before_the_cutoff() -> None:
    root, child = stored("p"), stored("c", end=20.0, parent="p")
    assert family_due(root, [child], before=30.0) == ["p", "c"]
    assert family_due(root, [child], before=15.0) is None  # the child ended later
    running = stored("c", ExecutionStatus.RUNNING, end=None, parent="p")
    assert family_due(root, [running], before=30.0) is None
    assert family_due(stored("p", ExecutionStatus.PENDING, end=None), [], before=30.0) is None


# -- through the control plane ----------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FailsThenWaits:
    """Fails every attempt until `gate` is given, then holds each until the gate opens."""

    def __init__(self) -> None:
        self.gate: Gate | None = None

    async def __call__(self, value: Any, request: AttemptRequest) -> Any:
        if self.gate is None:
            raise RuntimeError("not yet")
        return await self.gate(value, request)


class CountingRows:
    """The store as the retention sees it, counting the rows each transaction changes."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.changed: list[int] = []

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._store.query(sql, params)
        return rows

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        before = self._store._writer.total_changes
        self._store.execute_all(statements)
        self.changed.append(self._store._writer.total_changes - before)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open.set()


@pytest.fixture
def server(tmp_path: Path, clock: Clock, gate: Gate) -> Iterator[ServerThread]:
    backend = FakeBackend()
    backend.behaviours["gated"] = gate
    backend.behaviours["flaky"] = FailsThenWaits()
    server = ServerThread(
        tmp_path,
        "unused",
        backend=backend,
        # The sweeps in these tests are run by hand.
        overrides={"grpc.shutdown_grace_s": 0.1, "retention.interval_s": 0},
        clock=clock,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[OrchestratorClient]:
    with OrchestratorClient(server.address, timeout_s=20, retry=None) as c:
        for name in ("work", "gated", "flaky"):
            c.deploy_agent(AgentSpec(name, "v1", "m:Agent"))
        c.create_workflow("name: plain\ntasks: [{id: a, agent: work}, {id: b, agent: work}]\n")
        c.create_workflow("name: held\ntasks: [{id: a, agent: gated}]\n")
        c.create_workflow("name: child\ntasks: [{id: a, agent: work}]\n")
        c.create_workflow("name: parent\ntasks: [{id: sub, workflow: child}]\n")
        c.create_workflow(
            "name: parent-then-wait\n"
            "tasks: [{id: sub, workflow: child}, {id: wait, agent: gated, depends_on: [sub]}]\n"
        )
        c.create_workflow(
            "name: flaky-child\ntasks: [{id: a, agent: flaky, retry: {max_attempts: 1}}]\n"
        )
        c.create_workflow(
            "name: flaky-parent\n"
            "tasks: [{id: sub, workflow: flaky-child, retry: {max_attempts: 1}}]\n"
        )
        yield c


def sweep(
    server: ServerThread,
    policies: dict[str, AccessPolicy] | None = None,
    rows: Any = None,
    executions_s: float = 30 * DAY,
    audit_s: float = 365 * DAY,
) -> SweepResult:
    plane = server.control_plane
    loop = RetentionLoop(
        RetentionStore(rows or plane.store),
        plane.audit_events,
        plane.executions,
        lambda namespace: (policies or {}).get(namespace, AccessPolicy(namespace)),
        RetentionSettings(executions_s=executions_s, audit_s=audit_s, interval_s=60.0),
        plane.retention._clock,
    )
    result: SweepResult = server.call(loop.run_once())
    return result


def rows_of(server: ServerThread, execution_id: str) -> dict[str, int]:
    with sqlite3.connect(server.control_plane.config.store.database_path) as db:
        counts = {
            table: db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE execution_id=?", (execution_id,)
            ).fetchone()[0]
            for table in ("executions", "retention_pending", *EXECUTION_TABLES)
        }
    return {table: count for table, count in counts.items() if count}


def plain_in(server: ServerThread, *namespaces: str) -> None:
    """The `work` agent and the `plain` workflow in each of `namespaces` too."""
    for namespace in namespaces:
        with OrchestratorClient(server.address, namespace=namespace) as c:
            c.deploy_agent(AgentSpec("work", "v1", "m:Agent"))
            c.create_workflow("name: plain\ntasks: [{id: a, agent: work}, {id: b, agent: work}]\n")


def finished(client: OrchestratorClient, workflow: str, namespace: str = "") -> str:
    handle = client.start_execution(workflow, namespace=namespace)
    handle.result(timeout=20)
    return handle.execution_id


def not_found(call: Any, *args: Any) -> None:
    with pytest.raises(ClientError) as caught:
        call(*args)
    assert caught.value.code_name == "NOT_FOUND", caught.value


def add_rows(server: ServerThread, execution_id: str, events: int) -> None:
    """Rows of the tables a plain run leaves empty (signals, heartbeats, earlier attempts),
    and many more events, as a long-running execution would have."""
    store = server.control_plane.store
    store.execute_all(
        [
            ("INSERT INTO signals VALUES (?,1,'go','null','',0,NULL)", (execution_id,)),
            ("INSERT INTO task_heartbeats VALUES (?,'a',0,NULL)", (execution_id,)),
            ("INSERT INTO task_earlier_attempts VALUES (?,'a',2)", (execution_id,)),
            *(
                ("INSERT INTO events VALUES (?,?,'TASK_STARTED','a',0,'{}')", (execution_id, n))
                for n in range(1000, 1000 + events)
            ),
        ]
    )


def test_due_executions_go_with_every_row_in_small_transactions_the_rest_stays(
    server: ServerThread, client: OrchestratorClient, clock: Clock, gate: Gate
) -> None:
    plain_in(server, "team-a")
    old = finished(client, "plain")
    add_rows(server, old, events=450)
    assert set(rows_of(server, old)) == {"executions", *EXECUTION_TABLES}
    team = finished(client, "plain", namespace="team-a")  # kept longer by its policy
    running = client.start_execution("held").execution_id
    clock.now += 31 * DAY
    recent = finished(client, "plain")
    counting = CountingRows(server.control_plane.store)
    policies = {"team-a": AccessPolicy("team-a", execution_retention_s=60 * DAY)}

    result = sweep(server, policies, rows=counting)

    assert result.executions == 1
    assert rows_of(server, old) == {}
    assert counting.changed and max(counting.changed) <= 200
    assert len(counting.changed) >= 3  # the 450 events alone need three
    assert old not in server.control_plane.hub._last  # the engine forgot it too
    not_found(client.get_execution, old)
    not_found(client.retry_execution, old)
    not_found(lambda: list(client.watch_execution(old)))
    listed = client.list_executions("plain", namespace="*")
    assert [e.execution_id for e in listed] == [recent, team]
    assert client.get_execution(team, namespace="team-a").status is ExecutionStatus.SUCCEEDED
    assert client.get_execution(running).status is ExecutionStatus.RUNNING
    gate.open.set()  # the running one runs on to its end
    eventually(lambda: client.get_execution(running).status is ExecutionStatus.SUCCEEDED)
    assert sweep(server, policies).executions == 0  # nothing else due yet


def test_a_family_goes_together_and_stays_while_a_member_runs(
    server: ServerThread, client: OrchestratorClient, clock: Clock, gate: Gate
) -> None:
    parent = finished(client, "parent")
    children = client.list_executions("child")
    assert [c.parent_execution_id for c in children] == [parent]
    # A finished child whose parent still runs.
    waiting_parent = client.start_execution("parent-then-wait").execution_id

    def child_of(parent_id: str) -> ExecutionStatus | None:
        for execution in client.list_executions("child"):
            if execution.parent_execution_id == parent_id:
                return execution.status
        return None

    eventually(lambda: child_of(waiting_parent) is ExecutionStatus.SUCCEEDED)
    # A finished parent whose child runs again (retried after the parent took its failure).
    failed_parent = finished(client, "flaky-parent")
    (flaky_child,) = client.list_executions("flaky-child")
    behaviour: Any = server.control_plane.backend
    behaviour.behaviours["flaky"].gate = gate
    client.retry_execution(flaky_child.execution_id)
    clock.now += 31 * DAY

    result = sweep(server)

    assert result.executions == 2  # the finished family, both at once
    not_found(client.get_execution, parent)
    not_found(client.get_execution, children[0].execution_id)
    assert child_of(waiting_parent) is ExecutionStatus.SUCCEEDED
    assert client.get_execution(waiting_parent).status is ExecutionStatus.RUNNING
    assert client.get_execution(failed_parent).status is ExecutionStatus.FAILED
    assert client.get_execution(flaky_child.execution_id).status is ExecutionStatus.RUNNING


def test_audit_events_go_by_their_namespace_retention(
    server: ServerThread, client: OrchestratorClient, clock: Clock
) -> None:
    # Everything but team-a's calls is kept by the server default.
    plain_in(server, "team-a", "team-b")
    finished(client, "plain", namespace="team-a")
    finished(client, "plain", namespace="team-b")
    clock.now += 10 * DAY
    finished(client, "plain", namespace="team-a")
    before = client.list_audit_events()
    policies = {"team-a": AccessPolicy("team-a", audit_retention_s=5 * DAY)}

    result = sweep(server, policies, executions_s=0, audit_s=30 * DAY)

    due = [e for e in before if e.namespace == "team-a" and e.time < clock.now - 5 * DAY]
    assert len(due) == 3  # team-a's deploy, create and first start
    assert result.audit_events == len(due) and result.executions == 0
    after = client.list_audit_events()
    assert [e for e in before if e not in after] == due
    assert len(client.list_audit_events(AuditFilter(namespace="team-a"))) == 1
    # A server default of 0 keeps them for ever.
    clock.now += 400 * DAY
    assert sweep(server, executions_s=0, audit_s=0).audit_events == 0


def test_many_due_audit_events_go_in_transactions_of_at_most_200(
    server: ServerThread, client: OrchestratorClient, clock: Clock
) -> None:
    store = server.control_plane.store
    store.execute_all(
        [
            (
                "INSERT INTO audit_events (time, caller, namespace, rpc, resource, "
                "request_summary, code) VALUES (?, 'x', 'team-a', 'R/M', '', '{}', 'OK')",
                (T0 - n,),
            )
            for n in range(450)
        ]
    )
    counting = CountingRows(store)
    loop_rows = CountingRows(store)
    plane = server.control_plane
    from controlplane.store.audit_events import AuditEventStore

    loop = RetentionLoop(
        RetentionStore(loop_rows),
        AuditEventStore(counting),
        plane.executions,
        AccessPolicy,
        RetentionSettings(executions_s=0, audit_s=DAY, interval_s=60.0),
        lambda: T0 + 2 * DAY,
    )
    result = server.call(loop.run_once())
    assert result.audit_events >= 450
    assert counting.changed and max(counting.changed) <= 200 and len(counting.changed) >= 3
    assert client.list_audit_events(AuditFilter(namespace="team-a")) == []


def eventually(check: Any, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_a_sweep_cut_short_is_finished_by_the_next(
    server: ServerThread, client: OrchestratorClient
) -> None:
    old = finished(client, "plain")
    RetentionStore(server.control_plane.store).remove_executions([old])  # then a crash
    not_found(client.get_execution, old)
    assert set(rows_of(server, old)) == {"retention_pending", "tasks", "attempts", "events"}
    assert sweep(server, executions_s=0).executions == 1
    assert rows_of(server, old) == {}


def test_an_execution_held_for_deletion_is_not_retried_one_running_is_not_held(
    server: ServerThread, client: OrchestratorClient, gate: Gate
) -> None:
    engine = server.control_plane.executions
    failed = finished(client, "flaky-child")
    assert engine.hold_for_deletion([failed])
    not_found(client.retry_execution, failed)
    engine.let_go([failed])
    behaviour: Any = server.control_plane.backend
    behaviour.behaviours["flaky"].gate = gate
    assert client.retry_execution(failed).status is ExecutionStatus.RUNNING
    assert not engine.hold_for_deletion([failed])  # it runs again
