"""What a read shows of an execution's tasks: a for_each task with its items' counts and only
its first failed items, a loop task with its iterations after it, a workflow task with its
latest attempt's child execution; the stored record left as it was."""

from __future__ import annotations

import copy
import time

from controlplane.engine.executions.children import child_request_id
from controlplane.engine.executions.task_view import SHOWN_FAILED_ITEMS, task_view
from models.executions import (
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)

EID = "e" * 32


def execution(*tasks: TaskRecord) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=EID,
        workflow="wf",
        revision=1,
        status=ExecutionStatus.RUNNING,
        inputs={},
        create_time=0.0,
        tasks={t.task_id: t for t in tasks},
    )


def no_children(request_id: str) -> str | None:
    return None


def item(index: int, status: TaskStatus, parent: str = "review") -> TaskRecord:
    error = ErrorInfo("AgentError", f"item {index} broke") if status is TaskStatus.FAILED else None
    return TaskRecord(f"{parent}[{index}]", "reviewer", status, error=error)


def ten_thousand_items() -> ExecutionRecord:
    """Item i: failed when i % 7 == 3, running or retrying when i >= 9_990, pending from 9_995, else
    succeeded; stored out of index order, as a restart may leave them."""

    def status(i: int) -> TaskStatus:
        if i >= 9_995:
            return TaskStatus.PENDING
        if i >= 9_990:
            return TaskStatus.RUNNING if i % 2 else TaskStatus.RETRYING
        return TaskStatus.FAILED if i % 7 == 3 else TaskStatus.SUCCEEDED

    items = [item(i, status(i)) for i in reversed(range(10_000))]
    return execution(
        TaskRecord("plan", "planner", TaskStatus.SUCCEEDED, output={"files": 10_000}),
        TaskRecord("review", "reviewer", TaskStatus.RUNNING, depends_on=("plan",)),
        *items,
        TaskRecord("report", "reporter", depends_on=("review",)),
    )


def test_ten_thousand_items_collapse_into_their_task_with_counts() -> None:
    record = ten_thousand_items()
    failed = sum(1 for i in range(9_990) if i % 7 == 3)
    began = time.perf_counter()
    view = task_view(record, no_children)
    assert time.perf_counter() - began < 2.0  # one pass (milliseconds), even when loaded
    review = view.tasks["review"]
    assert (review.items_total, review.items_failed, review.items_running) == (10_000, failed, 5)
    assert review.items_succeeded == 9_990 - failed
    shown = [tid for tid in view.tasks if tid.startswith("review[")]
    assert shown == [f"review[{i}]" for i in range(3, 1_000, 7)][:SHOWN_FAILED_ITEMS]
    assert all(view.tasks[t].error is not None for t in shown)
    # Tasks in order, each failed item right after its for_each task.
    assert list(view.tasks) == ["plan", "review", *shown, "report"]
    assert view.tasks["plan"].items_total is None


def test_the_record_read_is_left_as_it_was() -> None:
    record = ten_thousand_items()
    before = copy.deepcopy(record)
    task_view(record, no_children)
    assert record == before


def test_items_in_the_dispatcher_queue_say_why_on_their_task() -> None:
    waiting = item(1, TaskStatus.SCHEDULED)
    waiting.waiting_reason = "namespace quota reached"
    view = task_view(
        execution(
            TaskRecord("review", "reviewer", TaskStatus.RUNNING),
            item(0, TaskStatus.RUNNING),
            waiting,
            item(2, TaskStatus.PENDING),
        ),
        no_children,
    )
    review = view.tasks["review"]
    assert review.waiting_reason == "namespace quota reached"
    assert (review.items_total, review.items_running, review.items_succeeded) == (3, 2, 0)
    assert list(view.tasks) == ["review"]


def test_a_timed_out_item_counts_and_shows_as_failed_a_cancelled_one_neither() -> None:
    view = task_view(
        execution(
            TaskRecord("review", "reviewer", TaskStatus.FAILED),
            item(0, TaskStatus.TIMED_OUT),
            item(1, TaskStatus.CANCELLED),
            item(2, TaskStatus.SUCCEEDED),
        ),
        no_children,
    )
    review = view.tasks["review"]
    assert (review.items_failed, review.items_succeeded, review.items_running) == (1, 1, 0)
    assert list(view.tasks) == ["review", "review[0]"]


def test_a_for_each_before_its_list_is_resolved_has_no_count() -> None:
    view = task_view(execution(TaskRecord("review", "reviewer")), no_children)
    assert view.tasks["review"].items_total is None


def test_loop_iterations_stay_after_their_task_which_counts_them() -> None:
    record = execution(
        TaskRecord("draft", "writer", TaskStatus.RUNNING),
        TaskRecord("publish", "writer", depends_on=("draft",)),
        TaskRecord("draft#2", "writer", TaskStatus.RUNNING),
        TaskRecord("draft#1", "writer", TaskStatus.SUCCEEDED, output={"round": 1}),
    )
    view = task_view(record, no_children)
    assert list(view.tasks) == ["draft", "draft#1", "draft#2", "publish"]
    assert view.tasks["draft"].iterations == 2
    assert view.tasks["draft#1"].output == {"round": 1}
    assert view.tasks["publish"].iterations == 0


def attempts(*statuses: AttemptStatus) -> list[AttemptRecord]:
    return [AttemptRecord(n, status) for n, status in enumerate(statuses, 1)]


def test_workflow_tasks_name_the_child_of_their_latest_attempt() -> None:
    children = {
        child_request_id(EID, "release", 1): "child-1",
        child_request_id(EID, "release", 2): "child-2",
        child_request_id(EID, "train#1", 1): "child-of-iteration",
    }
    asked: list[str] = []

    def child_of(request_id: str) -> str | None:
        asked.append(request_id)
        return children.get(request_id)

    record = execution(
        TaskRecord(
            "release",
            "",
            TaskStatus.RUNNING,
            attempts=attempts(AttemptStatus.FAILED, AttemptStatus.RUNNING),
        ),
        TaskRecord("approve", "", TaskStatus.RUNNING, attempts=attempts(AttemptStatus.RUNNING)),
        TaskRecord("not-yet", ""),
        TaskRecord(
            "build", "coder", TaskStatus.SUCCEEDED, attempts=attempts(AttemptStatus.RUNNING)
        ),
        TaskRecord("train", "", TaskStatus.RUNNING),
        TaskRecord("train#1", "", TaskStatus.RUNNING, attempts=attempts(AttemptStatus.RUNNING)),
    )
    view = task_view(record, child_of)
    assert view.tasks["release"].child_execution_id == "child-2"
    assert view.tasks["train#1"].child_execution_id == "child-of-iteration"
    assert view.tasks["train"].iterations == 1
    for plain in ("approve", "not-yet", "build", "train"):
        assert view.tasks[plain].child_execution_id == ""
    # Agent tasks and tasks without an attempt are never looked up.
    assert not any(":build:" in r or ":not-yet:" in r for r in asked)


def test_only_the_failed_items_shown_are_looked_up_for_children() -> None:
    asked: list[str] = []

    def child_of(request_id: str) -> str | None:
        asked.append(request_id)
        return None

    items = [
        TaskRecord(f"sub[{i}]", "", TaskStatus.FAILED, attempts=attempts(AttemptStatus.FAILED))
        for i in range(500)
    ]
    view = task_view(execution(TaskRecord("sub", "", TaskStatus.FAILED), *items), child_of)
    assert view.tasks["sub"].items_failed == 500
    assert len(asked) == SHOWN_FAILED_ITEMS


def test_an_id_that_only_looks_like_an_item_stays_a_task() -> None:
    view = task_view(
        execution(TaskRecord("orphan[3]", "a"), TaskRecord("lone#2", "a")), no_children
    )
    assert list(view.tasks) == ["orphan[3]", "lone#2"]
