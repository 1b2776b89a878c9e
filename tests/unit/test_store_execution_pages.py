"""Pages of ListExecutions in the store: every execution once, newest first, whatever the ties
in creation time and the filters; and a page costs the same in a small and a large store, at
the top of the listing and deep into it, with or without a status filter, even one that no
execution matches (an index serves the order, the position and the status)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from controlplane.store import SqliteStore, WriteBatch
from controlplane.store.execution_pages import ORDER, ExecutionPageKey, page_condition
from controlplane.store.sqlite_store import SELECT_EXECUTION_CUT
from models.executions import ExecutionRecord, ExecutionStatus

STATUSES = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.RUNNING)


def _fill(store: SqliteStore, count: int, namespaces: tuple[str, ...] = ("default",)) -> None:
    batch = WriteBatch()
    for k in range(count):
        batch.put_execution(
            ExecutionRecord(
                execution_id=f"e{k:06d}",
                workflow="wf-a" if k % 4 < 2 else "wf-b",
                revision=1,
                status=STATUSES[k % len(STATUSES)],
                inputs={"k": k},
                create_time=1000.0 + k // 3,  # three executions share each time
                namespace=namespaces[k % len(namespaces)],
            )
        )
    store.write(batch)


def _all_pages(
    store: SqliteStore,
    namespace: str,
    workflow: str = "",
    statuses: tuple[ExecutionStatus, ...] = (),
    size: int = 7,
) -> list[ExecutionRecord]:
    listed: list[ExecutionRecord] = []
    after = None
    while True:
        page = store.list_executions(namespace, workflow, statuses, after, size)
        listed += page
        if len(page) < size:
            return listed
        after = ExecutionPageKey(page[-1].create_time, page[-1].execution_id)


@pytest.fixture
def store(tmp_path: Path):
    opened = SqliteStore(tmp_path / "orchestrator.db")
    yield opened
    opened.close()


def test_pages_list_every_execution_once_newest_first_despite_ties(store: SqliteStore) -> None:
    _fill(store, 100, ("default", "team-a"))
    for namespace in ("default", "team-a", "*"):
        listed = _all_pages(store, namespace)
        keys = [(r.create_time, r.execution_id) for r in listed]
        assert keys == sorted(keys, reverse=True)
        assert len(set(keys)) == len(keys)
        expected = 100 if namespace == "*" else 50
        assert len(listed) == expected
        assert namespace == "*" or {r.namespace for r in listed} == {namespace}


def test_pages_keep_the_workflow_and_status_filters(store: SqliteStore) -> None:
    _fill(store, 90, ("default", "team-a"))
    for namespace in ("default", "*"):
        failed_of_a = _all_pages(store, namespace, "wf-a", (ExecutionStatus.FAILED,), size=4)
        assert failed_of_a
        assert {(r.workflow, r.status) for r in failed_of_a} == {("wf-a", ExecutionStatus.FAILED)}
        every = _all_pages(store, namespace, size=1000)
        assert len(failed_of_a) == sum(
            1 for r in every if r.workflow == "wf-a" and r.status is ExecutionStatus.FAILED
        )


def _plan(
    store: SqliteStore,
    namespace: str,
    after: ExecutionPageKey | None,
    statuses: tuple[ExecutionStatus, ...] = (),
) -> str:
    where, params = page_condition(namespace, "", statuses, after)
    rows = store.query(
        f"EXPLAIN QUERY PLAN {SELECT_EXECUTION_CUT} {where} {ORDER} LIMIT 51",
        {**params, "inline": 100},
    )
    return " | ".join(str(row[3]) for row in rows)


def test_an_index_serves_the_order_and_the_position(store: SqliteStore) -> None:
    after = ExecutionPageKey(1500.0, "e000500")
    for namespace in ("default", "*"):
        for position in (None, after):
            plan = _plan(store, namespace, position)
            assert "TEMP B-TREE" not in plan, plan  # no sort of every matching execution
            assert "USING INDEX" in plan, plan
        assert "create_time<?" in _plan(store, namespace, after)  # seeks, does not filter
    failed = (ExecutionStatus.FAILED,)
    for position in (None, after):
        plan = _plan(store, "default", position, failed)
        assert "TEMP B-TREE" not in plan and "status=?" in plan, plan
    assert "create_time<?" in _plan(store, "default", after, failed)


def _steps(
    database: Path, after: ExecutionPageKey | None, statuses: tuple[ExecutionStatus, ...] = ()
) -> int:
    """SQLite virtual machine steps (in hundreds) one page of 50 takes."""
    where, params = page_condition("default", "", statuses, after)
    conn = sqlite3.connect(database)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 100)
    try:
        conn.execute(
            f"{SELECT_EXECUTION_CUT} {where} {ORDER} LIMIT 51", {**params, "inline": 100}
        ).fetchall()
    finally:
        conn.close()
    return steps


def test_a_page_costs_the_same_in_a_store_ten_times_larger(tmp_path: Path) -> None:
    costs = {}
    for count in (1000, 10_000):
        database = tmp_path / f"{count}.db"
        store = SqliteStore(database)
        try:
            _fill(store, count)
        finally:
            store.close()
        # 80% of the way down: whole pages left below, of every status too
        deep = ExecutionPageKey(1000.0 + count // 15, "e000000")
        none_match = (ExecutionStatus.CANCELLED,)
        costs[count] = (
            _steps(database, None),
            _steps(database, deep),
            _steps(database, None, none_match),
            _steps(database, deep, (ExecutionStatus.FAILED,)),
        )
    for small, large in zip(costs[1000], costs[10_000], strict=True):
        assert large <= small * 1.5 + 5, costs
