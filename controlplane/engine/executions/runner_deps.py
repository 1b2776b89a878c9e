"""What every execution runner is built with (the composition root fills it once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.executions.event_hub import EventHub
from controlplane.engine.executions.transitions import Evaluate
from controlplane.ports import AgentBackend
from controlplane.store import StoreWriter
from controlplane.store.signals import SignalStore
from models.executions import ExecutionRecord
from models.limits import WorkflowLimits


@dataclass
class Drain:
    """Set at shutdown: attempts in flight finish and are recorded, nothing new starts."""

    active: bool = False


@dataclass(frozen=True)
class RunnerDeps:
    writer: StoreWriter
    backend: AgentBackend
    hub: EventHub
    clock: Callable[[], float]
    dispatcher: Dispatcher
    # What the store holds of an execution (read back after a change was not recorded).
    load: Callable[[str], ExecutionRecord | None]
    drain: Drain = field(default_factory=lambda: Drain())
    # What the agent's consistent_hash strategy routes an input by ("" for nothing).
    routing_key: Callable[[str, object], str] = lambda agent, task_input: ""
    # Evaluates a task's `when` condition (CEL) over its activation.
    evaluate: Evaluate = field(default=lambda text, activation: _no_conditions(text))
    signals: SignalStore | None = None
    # Bounds on what an execution may hold (for_each items, events, value nesting).
    limits: WorkflowLimits = field(default_factory=WorkflowLimits)


def _no_conditions(text: str) -> bool:
    raise RuntimeError(f"no condition evaluator is configured for {text!r}")
