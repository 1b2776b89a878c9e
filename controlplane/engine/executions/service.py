"""Starts, recovers, cancels, lists and watches executions; owns one runner per live one.

An execution belongs to a namespace: its workflow is looked up there, its request id is unique
there, and every call that names it by id from another namespace finds nothing (`_owned`)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from controlplane.engine.executions import reads
from controlplane.engine.executions.admission import AdmissionControl
from controlplane.engine.executions.attempt_routing import agents_of
from controlplane.engine.executions.catalog import WorkflowCatalog, violations
from controlplane.engine.executions.children import MAX_DEPTH
from controlplane.engine.executions.modifications import from_details, replayed, to_details
from controlplane.engine.executions.outputs import value_error
from controlplane.engine.executions.plan import ExecutionPlan
from controlplane.engine.executions.retries import Retries
from controlplane.engine.executions.runner import ExecutionRunner
from controlplane.engine.executions.runner_deps import RunnerDeps
from controlplane.engine.executions.task_view import task_view
from controlplane.store import SqliteStore, WriteBatch
from controlplane.workflow import check_inputs
from models.errors import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    invalid,
)
from models.executions import (
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskStatus,
    ValuePart,
)
from models.modifications import Operation
from models.namespaces import request_namespace
from models.queueing import Accept, NamespacePolicy, Queue, Reject
from models.security import ALL_NAMESPACES, DEFAULT_NAMESPACE
from models.values import sized_details
from models.workflows import TaskKind
from scheduler.rolling import PlanTask

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 1 << 20
MAX_REQUEST_ID = 200
MAX_REASON = 1000
MAX_MODIFICATIONS = 10_000  # batches one execution keeps
SIGNAL_NAME_RE = re.compile(r"^[A-Za-z][\w-]{0,62}$")


class ExecutionEngine:
    def __init__(
        self,
        store: SqliteStore,
        deps: RunnerDeps,
        catalog: WorkflowCatalog,
        agent_names: Callable[[], set[str]],
        policy_of: Callable[[str], NamespacePolicy] = NamespacePolicy,
        saturated: Callable[[str], bool] = lambda namespace: False,
    ) -> None:
        self._store = store
        self._deps = deps
        self._catalog = catalog
        self._agent_names = agent_names
        self._runners: dict[str, ExecutionRunner] = {}
        self._launches: set[asyncio.Task[None]] = set()
        # Starts being recorded, by (namespace, request id).
        self._requests_in_flight: dict[tuple[str, str], asyncio.Future[str]] = {}
        # Retries being recorded: execution id -> (request id, done once recorded or refused).
        self._admission = AdmissionControl(policy_of, saturated)
        self._retries = Retries(
            store,
            deps,
            catalog,
            self._admission,
            self._runners,
            agent_names,
            self.get,
            lambda record, definition: self._launch(self._new_runner(record, definition)),
            self._modified,
        )

    async def recover(self) -> int:
        """Resumes every execution the store says is not finished."""
        records = self._store.load_active_executions()
        waiting = []
        for record in records:
            revision = self._catalog.get(
                record.workflow, record.revision, namespace=record.namespace
            )
            runner = self._new_runner(record, self._modified(record, revision))
            if record.status is ExecutionStatus.RUNNING:
                self._admission.resume_running(record.namespace, record.execution_id)
                await runner.launch()
            else:
                waiting.append(runner)
        for runner in waiting:  # in arrival order, after the running ones hold their places
            record = runner.record
            if isinstance(self._admission.request(record.namespace, record.execution_id), Accept):
                await runner.launch()
        return len(records)

    async def start(
        self,
        workflow: str,
        revision: int,
        inputs: dict[str, Any],
        request_id: str,
        namespace: str = "",
        parent_execution_id: str = "",
    ) -> tuple[ExecutionRecord, bool]:
        """Starts an execution of workflow `workflow` of `namespace` (a child runs in its
        parent's); the same `request_id` in the same namespace answers the first one."""
        if self._deps.writer.unwritable_since is not None:
            raise Unavailable("the store refuses writes; executions wait until it takes them")
        namespace = request_namespace(namespace)
        if len(request_id) > MAX_REQUEST_ID:
            raise invalid("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        if request_id:
            existing = await self._existing_request(namespace, request_id)
            if existing is not None:
                if existing.workflow != workflow or revision not in (0, existing.revision):
                    raise AlreadyExists(
                        f"request_id {request_id!r} already started an execution of "
                        f"{existing.workflow} revision {existing.revision}",
                        [FieldViolation("request_id", "already used for another workflow")],
                    )
                return existing, False
        if not workflow:
            raise invalid("workflow", "is required")
        if len(json.dumps(inputs)) > MAX_INPUT_BYTES:
            raise invalid("inputs", f"are larger than {MAX_INPUT_BYTES} bytes")
        rev = self._catalog.get(workflow, revision, namespace=namespace)
        definition = await self._catalog.load_definition(rev)
        known = agents_of(namespace, self._agent_names())
        plan = ExecutionPlan.of(definition)
        missing = [
            FieldViolation(f"tasks[{i}].agent", f"agent {t.agent!r} is not deployed")
            for i, t in enumerate(plan.definitions.values())
            if t.kind is TaskKind.AGENT and t.agent not in known
        ]
        if missing:
            raise FailedPrecondition("workflow uses agents that are not deployed", missing)
        resolved, problems = check_inputs(definition, inputs, self._deps.limits.value_depth)
        if problems:
            raise InvalidArgument("inputs do not match the workflow", violations(problems))

        now = self._deps.clock()
        record = ExecutionRecord(
            execution_id=uuid.uuid4().hex,
            workflow=rev.name,
            revision=rev.revision,
            status=ExecutionStatus.PENDING,
            inputs=resolved,
            create_time=now,
            request_id=request_id,
            namespace=namespace,
            parent_execution_id=parent_execution_id,
        )
        for task in plan.new_records():
            record.tasks[task.task_id] = task
        batch = WriteBatch()
        for task in record.tasks.values():
            batch.put_task(record.execution_id, task)
        record.last_sequence = 1
        batch.add_event(
            Event(
                record.execution_id,
                1,
                EventType.EXECUTION_STARTED,
                now,
                details=sized_details(
                    {"workflow": rev.name, "revision": rev.revision, "inputs": resolved}
                ),
            )
        )
        decision = self._admission.request(namespace, record.execution_id)
        if isinstance(decision, Reject):
            raise ResourceExhausted(decision.reason, [FieldViolation("namespace", decision.reason)])
        if isinstance(decision, Queue):
            record.last_sequence = 2
            batch.add_event(
                Event(
                    record.execution_id,
                    2,
                    EventType.EXECUTION_QUEUED,
                    now,
                    details={"namespace": namespace, "reason": decision.reason},
                )
            )
        batch.put_execution(record)
        claim: asyncio.Future[str] | None = None
        if request_id:
            claim = asyncio.get_running_loop().create_future()
            self._requests_in_flight[(namespace, request_id)] = claim
        try:
            # Not acknowledged yet: an outage is answered (UNAVAILABLE), not waited out.
            await self._deps.writer.commit(batch, wait_out_outage=False)
        except BaseException as exc:
            self._admission.undo(namespace, record.execution_id)
            if claim is not None:
                claim.set_exception(exc)
                claim.exception()  # mark retrieved
            raise
        finally:
            if request_id:
                self._requests_in_flight.pop((namespace, request_id), None)
        if claim is not None:
            claim.set_result(record.execution_id)
        self._deps.hub.published(record.execution_id, record.last_sequence)
        runner = self._new_runner(record, definition)
        if isinstance(decision, Accept):
            self._launch(runner)
        return record, True

    def _launch(self, runner: ExecutionRunner) -> None:
        launch = asyncio.get_running_loop().create_task(runner.launch())
        self._launches.add(launch)
        launch.add_done_callback(self._launches.discard)

    async def _existing_request(self, namespace: str, request_id: str) -> ExecutionRecord | None:
        pending = self._requests_in_flight.get((namespace, request_id))
        execution_id = (
            await asyncio.shield(pending)
            if pending
            else self._store.find_execution_id(namespace, request_id)
        )
        return None if execution_id is None else self.get(execution_id)

    def _new_runner(self, record: ExecutionRecord, definition: Any) -> ExecutionRunner:
        runner = ExecutionRunner(record, definition, self._deps, self._runner_finished, self)
        self._runners[record.execution_id] = runner
        return runner

    def _runner_finished(self, runner: ExecutionRunner) -> None:
        self._runners.pop(runner.execution_id, None)
        if runner.record.status.terminal:  # (not a runner stopped by a shutdown)
            self._deps.hub.finished(runner.execution_id)
        if self._deps.drain.active:
            return
        for admitted in self._admission.forget(runner.record.namespace, runner.execution_id):
            if admitted in self._runners:
                self._launch(self._runners[admitted])

    def admit_waiting(self) -> int:
        """Starts waiting executions whose namespace has room again (capacity freed up without
        an execution of theirs ending); returns how many started."""
        started = 0
        if self._deps.drain.active:
            return 0
        for namespace in self._admission.waiting_namespaces():
            for admitted in self._admission.admit_waiting(namespace):
                if admitted in self._runners:
                    self._launch(self._runners[admitted])
                    started += 1
        return started

    def waiting_namespaces(self) -> list[str]:
        """Namespaces with executions waiting at admission."""
        return self._admission.waiting_namespaces()

    def namespaces(self) -> set[str]:
        """Namespaces with live executions."""
        return {r.record.namespace for r in self._runners.values()}

    def live_tasks(self, namespace: str) -> list[PlanTask]:
        """The unfinished, not running tasks of the namespace's running executions."""
        return [
            task
            for runner in self._runners.values()
            if runner.record.namespace == namespace
            and runner.record.status is ExecutionStatus.RUNNING
            for task in runner.plan_tasks()
        ]

    def execution_counts(self, namespace: str) -> tuple[int, int]:
        """(running, waiting at admission) executions of the namespace."""
        return (
            self._admission.running_count(namespace),
            self._admission.waiting_count(namespace),
        )

    def _owned(self, execution_id: str, namespace: str) -> None:
        """NotFound unless the execution exists in `namespace` (`*`: in any). An execution of
        another namespace is answered as one that does not exist: its id says nothing.

        Every call naming an execution by id takes a `namespace`: the caller's namespace, or
        `*` (the default) for the engine's own callers (schedules, child executions)."""
        if not execution_id:
            raise invalid("execution_id", "is required")
        runner = self._runners.get(execution_id)
        found = (
            runner.record.namespace
            if runner is not None
            else self._store.execution_namespace(execution_id)
        )
        if found is None or namespace not in (ALL_NAMESPACES, found):
            raise reads.no_such_execution(execution_id)

    def get(
        self,
        execution_id: str,
        inline_limit: int | None = None,
        *,
        namespace: str = ALL_NAMESPACES,
    ) -> ExecutionRecord:
        """The stored execution as clients see it (for_each items collapsed into their task:
        task_view), each task queued for dispatch with why it still waits; values over
        `inline_limit` bytes of JSON left out with their size."""
        self._owned(execution_id, namespace)
        record = self._store.load_execution(execution_id, inline_limit)
        if record is None:
            raise reads.no_such_execution(execution_id)
        reasons = self._deps.dispatcher.waiting_reasons(execution_id)
        runner = self._runners.get(execution_id)
        for task_id, agent in (runner.leasing if runner is not None else {}).items():
            # Granted, waiting for a replica: only worth saying when none is usable.
            reasons[task_id] = self._deps.backend.waiting_reason(agent)
        for task_id, reason in reasons.items():
            task = record.tasks.get(task_id)
            if task is not None and reason and not task.status.terminal:  # (cancelled: leaves)
                task.waiting_reason = reason
        runner = self._runners.get(execution_id)
        if runner is not None and inline_limit != 0:
            _overlay_heartbeats(record, runner.heard_heartbeats())
        return task_view(record, lambda rid: self._store.find_execution_id(record.namespace, rid))

    def value_text(
        self,
        execution_id: str,
        part: ValuePart,
        task_id: str = "",
        *,
        namespace: str = ALL_NAMESPACES,
    ) -> str:
        """One value of an execution as its stored JSON text (see reads.value_text)."""
        self._owned(execution_id, namespace)
        return reads.value_text(self._store, execution_id, part, task_id)

    def list(
        self,
        workflow: str,
        statuses: Sequence[ExecutionStatus],
        page_size: int,
        page_token: str,
        inline_limit: int | None = None,
        *,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> tuple[list[ExecutionRecord], str]:
        """The executions of `namespace` (`*`: of every one), newest first."""
        return reads.execution_page(
            self._store, namespace, workflow, statuses, page_size, page_token, inline_limit
        )

    async def cancel(
        self, execution_id: str, reason: str, *, namespace: str = ALL_NAMESPACES
    ) -> ExecutionRecord:
        self._owned(execution_id, namespace)
        if self._deps.writer.unwritable_since is not None:
            # A cancel must be durable before it is acknowledged; say so rather than hang.
            raise Unavailable("the store refuses writes; retry the cancel once it takes them")
        runner, status = self._runner_of(execution_id)
        if runner is None:
            raise FailedPrecondition(
                f"execution is already {status.value}",
                [FieldViolation("execution_id", f"execution is {status.value}")],
            )
        await runner.cancel(reason)
        return self.get(execution_id)

    async def retry(
        self, execution_id: str, request_id: str = "", *, namespace: str = ALL_NAMESPACES
    ) -> ExecutionRecord:
        """Runs a FAILED, CANCELLED or TIMED_OUT execution again (see retries.py)."""
        self._owned(execution_id, namespace)
        return await self._retries.retry(execution_id, request_id)

    async def signal(
        self,
        execution_id: str,
        name: str,
        payload: Any,
        request_id: str = "",
        *,
        namespace: str = ALL_NAMESPACES,
    ) -> ExecutionRecord:
        """Stores a signal for the execution's tasks that wait for `name` (the first to wait
        takes the oldest); once per `request_id`. Durable before it returns."""
        self._owned(execution_id, namespace)
        if not SIGNAL_NAME_RE.match(name):
            raise invalid(
                "name", "must be 1-63 letters, digits, '_' or '-', starting with a letter"
            )
        if len(request_id) > MAX_REQUEST_ID:
            raise invalid("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        if (
            problem := value_error(
                payload, "payload", "InvalidPayload", self._deps.limits.value_depth
            )
        ) is not None:
            raise invalid("payload", problem.message)
        runner = self._live(execution_id, "signal")
        await runner.controls.signal(name, payload, request_id)
        return self.get(execution_id)

    async def pause(
        self, execution_id: str, reason: str = "", *, namespace: str = ALL_NAMESPACES
    ) -> ExecutionRecord:
        """No new attempt starts until resumed; attempts running finish."""
        self._owned(execution_id, namespace)
        await self._live(execution_id, "pause").controls.set_paused(True, reason or "paused")
        return self.get(execution_id)

    async def resume(
        self, execution_id: str, reason: str = "", *, namespace: str = ALL_NAMESPACES
    ) -> ExecutionRecord:
        self._owned(execution_id, namespace)
        await self._live(execution_id, "resume").controls.set_paused(False, reason or "resumed")
        return self.get(execution_id)

    async def modify(
        self,
        execution_id: str,
        operations: Sequence[Operation],
        reason: str = "",
        caller: str = "",
        request_id: str = "",
        *,
        namespace: str = ALL_NAMESPACES,
    ) -> ExecutionRecord:
        """Applies a batch of operations atomically after checking all of it (see
        modifications.py); once per `request_id`."""
        self._owned(execution_id, namespace)
        if len(reason) > MAX_REASON:
            raise invalid("reason", f"must be at most {MAX_REASON} characters")
        if len(request_id) > MAX_REQUEST_ID:
            raise invalid("request_id", f"must be at most {MAX_REQUEST_ID} characters")
        runner = self._live(execution_id, "modify")
        if request_id and any(
            e.details.get("request_id") == request_id
            for e in self._store.read_events(
                execution_id, limit=MAX_MODIFICATIONS, of_type=EventType.EXECUTION_MODIFIED
            )
        ):
            return self.get(execution_id)
        details = {
            "operations": [to_details(op) for op in operations],
            "reason": reason,
            "caller": caller,
            "request_id": request_id,
        }
        known = agents_of(runner.record.namespace, self._agent_names())
        await runner.modify(operations, known, details)
        return self.get(execution_id)

    def _modified(self, record: ExecutionRecord, revision: Any) -> Any:
        """The definition a resumed execution runs: its revision's with its modifications."""
        definition = self._catalog.definition(revision)
        events = self._store.read_events(
            record.execution_id, limit=MAX_MODIFICATIONS, of_type=EventType.EXECUTION_MODIFIED
        )
        if not events:
            return definition
        return replayed(
            definition,
            [[from_details(op) for op in e.details.get("operations", [])] for e in events],
        )

    def _live(self, execution_id: str, what: str) -> ExecutionRunner:
        """The runner of a running execution (NotFound, or FailedPrecondition once ended)."""
        if self._deps.writer.unwritable_since is not None:
            raise Unavailable(f"the store refuses writes; retry the {what} once it takes them")
        runner, status = self._runner_of(execution_id)
        if runner is None:
            raise FailedPrecondition(
                f"cannot {what} an execution that is {status.value}",
                [FieldViolation("execution_id", f"execution is {status.value}")],
            )
        return runner

    def _runner_of(self, execution_id: str) -> tuple[ExecutionRunner | None, ExecutionStatus]:
        """The runner of a running execution (None once it ended or before it is admitted),
        and its status, without building the execution's view (NotFound for none)."""
        runner = self._runners.get(execution_id)
        if runner is not None:
            status = runner.record.status
            return (None if status.terminal else runner), status
        progress = self._store.execution_progress(execution_id)
        if progress is None:
            raise reads.no_such_execution(execution_id)
        return None, progress[0]

    # -- child executions (ChildExecutions) ---------------------------------------------------

    async def start_child(
        self, parent: ExecutionRecord, request_id: str, workflow: str, revision: int, inputs: Any
    ) -> ExecutionRecord:
        record, _ = await self.start(
            workflow, revision, inputs, request_id, parent.namespace, parent.execution_id
        )
        return record

    async def ended(self, execution_id: str) -> ExecutionRecord:
        """The execution once it has ended."""
        while True:
            progress = self._store.execution_progress(execution_id)
            if progress is None:
                raise reads.no_such_execution(execution_id)
            status, last = progress
            if status.terminal:
                return self.get(execution_id)
            await self._deps.hub.wait_beyond(execution_id, last, reads.WATCH_POLL_S)

    def depth(self, execution: ExecutionRecord) -> int:
        """How many ancestors the execution has."""
        depth, parent = 0, execution.parent_execution_id
        while parent and depth <= MAX_DEPTH:
            depth += 1
            parent = self._store.parent_of(parent)
        return depth

    async def watch(
        self, execution_id: str, from_sequence: int, *, namespace: str = ALL_NAMESPACES
    ) -> AsyncIterator[Event]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event."""
        if from_sequence < 0:
            raise invalid("from_sequence", "must not be negative")
        self._owned(execution_id, namespace)  # (not get: no tasks needed)
        async for event in reads.events(self._store, self._deps.hub, execution_id, from_sequence):
            yield event

    # -- retention (RetentionLoop's ExecutionMemory) ------------------------------------------

    def hold_for_deletion(self, execution_ids: Sequence[str]) -> bool:
        """Holds finished executions nothing works on (no runner, no retry being recorded) so
        that none is retried until `let_go`; all or none."""
        if any(execution_id in self._runners for execution_id in execution_ids):
            return False
        return self._retries.hold(execution_ids)

    def let_go(self, execution_ids: Sequence[str]) -> None:
        """Ends the hold and forgets what memory keeps of these (deleted) executions."""
        self._retries.release(execution_ids)
        for execution_id in execution_ids:
            self._deps.hub.forget(execution_id)
            self._deps.dispatcher.forget_execution(execution_id)

    def stop_admitting(self) -> None:
        """The control plane is stopping: no waiting execution starts from now on."""
        self._deps.drain.active = True

    async def stop(self, grace_s: float = 0.0) -> None:
        """Graceful shutdown: starts nothing new, gives attempts in flight `grace_s` to finish
        and records their results; everything else stays as stored and resumes on restart."""
        self.stop_admitting()
        for launch in list(self._launches):
            launch.cancel()
        await asyncio.gather(*(r.shut_down(grace_s) for r in list(self._runners.values())))
        await self._deps.writer.drain()


def _overlay_heartbeats(
    record: ExecutionRecord, heard: dict[str, tuple[float, dict[str, Any] | None]]
) -> None:
    """The latest heartbeats of running attempts, which the store holds only every few seconds."""
    for task_id, (time, details) in heard.items():
        task = record.tasks.get(task_id)
        if task is None or task.status is not TaskStatus.RUNNING:
            continue
        if task.last_heartbeat_time is None or time > task.last_heartbeat_time:
            task.last_heartbeat_time = time
            if details is not None:
                task.last_heartbeat = details
