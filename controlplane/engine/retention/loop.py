"""The retention sweep: every `interval_s`, deletes the finished executions (with every row
that belongs to them) and the audit events older than their namespace's retention, a few
hundred rows per transaction, each written off the event loop, so the server answers on
throughout.

An execution is held in the engine while its row goes (no retry can start on it), and the
engine forgets what it keeps of it after; from then on it is NOT_FOUND.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from controlplane.engine.periodic import run_every
from controlplane.engine.retention.decide import (
    audit_retention_s,
    cutoff,
    execution_retention_s,
    family_due,
)
from controlplane.store import is_outage
from controlplane.store.audit_events import AuditEventStore
from controlplane.store.retention import EXECUTION_TABLES, RetentionStore
from models.retention import StoredExecution
from models.security import AccessPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
# Ids in one IN (...) list: well below SQLite's bound on parameters.
MAX_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class RetentionSettings:
    """Server defaults (a namespace's policy may say otherwise); 0 keeps for ever."""

    executions_s: float
    audit_s: float
    interval_s: float
    rows_per_transaction: int = 200


@dataclass
class SweepResult:
    executions: int = 0
    audit_events: int = 0
    transactions: int = 0


class ExecutionMemory(Protocol):
    """What the execution engine keeps of executions, for the ones being deleted."""

    def hold_for_deletion(self, execution_ids: Sequence[str]) -> bool:
        """Holds these finished executions (all or none: False when one is still worked on)
        so that none starts again until `let_go`."""
        ...

    def let_go(self, execution_ids: Sequence[str]) -> None:
        """Ends the hold and forgets what memory keeps of them."""
        ...


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RetentionLoop:
    def __init__(
        self,
        executions: RetentionStore,
        audit_events: AuditEventStore,
        memory: ExecutionMemory,
        policy_for: Callable[[str], AccessPolicy],
        settings: RetentionSettings,
        clock: Callable[[], float],
    ) -> None:
        self._executions = executions
        self._audit = audit_events
        self._memory = memory
        self._policy_for = policy_for
        self.settings = settings
        self._clock = clock

    async def run(self) -> None:
        await run_every(self.settings.interval_s, self._round, log, "retention sweep")

    async def _round(self) -> None:
        try:
            result = await self.run_once()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("retention sweep stopped: the store refuses writes (%s)", exc)
            return
        if result.executions or result.audit_events:
            log.info(
                "retention: deleted %d executions and %d audit events in %d transactions",
                result.executions,
                result.audit_events,
                result.transactions,
            )

    async def run_once(self) -> SweepResult:
        """One sweep: what an earlier one left half done, then every namespace's due
        executions, then its due audit events."""
        result = SweepResult()
        await self._finish_pending(result)
        now = self._clock()
        for namespace in self._executions.namespaces():
            retention = execution_retention_s(
                self._policy_for(namespace), self.settings.executions_s
            )
            before = cutoff(now, retention)
            if before is not None:
                await self._sweep_executions(namespace, before, result)
        await self._sweep_audit(now, result)
        return result

    # -- executions ---------------------------------------------------------------------------

    async def _sweep_executions(self, namespace: str, before: float, result: SweepResult) -> None:
        batch = self.settings.rows_per_transaction
        after: tuple[float, str] | None = None
        while True:
            page = self._executions.ended_before(namespace, before, after, batch)
            for candidate in page:
                await self._delete_family(candidate, before, result)
            if len(page) < batch:
                return
            last = page[-1]
            after = (last.end_time or 0.0, last.execution_id)

    async def _delete_family(
        self, candidate: StoredExecution, before: float, result: SweepResult
    ) -> None:
        parent = candidate.parent_execution_id
        if parent and self._executions.get(parent) is not None:
            return  # it goes with its parent
        ids = family_due(candidate, self._descendants(candidate), before)
        if ids is None or not self._memory.hold_for_deletion(ids):
            return
        try:
            for chunk in _chunks(ids, self.settings.rows_per_transaction):
                await asyncio.to_thread(self._executions.remove_executions, chunk)
                result.transactions += 1
        finally:
            self._memory.let_go(ids)
        await self._finish_pending(result)

    def _descendants(self, root: StoredExecution) -> list[StoredExecution]:
        found: list[StoredExecution] = []
        level = [root.execution_id]
        seen = {root.execution_id}
        while level:
            children = [
                child
                for ids in _chunks(level, MAX_IDS_PER_QUERY)
                for child in self._executions.children(ids)
                if child.execution_id not in seen
            ]
            seen.update(c.execution_id for c in children)
            found.extend(children)
            level = [c.execution_id for c in children]
        return found

    async def _finish_pending(self, result: SweepResult) -> None:
        """Deletes the rows of every execution whose own row is gone, then its note."""
        batch = self.settings.rows_per_transaction
        for execution_id in self._executions.pending():
            for table in EXECUTION_TABLES:
                rows = self._executions.row_count(table, execution_id)
                for _ in range(math.ceil(rows / batch)):
                    await asyncio.to_thread(
                        self._executions.delete_rows, table, execution_id, batch
                    )
                    result.transactions += 1
            await asyncio.to_thread(self._executions.finish, execution_id)
            result.transactions += 1
            result.executions += 1

    # -- audit events -------------------------------------------------------------------------

    async def _sweep_audit(self, now: float, result: SweepResult) -> None:
        batch = self.settings.rows_per_transaction
        for namespace in self._audit.namespaces():
            retention = self.settings.audit_s
            if namespace:  # ("": cluster-wide calls, kept as the server says)
                retention = audit_retention_s(self._policy_for(namespace), retention)
            before = cutoff(now, retention)
            if before is None:
                continue
            while True:
                sequences = self._audit.older_than(namespace, before, batch)
                if not sequences:
                    break
                await asyncio.to_thread(self._audit.delete, sequences)
                result.transactions += 1
                result.audit_events += len(sequences)
                if len(sequences) < batch:
                    break
