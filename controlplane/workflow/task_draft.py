"""What the task checkers share: the draft of one task (what was readable of it), the context
of the whole definition, and the scope rules of `${...}` references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controlplane.workflow.references import Reference, find_reference_problems
from controlplane.workflow.reporter import Reporter
from models.resources import ResourceAmounts
from models.workflows import (
    Compensation,
    ForEachSpec,
    InputParameter,
    LoopSpec,
    PlacementConstraints,
    RetryPolicy,
    Severity,
    TaskDefinition,
    TaskKind,
    TriggerRule,
)

# Where each scoped root can be referenced, for the problem naming a misplaced one.
_SCOPE_PLACES = {
    "item": "in the input of a for_each task",
    "index": "in the input of a for_each task",
    "loop": "in the input of a loop task",
    "execution": "in the input of a finally task",
}


@dataclass(frozen=True)
class Catalog:
    """The agents and workflows the control plane knows (None: not checked) and how an
    unknown one is reported."""

    agents: set[str] | None = None
    unknown_agent_severity: Severity = Severity.WARNING
    workflows: set[str] | None = None
    unknown_workflow_severity: Severity = Severity.ERROR


@dataclass
class DefinitionContext:
    """What every task check may read of the rest of the definition."""

    report: Reporter
    catalog: Catalog
    workflow_name: str | None
    # None when the `inputs` section is unreadable: input references are then not checked,
    # to avoid one "unknown input" per reference on top of the real error.
    input_names: set[str] | None
    inputs: dict[str, InputParameter]


@dataclass
class Edge:
    dep: str
    path: str
    via_reference: bool


@dataclass
class TaskDraft:
    """What was readable of one task; built into a TaskDefinition if all is well."""

    index: int
    base: str  # "tasks[2]" or "finally[0]": the prefix of its problems' paths
    in_finally: bool
    id: str | None
    kind: TaskKind = TaskKind.AGENT
    agent: str = ""
    workflow: str = ""
    workflow_revision: int = 0
    wait_for_signal: str = ""
    sleep_s: float | None = None
    input: Any = None
    timeout_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    resources: ResourceAmounts = field(default_factory=ResourceAmounts)
    placement: PlacementConstraints = field(default_factory=PlacementConstraints)
    priority: int = 0
    heartbeat_timeout_s: float | None = None
    when: str = ""
    trigger: TriggerRule = TriggerRule.ALL_SUCCEEDED
    for_each: ForEachSpec | None = None
    loop: LoopSpec | None = None
    compensate: Compensation | None = None
    edges: list[Edge] = field(default_factory=list)
    # Tasks the compensation's input reads: (location, task id), checked once all ids are known.
    compensate_refs: list[tuple[str, str]] = field(default_factory=list)
    depends_on: tuple[str, ...] = ()

    def build(self) -> TaskDefinition:
        return TaskDefinition(
            id=self.id or "",
            agent=self.agent,
            input=self.input,
            depends_on=self.depends_on,
            timeout_s=self.timeout_s,
            retry=self.retry,
            resources=self.resources,
            placement=self.placement,
            priority=self.priority,
            heartbeat_timeout_s=self.heartbeat_timeout_s,
            kind=self.kind,
            workflow=self.workflow,
            workflow_revision=self.workflow_revision,
            wait_for_signal=self.wait_for_signal,
            sleep_s=self.sleep_s,
            when=self.when,
            trigger=self.trigger,
            for_each=self.for_each,
            loop=self.loop,
            compensate=self.compensate,
        )


def scoped_roots(draft: TaskDraft) -> frozenset[str]:
    """The scoped roots a task's input may reference."""
    roots = set()
    if draft.for_each is not None:
        roots |= {"item", "index"}
    if draft.loop is not None:
        roots.add("loop")
    if draft.in_finally:
        roots.add("execution")
    return frozenset(roots)


def checked_references(
    value: Any, base: str, context: DefinitionContext, scoped: frozenset[str] = frozenset()
) -> list[tuple[str, Reference]]:
    """The references in `value`, after reporting malformed ones, unknown inputs and scoped
    roots outside `scoped`."""
    refs, problems = find_reference_problems(value, base)
    context.report.extend(problems)
    for location, ref in refs:
        if ref.root in _SCOPE_PLACES and ref.root not in scoped:
            context.report.error(location, f"{ref} is available only {_SCOPE_PLACES[ref.root]}")
        elif (
            ref.root == "inputs"
            and context.input_names is not None
            and ref.path[0] not in context.input_names
        ):
            context.report.error(
                location, f"{ref} references unknown workflow input '{ref.path[0]}'"
            )
    return refs


def task_edges(refs: list[tuple[str, Reference]]) -> list[Edge]:
    return [
        Edge(str(ref.task_id), location, via_reference=True)
        for location, ref in refs
        if ref.root == "tasks"
    ]


def check_agent(path: str, agent: Any, context: DefinitionContext) -> str:
    """The agent's name ("" after reporting when it is not one); an agent the catalog does not
    know is reported at the catalog's severity."""
    report = context.report
    if not report.expect(path, agent, "string"):
        return ""
    known = context.catalog.agents
    if not agent.strip():
        report.error(path, "agent must not be empty")
    elif known is not None and agent not in known:
        report.report(path, f"unknown agent '{agent}'", context.catalog.unknown_agent_severity)
    return str(agent)
