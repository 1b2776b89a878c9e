"""The dependencies between the tasks of a definition: ids unique across `tasks` and
`finally`, every dependency an existing other task, no cycle, and no regular task waiting for
a finally task (those run after all the others)."""

from __future__ import annotations

from controlplane.workflow.reporter import Reporter
from controlplane.workflow.task_draft import Edge, TaskDraft
from models.workflows import TriggerRule


def check_graph(tasks: list[TaskDraft], finals: list[TaskDraft], report: Reporter) -> None:
    """Reports every problem and sets each draft's `depends_on`."""
    first: dict[str, TaskDraft] = {}
    for draft in (*tasks, *finals):
        if draft.id is None:
            continue
        if draft.id in first:
            report.error(
                f"{draft.base}.id",
                f"duplicate task id '{draft.id}' (first defined at {first[draft.id].base})",
            )
        else:
            first[draft.id] = draft
    edges: dict[str, list[Edge]] = {}
    for draft in (*tasks, *finals):
        kept = _dependencies(draft, first, report)
        draft.depends_on = tuple(edge.dep for edge in kept)
        if draft.id is not None and first[draft.id] is draft:
            edges[draft.id] = kept
        _check_trigger(draft, kept, first, report)
        _check_compensation_refs(draft, first, report)
    for cycle, path in _find_cycles(list(edges), edges):
        report.error(path, "dependency cycle: " + " -> ".join(cycle))


def _dependencies(draft: TaskDraft, known: dict[str, TaskDraft], report: Reporter) -> list[Edge]:
    """Edges to existing other tasks, first occurrence of each dependency only."""
    kept: list[Edge] = []
    seen: set[str] = set()
    for edge in draft.edges:
        what = "references" if edge.via_reference else "depends on"
        target = known.get(edge.dep)
        if edge.dep == draft.id:
            itself = "references its own output" if edge.via_reference else "depends on itself"
            report.error(edge.path, f"task '{draft.id}' {itself}")
        elif target is None:
            report.error(edge.path, f"{what} unknown task '{edge.dep}'")
        elif target.in_finally and not draft.in_finally:
            report.error(
                edge.path,
                f"{what} finally task '{edge.dep}'; finally tasks run after every other task",
            )
        elif edge.dep not in seen:
            seen.add(edge.dep)
            kept.append(edge)
    return kept


def _check_trigger(
    draft: TaskDraft, kept: list[Edge], known: dict[str, TaskDraft], report: Reporter
) -> None:
    """any_failed with nothing to count would never run. A finally task's trigger counts only
    the finally tasks it depends on: the regular ones have all ended when finally starts."""
    if draft.trigger is not TriggerRule.ANY_FAILED:
        return
    counted = [e for e in kept if known[e.dep].in_finally] if draft.in_finally else kept
    if not counted:
        among = " among the finally tasks" if draft.in_finally else ""
        report.error(
            f"{draft.base}.trigger",
            f"trigger 'any_failed' needs a dependency{among}: with none it would never run",
        )


def _check_compensation_refs(
    draft: TaskDraft, known: dict[str, TaskDraft], report: Reporter
) -> None:
    """A compensation runs after the execution failed: it may read the outputs of regular
    tasks (its own task's included), never those of finally tasks."""
    for location, task_id in draft.compensate_refs:
        target = known.get(task_id)
        if target is None:
            report.error(location, f"references unknown task '{task_id}'")
        elif target.in_finally:
            report.error(location, f"references finally task '{task_id}', which runs later")


def _find_cycles(nodes: list[str], edges: dict[str, list[Edge]]) -> list[tuple[list[str], str]]:
    """One (cycle, closing edge path) per back edge of an iterative depth-first search.

    `a -> b -> a` reads "a depends on b, which depends on a"; the path is where the last
    edge (b -> a) is written. Iterative so long chains cannot hit the recursion limit.
    """
    state: dict[str, int] = dict.fromkeys(nodes, 0)  # 0 new, 1 on the stack, 2 done
    cycles: list[tuple[list[str], str]] = []
    for root in nodes:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(edges.get(root, [])))]
        while stack:
            node, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                state[node] = 2
                stack.pop()
            elif state[edge.dep] == 1:
                on_stack = [name for name, _ in stack]
                cycle = [*on_stack[on_stack.index(edge.dep) :], edge.dep]
                cycles.append((cycle, edge.path))
            elif state[edge.dep] == 0:
                state[edge.dep] = 1
                stack.append((edge.dep, iter(edges.get(edge.dep, []))))
    return cycles
