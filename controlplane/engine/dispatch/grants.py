"""What a runner asks the dispatcher for (`TaskRequest`) and what it gets (`Grant`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from models.queueing import QueuedItem, RunningItem
from models.resources import ResourceAmounts
from models.workflows import PlacementConstraints


class Rejected(Exception):
    """The task can never run as asked (e.g. its demand exceeds its namespace's quota)."""


@dataclass(frozen=True)
class TaskRequest:
    execution_id: str
    task_id: str
    attempt: int
    namespace: str
    agent: str
    demand: ResourceAmounts = field(default_factory=ResourceAmounts)
    placement: PlacementConstraints = field(default_factory=PlacementConstraints)
    priority: int = 0

    @property
    def item_id(self) -> str:
        return f"{self.execution_id}/{self.task_id}/{self.attempt}"


class Grant:
    """Capacity given to one attempt: where it runs, and how to stop it for a preemption."""

    def __init__(
        self, request: TaskRequest, item: QueuedItem, group: str, node: str | None, now: float
    ) -> None:
        self.request = request
        self.item = item
        self.group = group
        self.node = node
        self.started_at = now
        self.running_item = RunningItem(item, now)  # built once: every round reads it
        self.preempted = ""  # the reason, once preempted
        self._on_preempt: Callable[[], object] | None = None

    @property
    def nodes(self) -> frozenset[str] | None:
        """Where the attempt must lease its replica (None: any replica)."""
        return None if self.node is None else frozenset({self.node})

    def on_preempt(self, callback: Callable[[], object] | None) -> None:
        self._on_preempt = callback

    def preempt(self, reason: str) -> None:
        if self.preempted:
            return
        self.preempted = reason
        if self._on_preempt is not None:
            self._on_preempt()
