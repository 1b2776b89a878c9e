"""Admission of executions per namespace: at most `max_concurrent_executions` run at once, and
none start while the namespace's tasks wait for capacity (its pools are saturated); the rest
wait in arrival order (backpressure QUEUE) or are refused (REJECT), as the pure
`scheduler.queueing.admit` decides."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable

from models.queueing import (
    Accept,
    Admission,
    AdmissionState,
    ExecutionRequest,
    NamespacePolicy,
    Queue,
)
from scheduler.queueing import admit


class AdmissionControl:
    def __init__(
        self,
        policy_of: Callable[[str], NamespacePolicy],
        saturated: Callable[[str], bool] = lambda namespace: False,
    ) -> None:
        self._policy_of = policy_of
        self._saturated = saturated
        self._running: defaultdict[str, set[str]] = defaultdict(set)
        self._waiting: defaultdict[str, deque[str]] = defaultdict(deque)

    def request(self, namespace: str, execution_id: str) -> Admission:
        """Decides and books the decision at once (so concurrent starts cannot both pass)."""
        state = AdmissionState(
            self._policy_of(namespace),
            active_executions=len(self._running[namespace]),
            waiting_executions=len(self._waiting[namespace]),
            saturated=self._saturated(namespace),
        )
        decision = admit(ExecutionRequest(execution_id, namespace), state)
        if isinstance(decision, Accept):
            self._running[namespace].add(execution_id)
        elif isinstance(decision, Queue):
            self._waiting[namespace].append(execution_id)
        return decision

    def resume_running(self, namespace: str, execution_id: str) -> None:
        """Books an execution that was already running before a restart."""
        self._running[namespace].add(execution_id)

    def forget(self, namespace: str, execution_id: str) -> list[str]:
        """An execution ended (or was cancelled while waiting): returns the waiting executions
        that may now start, in arrival order."""
        self._running[namespace].discard(execution_id)
        if execution_id in self._waiting[namespace]:
            self._waiting[namespace].remove(execution_id)
        return self.admit_waiting(namespace)

    def waiting_namespaces(self) -> list[str]:
        return sorted(ns for ns, waiting in self._waiting.items() if waiting)

    def running_count(self, namespace: str) -> int:
        return len(self._running[namespace])

    def waiting_count(self, namespace: str) -> int:
        return len(self._waiting[namespace])

    def admit_waiting(self, namespace: str) -> list[str]:
        """The waiting executions that may start now, in arrival order (booked as running)."""
        admitted = []
        while self._waiting[namespace]:
            candidate = self._waiting[namespace][0]
            state = AdmissionState(
                self._policy_of(namespace),
                active_executions=len(self._running[namespace]),
                waiting_executions=len(self._waiting[namespace]) - 1,
                saturated=self._saturated(namespace),
            )
            if not isinstance(admit(ExecutionRequest(candidate, namespace), state), Accept):
                break
            self._waiting[namespace].popleft()
            self._running[namespace].add(candidate)
            admitted.append(candidate)
        return admitted

    def undo(self, namespace: str, execution_id: str) -> None:
        self._running[namespace].discard(execution_id)
        if execution_id in self._waiting[namespace]:
            self._waiting[namespace].remove(execution_id)
