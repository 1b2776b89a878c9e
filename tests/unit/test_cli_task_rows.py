"""`executions get` shows what runs under a task: a for_each task's item counts with its failed
items indented under it, a loop's iterations under it, a workflow task's child execution;
skipped tasks keep their reason. `executions list` names the parent of child executions."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from controlplane.cli import render, task_rows
from models.executions import (
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)

CHILD = "c" * 32


def printed(record: ExecutionRecord) -> list[str]:
    out = io.StringIO()
    render.execution_detail(Console(file=out, width=200, color_system=None), record)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def row(lines: list[str], cell: str) -> str:
    """The table row whose first cell is `cell` (as printed, indentation included)."""
    found = [line for line in lines if line.startswith(f"│ {cell} ")]
    assert len(found) == 1, (cell, lines)
    return found[0]


def as_read() -> ExecutionRecord:
    """An execution as GetExecution returns it (task_view's shape)."""
    return ExecutionRecord(
        execution_id="e" * 32,
        workflow="review-pipeline",
        revision=1,
        status=ExecutionStatus.RUNNING,
        inputs={},
        create_time=1.7e9,
        tasks={
            "review": TaskRecord(
                "review",
                "reviewer",
                TaskStatus.RUNNING,
                items_total=40,
                items_succeeded=11,
                items_failed=2,
                items_running=3,
            ),
            "review[4]": TaskRecord(
                "review[4]", "reviewer", TaskStatus.FAILED, error=ErrorInfo("AgentError", "bad")
            ),
            "fix": TaskRecord("fix", "coder", TaskStatus.RUNNING, iterations=3),
            "fix#1": TaskRecord("fix#1", "coder", TaskStatus.SUCCEEDED, output={"ok": False}),
            "fix#2": TaskRecord("fix#2", "coder", TaskStatus.SUCCEEDED, output={"ok": False}),
            "fix#3": TaskRecord("fix#3", "coder", TaskStatus.RUNNING),
            "release": TaskRecord("release", "", TaskStatus.RUNNING, child_execution_id=CHILD),
            "cool-down": TaskRecord(
                "cool-down",
                "",
                TaskStatus.SKIPPED,
                error=ErrorInfo("UpstreamFailed", "upstream task release failed"),
            ),
        },
    )


def test_a_for_each_task_shows_its_progress_and_its_failed_items_under_it() -> None:
    lines = printed(as_read())
    assert "13/40 items (2 failed, 3 running)" in row(lines, "review")
    failed = row(lines, "  review[4]")
    assert "AgentError: bad" in failed
    assert "review: 1 of its 2 failed items listed (the first by index)" in lines


def test_a_loop_task_shows_its_iterations_under_it() -> None:
    lines = printed(as_read())
    assert "3 iterations" in row(lines, "fix")
    assert '{"ok":false}' in row(lines, "  fix#1")
    assert lines.index(row(lines, "fix")) < lines.index(row(lines, "  fix#3"))


def test_a_workflow_task_names_its_child_and_a_skipped_task_why() -> None:
    lines = printed(as_read())
    assert f"child {CHILD}" in row(lines, "release")
    assert "skipped: upstream task release failed" in row(lines, "cool-down")


@pytest.mark.parametrize(
    ("task", "shown"),
    [
        (
            TaskRecord("r", "a", TaskStatus.SUCCEEDED, items_total=40, items_succeeded=40),
            "40/40 items",
        ),
        (TaskRecord("r", "a", TaskStatus.SUCCEEDED, items_total=0), "0/0 items"),
        (
            TaskRecord(
                "r", "a", TaskStatus.FAILED, items_total=40, items_succeeded=3, items_failed=2
            ),
            "5/40 items (2 failed, 35 cancelled)",
        ),
        (TaskRecord("r", "a", TaskStatus.RUNNING, items_total=40), "0/40 items"),
        (TaskRecord("r", "a", TaskStatus.RUNNING, iterations=1), "1 iteration"),
        (TaskRecord("r", "a", TaskStatus.RUNNING), ""),
    ],
)
def test_summaries(task: TaskRecord, shown: str) -> None:
    assert task_rows.summary(task) == shown


def test_a_succeeded_for_each_shows_its_count_then_its_output() -> None:
    task = TaskRecord(
        "r", "a", TaskStatus.SUCCEEDED, output=[1, 2], items_total=2, items_succeeded=2
    )
    assert render.task_cell(task).plain == "2/2 items  [1,2]"


def test_the_list_names_parents_only_when_a_child_is_listed() -> None:
    plain = as_read()
    child = ExecutionRecord(
        CHILD,
        "release-train",
        1,
        ExecutionStatus.RUNNING,
        {},
        1.7e9,
        parent_execution_id=plain.execution_id,
    )

    def header(records: list[ExecutionRecord]) -> str:
        out = io.StringIO()
        Console(file=out, width=250).print(render.executions_table(records))
        return out.getvalue()

    assert "PARENT" not in header([plain])
    both = header([plain, child])
    assert "PARENT" in both and f"{CHILD} " in both and plain.execution_id in both
