"""Workflow definitions (parsed from YAML/JSON) and their immutable revisions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from models.namespaces import qualified_name
from models.resources import ResourceAmounts
from models.security import DEFAULT_NAMESPACE


class View(enum.Enum):
    """How much of a resource a response carries (AIP-157 partial responses)."""

    BASIC = "BASIC"  # what lists show: identity, status, times, errors
    FULL = "FULL"  # everything, values within the response budget


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_interval_s: float = 1.0
    backoff_coefficient: float = 2.0
    max_interval_s: float = 60.0
    non_retryable_errors: tuple[str, ...] = ()

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2-based: attempt 1 never waits)."""
        if attempt <= 1:
            return 0.0
        delay = self.initial_interval_s * self.backoff_coefficient ** (attempt - 2)
        return float(min(delay, self.max_interval_s))

    def delay_honouring(self, attempt: int, retry_after_s: float | None) -> float:
        """`delay_before(attempt)`, lengthened to the wait the agent asked for (an HTTP
        Retry-After) but never past `max_interval_s` for it."""
        delay = self.delay_before(attempt)
        if retry_after_s is None or attempt <= 1:
            return delay
        return max(delay, min(float(retry_after_s), self.max_interval_s))


@dataclass(frozen=True)
class InputParameter:
    name: str
    type: str = "any"  # string | number | integer | boolean | object | array | any
    required: bool = True
    default: Any = None


@dataclass(frozen=True)
class PlacementConstraints:
    """Where a task's attempts may run.

    pool: the resource pool whose capacity it draws from ("" = the agent's pool, else the
        whole cluster); node_labels: Ray label-selector expressions every node must match;
    affinity / anti_affinity: ids of tasks of the same execution whose node it must share /
        avoid; spread: prefer the node running the fewest of this execution's tasks.
    """

    pool: str = ""
    node_labels: dict[str, str] = field(default_factory=dict)
    affinity: tuple[str, ...] = ()
    anti_affinity: tuple[str, ...] = ()
    spread: bool = False

    @property
    def is_empty(self) -> bool:
        return self == PlacementConstraints()


class TriggerRule(enum.Enum):
    """Whether a task runs, given the statuses of the tasks it depends on (all terminal)."""

    ALL_SUCCEEDED = "all_succeeded"  # every dependency succeeded (the default)
    NONE_FAILED = "none_failed"  # none failed or timed out (skipped ones are fine)
    ALL_DONE = "all_done"  # whatever they ended as
    ANY_FAILED = "any_failed"  # at least one failed or timed out


class FailureMode(enum.Enum):
    CONTINUE = "continue"  # a failed task skips what depends on it; the rest goes on
    FAIL_FAST = "fail_fast"  # the first failed task cancels every other task


class TaskKind(enum.Enum):
    AGENT = "agent"  # an attempt on a replica of `agent`
    WORKFLOW = "workflow"  # a child execution of `workflow`
    SIGNAL = "signal"  # waits for SignalExecution(name=wait_for_signal); output = its payload
    SLEEP = "sleep"  # a durable timer of `sleep_s`


MAX_LOOP_ITERATIONS = 1000
DEFAULT_LOOP_ITERATIONS = 100


@dataclass(frozen=True)
class LoopSpec:
    """Re-run the task until the CEL condition `until` (over `output`, `iteration`,
    `previous`, `inputs`, `tasks`, `execution`) is true, at most `max_iterations` times (then
    LoopLimitExceeded)."""

    until: str
    max_iterations: int = DEFAULT_LOOP_ITERATIONS


@dataclass(frozen=True)
class ForEachSpec:
    """One item per element of the list `items` resolves to (a `${...}` reference): the task
    runs once per item (`${item}`, `${index}` in its input), at most `max_concurrency` at
    once (0: no limit but the dispatcher's); it fails once more than `allow_failures` items
    (or `allow_failures_percent` of them) failed."""

    items: str
    max_concurrency: int = 0
    allow_failures: int = 0
    allow_failures_percent: float | None = None


@dataclass(frozen=True)
class Compensation:
    """What undoes a succeeded task when the execution fails (sagas): an agent and its input
    (which may reference the task's own output as `${tasks.<id>.output}`)."""

    agent: str
    input: Any = None


@dataclass(frozen=True)
class TaskDefinition:
    id: str
    agent: str
    input: Any = None
    # Explicit depends_on plus every task referenced from `input`, in definition order.
    depends_on: tuple[str, ...] = ()
    timeout_s: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # What one attempt holds while it runs, accounted by the dispatcher against node capacity.
    resources: ResourceAmounts = field(default_factory=ResourceAmounts)
    placement: PlacementConstraints = field(default_factory=PlacementConstraints)
    priority: int = 0  # within its namespace's queue; higher first
    # An attempt silent for longer fails as HeartbeatTimeout (None: no heartbeats required).
    heartbeat_timeout_s: float | None = None
    kind: TaskKind = TaskKind.AGENT
    workflow: str = ""  # kind WORKFLOW: the child's workflow, at `workflow_revision` (0: latest)
    workflow_revision: int = 0
    wait_for_signal: str = ""  # kind SIGNAL: the signal's name
    sleep_s: float | None = None  # kind SLEEP
    when: str = ""  # a CEL condition; false: the task is SKIPPED
    trigger: TriggerRule = TriggerRule.ALL_SUCCEEDED
    for_each: ForEachSpec | None = None
    loop: LoopSpec | None = None
    compensate: Compensation | None = None


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    tasks: tuple[TaskDefinition, ...]
    inputs: dict[str, InputParameter] = field(default_factory=dict)
    outputs: Any = None
    timeout_s: float | None = None
    description: str = ""
    failure_mode: FailureMode = FailureMode.CONTINUE
    # Run at the end whatever the outcome (exit handlers), after compensations; `${execution
    # .status}` is what the execution would end as without them.
    finally_tasks: tuple[TaskDefinition, ...] = ()

    def task(self, task_id: str) -> TaskDefinition:
        for task in (*self.tasks, *self.finally_tasks):
            if task.id == task_id:
                return task
        raise KeyError(task_id)


@dataclass(frozen=True)
class WorkflowRevision:
    name: str  # unique in its namespace
    revision: int
    definition_text: str
    digest: str
    create_time: float
    namespace: str = DEFAULT_NAMESPACE

    @property
    def key(self) -> str:
        """What the workflow is stored and run under (see models.namespaces)."""
        return qualified_name(self.namespace, self.name)


class Severity(enum.Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"


@dataclass(frozen=True)
class ValidationProblem:
    path: str
    message: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class WorkflowView:
    """One stored revision of a workflow, with the latest revision number under its name."""

    revision: WorkflowRevision
    latest_revision: int
    task_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.revision.name

    @property
    def namespace(self) -> str:
        return self.revision.namespace


@dataclass(frozen=True)
class CreateWorkflowResult:
    """The stored revision (an unchanged definition finds the existing one) and the warnings."""

    workflow: WorkflowView
    created: bool
    warnings: list[ValidationProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationResult:
    valid: bool
    problems: list[ValidationProblem] = field(default_factory=list)
