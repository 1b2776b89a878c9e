"""PhaseCursor: what a scheduling pass and the "phase ended" check look at, in topological
order, and how a new plan or a reset starts over."""

from __future__ import annotations

from controlplane.engine.executions.phase_cursor import PhaseCursor
from controlplane.engine.executions.plan import ExecutionPlan, Phase
from controlplane.workflow.definition import parse_workflow
from models.executions import TaskRecord, TaskStatus

CHAIN = """
name: chain
tasks:
  - {id: a, agent: x}
  - {id: b, agent: x, depends_on: [a]}
  - {id: c, agent: x, depends_on: [b]}
finally:
  - {id: z, agent: x}
"""


def records(plan: ExecutionPlan) -> dict[str, TaskRecord]:
    return {r.task_id: r for r in plan.new_records()}


def test_a_scheduling_pass_keeps_only_the_tasks_still_pending() -> None:
    plan = ExecutionPlan.of(parse_workflow(CHAIN))
    tasks = records(plan)
    cursor = PhaseCursor()
    assert cursor.unscheduled(plan, Phase.MAIN) == ["a", "b", "c"]
    tasks["a"].status = TaskStatus.SCHEDULED
    cursor.looked_at(Phase.MAIN, ["a", "b", "c"], tasks)
    assert cursor.unscheduled(plan, Phase.MAIN) == ["b", "c"]
    assert cursor.unscheduled(plan, Phase.FINALLY) == ["z"]


def test_a_phase_ends_when_its_last_open_task_ends() -> None:
    plan = ExecutionPlan.of(parse_workflow(CHAIN))
    tasks = records(plan)
    cursor = PhaseCursor()
    assert not cursor.ended(plan, Phase.MAIN, tasks)
    tasks["a"].status = TaskStatus.SUCCEEDED
    tasks["c"].status = TaskStatus.SKIPPED  # out of order: b still runs
    assert not cursor.ended(plan, Phase.MAIN, tasks)
    tasks["b"].status = TaskStatus.SUCCEEDED
    assert cursor.ended(plan, Phase.MAIN, tasks)
    assert not cursor.ended(plan, Phase.FINALLY, tasks)


def test_a_reset_or_a_new_plan_starts_over() -> None:
    plan = ExecutionPlan.of(parse_workflow(CHAIN))
    tasks = records(plan)
    cursor = PhaseCursor()
    looked = cursor.unscheduled(plan, Phase.MAIN)
    for task in tasks.values():
        task.status = TaskStatus.SUCCEEDED
    cursor.looked_at(Phase.MAIN, looked, tasks)
    assert cursor.ended(plan, Phase.MAIN, tasks)
    # The store said b had not run after all: it is pending again.
    tasks["b"].status = TaskStatus.PENDING
    assert cursor.unscheduled(plan, Phase.MAIN) == []
    cursor.reset()
    assert cursor.unscheduled(plan, Phase.MAIN) == ["a", "b", "c"]
    assert not cursor.ended(plan, Phase.MAIN, tasks)
    # A modified workflow has a new plan: the cursor follows it without a reset.
    modified = ExecutionPlan.of(
        parse_workflow(CHAIN.replace("depends_on: [b]}", "depends_on: [a]}"))
    )
    tasks["b"].status = TaskStatus.SUCCEEDED
    cursor.looked_at(Phase.MAIN, [], tasks)
    assert cursor.unscheduled(modified, Phase.MAIN) == modified.ids(Phase.MAIN)
