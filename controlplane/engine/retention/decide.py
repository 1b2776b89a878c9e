"""What the retention sweep may delete, as pure functions of what the store holds.

A family (an execution with the child executions it started, and theirs) goes together, from
its root (an execution without a parent, or whose parent is gone): a child is never deleted
while its parent is kept, nor a parent while a child still runs. A family goes once every
member is finished and ended before its namespace's cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.retention import StoredExecution
from models.security import AccessPolicy


def execution_retention_s(policy: AccessPolicy, default_s: float) -> float:
    """How long the namespace keeps finished executions (0: for ever)."""
    return policy.execution_retention_s if policy.execution_retention_s > 0 else default_s


def audit_retention_s(policy: AccessPolicy, default_s: float) -> float:
    """How long the namespace keeps audit events (0: for ever)."""
    return policy.audit_retention_s if policy.audit_retention_s > 0 else default_s


def cutoff(now: float, retention_s: float) -> float | None:
    """What ended before this time is due; None when nothing ever is."""
    return None if retention_s <= 0 else now - retention_s


def is_due(execution: StoredExecution, before: float) -> bool:
    return (
        execution.status.terminal and execution.end_time is not None and execution.end_time < before
    )


def family_due(
    root: StoredExecution, descendants: Sequence[StoredExecution], before: float
) -> list[str] | None:
    """The ids of the family to delete, the root first; None while any member still runs or
    ended at or after `before`."""
    members = [root, *descendants]
    if not all(is_due(member, before) for member in members):
        return None
    return [member.execution_id for member in members]
