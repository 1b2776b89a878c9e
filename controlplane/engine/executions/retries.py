"""RetryExecution on the engine: one retry at a time per execution, idempotent on its request
id, recorded durably (retry.py says what a retry changes) before a new runner resumes the
execution as after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from controlplane.engine.executions.admission import AdmissionControl
from controlplane.engine.executions.attempt_routing import agents_of
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.plan import ExecutionPlan
from controlplane.engine.executions.retry import missing_agents, refusal, rerun_tasks, rewind
from controlplane.engine.executions.runner import ExecutionRunner
from controlplane.engine.executions.runner_deps import RunnerDeps
from controlplane.store import SqliteStore, WriteBatch
from models.errors import (
    FailedPrecondition,
    FieldViolation,
    NotFound,
    ResourceExhausted,
    Unavailable,
    invalid,
)
from models.executions import EventType, ExecutionRecord
from models.queueing import Accept
from models.workflows import WorkflowRevision

LET_GO_S = 5.0  # how long a retry waits for the runner of an execution that just ended
MAX_REQUEST_ID = 200


class Retries:
    def __init__(
        self,
        store: SqliteStore,
        deps: RunnerDeps,
        catalog: WorkflowCatalog,
        admission: AdmissionControl,
        runners: dict[str, ExecutionRunner],
        agent_names: Callable[[], set[str]],
        get: Callable[[str], ExecutionRecord],
        relaunch: Callable[[ExecutionRecord, Any], None],
        definition_of: Callable[[ExecutionRecord, WorkflowRevision], Any],
    ) -> None:
        """`relaunch(record, definition)` runs a new runner for the retried execution;
        `definition_of(record, revision)` is what it runs (its modifications replayed)."""
        self._store = store
        self._deps = deps
        self._catalog = catalog
        self._admission = admission
        self._runners = runners
        self._agent_names = agent_names
        self._get = get
        self._relaunch = relaunch
        self._definition_of = definition_of
        self._in_flight: dict[str, tuple[str, asyncio.Future[None]]] = {}
        self._held: set[str] = set()  # being deleted (retention): never retried again

    def hold(self, execution_ids: Sequence[str]) -> bool:
        """Refuses every retry of these executions until `release`; False (and holds none)
        when one is being retried now."""
        if any(execution_id in self._in_flight for execution_id in execution_ids):
            return False
        self._held.update(execution_ids)
        return True

    def release(self, execution_ids: Sequence[str]) -> None:
        self._held.difference_update(execution_ids)

    async def retry(self, execution_id: str, request_id: str = "") -> ExecutionRecord:
        """Runs a FAILED, CANCELLED or TIMED_OUT execution again from its failed, cancelled and
        skipped tasks, keeping every succeeded output (see retry.py). Durable before it returns;
        the execution then resumes as after a restart. The same `request_id` as the last retry
        answers the execution as it is instead of retrying it again. A child execution may be
        retried: its parent, whose task already took the child's end, is not affected."""
        if execution_id in self._held:
            raise NotFound(
                f"execution {execution_id!r} not found (it is being deleted)",
                [FieldViolation("execution_id", "no such execution")],
            )
        if self._deps.writer.unwritable_since is not None:
            raise Unavailable("the store refuses writes; retry the execution once it takes them")
        if len(request_id) > MAX_REQUEST_ID:
            raise invalid("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        in_flight = self._in_flight.get(execution_id)
        if in_flight is not None:
            if not request_id or in_flight[0] != request_id:
                raise FailedPrecondition(
                    f"execution {execution_id} is being retried",
                    [FieldViolation("execution_id", "a retry of it is being recorded")],
                )
            await asyncio.shield(in_flight[1])
            return self._get(execution_id)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[execution_id] = (request_id, done)
        try:
            record = await self._retried(execution_id, request_id)
        except BaseException as exc:
            done.set_exception(exc)  # the same request, sent again meanwhile, hears the same
            done.exception()  # (retrieved: nobody may be waiting)
            raise
        finally:
            del self._in_flight[execution_id]
        done.set_result(None)
        return record

    async def _retried(self, execution_id: str, request_id: str) -> ExecutionRecord:
        if not execution_id:
            raise invalid("execution_id", "is required")
        record = self._store.load_execution(execution_id)
        if record is None:
            raise NotFound(
                f"execution {execution_id!r} not found",
                [FieldViolation("execution_id", "no such execution")],
            )
        last = self._store.last_event(execution_id, EventType.EXECUTION_RETRIED)
        if request_id and last is not None and last.details.get("request_id") == request_id:
            return self._get(execution_id)  # the same request again: already retried
        await self._let_go(execution_id)
        refused = refusal(record, execution_id in self._runners)
        if refused is not None:
            raise refused
        revision = self._catalog.get(record.workflow, record.revision, namespace=record.namespace)
        await self._catalog.load_definition(revision)  # parsed off the loop, then cached
        definition = self._definition_of(record, revision)
        plan = ExecutionPlan.of(definition)
        task_ids = rerun_tasks(record, plan)
        deployed = agents_of(record.namespace, self._agent_names())
        missing = missing_agents(record, plan, task_ids, deployed)
        if missing:
            raise FailedPrecondition("tasks to run again use agents that are not deployed", missing)
        decision = self._admission.request(record.namespace, execution_id)
        if not isinstance(decision, Accept):
            self._admission.undo(record.namespace, execution_id)
            # Not queued at admission: its status would say RUNNING while it waited.
            raise ResourceExhausted(
                f"namespace {record.namespace} has no room for the retry now: {decision.reason}",
                [FieldViolation("execution_id", decision.reason)],
            )
        number = 1 if last is None else int(last.details.get("retry", 0)) + 1
        batch = WriteBatch()
        rewind(record, task_ids, batch, self._deps.clock(), request_id, number)
        try:
            await self._deps.writer.commit(batch, wait_out_outage=False)
        except BaseException:
            self._admission.undo(record.namespace, execution_id)
            raise
        self._deps.hub.published(execution_id, record.last_sequence)
        self._relaunch(record, definition)
        return self._get(execution_id)

    async def _let_go(self, execution_id: str) -> None:
        """Waits (briefly) for the runner of an execution whose end is recorded to let go."""
        runner = self._runners.get(execution_id)
        deadline = self._deps.clock() + LET_GO_S
        while runner is not None and runner.record.status.terminal:
            if self._deps.clock() > deadline:
                return
            await asyncio.sleep(0.01)
            runner = self._runners.get(execution_id)
