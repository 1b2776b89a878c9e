"""`workflow:` tasks: each attempt is a child execution of another workflow, started with a
request id derived from the parent, the task and the attempt (so a restarted parent finds its
child again instead of starting a second), awaited to its end; its outputs are the task's
output and its failure the task's failure. Cancelling the attempt cancels the child."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from controlplane.workflow import ReferenceResolutionError, resolve
from models.backend import AttemptOutcome
from models.errors import OrchestratorError, Unavailable
from models.executions import AttemptRecord, ErrorInfo, ExecutionRecord, ExecutionStatus
from models.workflows import TaskDefinition

log = logging.getLogger(__name__)

MAX_DEPTH = 10  # children of children: a deeper chain is a recursion


class ChildExecutions(Protocol):
    """What the execution service offers its runners."""

    async def start_child(
        self, parent: ExecutionRecord, request_id: str, workflow: str, revision: int, inputs: Any
    ) -> ExecutionRecord: ...

    async def ended(self, execution_id: str) -> ExecutionRecord: ...

    async def cancel(self, execution_id: str, reason: str) -> ExecutionRecord: ...

    def depth(self, execution: ExecutionRecord) -> int: ...


def child_request_id(parent_id: str, task_id: str, attempt: int) -> str:
    return f"child:{parent_id}:{task_id}:{attempt}"


async def run_child(
    children: ChildExecutions,
    parent: ExecutionRecord,
    spec: TaskDefinition,
    attempt: AttemptRecord,
    outputs: Mapping[str, Any],
    scope: dict[str, Any],
) -> AttemptOutcome:
    """One attempt of a workflow task (its input resolved over the parent's inputs, task
    `outputs` and the task's `scope`): the child's outcome as the attempt's."""
    try:
        inputs = resolve(spec.input or {}, parent.inputs, outputs, "input", scope)
    except ReferenceResolutionError as exc:
        error = ErrorInfo("ReferenceResolutionError", str(exc))
        return AttemptOutcome(ok=False, error=error, retryable=False)
    if children.depth(parent) >= MAX_DEPTH:
        error = ErrorInfo("ChildDepthExceeded", f"child executions nest deeper than {MAX_DEPTH}")
        return AttemptOutcome(ok=False, error=error, retryable=False)
    if not isinstance(inputs, dict):
        error = ErrorInfo("InvalidInput", "a workflow task's input must be an object (its inputs)")
        return AttemptOutcome(ok=False, error=error, retryable=False)
    request_id = child_request_id(parent.execution_id, spec.id, attempt.number)
    try:
        child = await children.start_child(
            parent, request_id, spec.workflow, spec.workflow_revision, inputs
        )
    except OrchestratorError as exc:  # the workflow, its inputs or its agents do not fit
        error = ErrorInfo("ChildNotStarted", f"{spec.workflow}: {exc}")
        return AttemptOutcome(ok=False, error=error, retryable=isinstance(exc, Unavailable))
    try:
        ended = await children.ended(child.execution_id)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(
                children.cancel(child.execution_id, "its parent task was cancelled")
            )
        raise
    if ended.status is ExecutionStatus.SUCCEEDED:
        return AttemptOutcome(ok=True, output=ended.outputs or {})
    cause = ended.error or ErrorInfo("ChildFailed", ended.status.value)
    error = ErrorInfo(
        cause.type,
        f"child execution {ended.execution_id} ({spec.workflow}) {ended.status.value}: "
        f"{cause.message}",
    )
    return AttemptOutcome(ok=False, error=error)
