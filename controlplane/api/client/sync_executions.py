"""The synchronous client's workflow and execution methods (WorkflowService), and the handle of
a started execution; kept apart from the rest of OrchestratorClient, which provides `_run`,
`_items`, `_events`, the stubs and the client's namespace.

Every method works in the client's namespace unless given another one (`namespace=`; a list
takes "*" for every namespace); a handle works in its execution's namespace."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import grpc

from controlplane.api.client import calls
from controlplane.api.client.calls import Call, Paged
from controlplane.api.client.errors import ClientError
from controlplane.api.client.stubs import Stubs
from controlplane.api.codec.workflows import event_from_proto
from models.executions import Event, ExecutionRecord, ExecutionStatus, ValuePart
from models.modifications import Operation
from models.workflows import CreateWorkflowResult, ValidationResult, View, WorkflowView

T = TypeVar("T")
E = TypeVar("E")


class ExecutionHandle:
    """A started execution: `result()` waits for its end, `watch()` follows its events.

    `execution` is the execution as StartExecution answered it; `created` is False when the
    request id found an execution started earlier."""

    def __init__(self, client: ExecutionMethods, execution: ExecutionRecord, created: bool) -> None:
        self._client = client
        self.execution = execution
        self.created = created

    @property
    def execution_id(self) -> str:
        return self.execution.execution_id

    @property
    def namespace(self) -> str:
        return self.execution.namespace

    def get(self) -> ExecutionRecord:
        return self._client.get_execution(self.execution_id, namespace=self.namespace)

    def complete(self) -> ExecutionRecord:
        """The execution with every value a response left out for its size read in."""
        return self._client.with_omitted_values(self.get())

    def watch(self, from_sequence: int = 0) -> Iterator[Event]:
        """Stored events from `from_sequence`, then live ones, to the terminal event."""
        return self._client.watch_execution(
            self.execution_id, from_sequence, namespace=self.namespace
        )

    def cancel(self, reason: str = "") -> ExecutionRecord:
        return self._client.cancel_execution(self.execution_id, reason, namespace=self.namespace)

    def signal(self, name: str, payload: Any = None, request_id: str = "") -> ExecutionRecord:
        return self._client.signal_execution(
            self.execution_id, name, payload, request_id, namespace=self.namespace
        )

    def pause(self, reason: str = "") -> ExecutionRecord:
        return self._client.pause_execution(self.execution_id, reason, namespace=self.namespace)

    def modify(
        self, operations: Sequence[Operation], reason: str = "", request_id: str = ""
    ) -> ExecutionRecord:
        return self._client.modify_execution(
            self.execution_id, operations, reason, request_id, namespace=self.namespace
        )

    def resume(self, reason: str = "") -> ExecutionRecord:
        return self._client.resume_execution(self.execution_id, reason, namespace=self.namespace)

    def retry(self, request_id: str = "") -> ExecutionRecord:
        return self._client.retry_execution(self.execution_id, request_id, namespace=self.namespace)

    def result(self, timeout: float | None = None) -> ExecutionRecord:
        """The execution once it has ended, its values complete; TimeoutError when it has not
        ended within `timeout` seconds (None: wait as long as it takes)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        next_sequence = 0
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"execution {self.execution_id} still running")
            stream = self._client.watch_execution(
                self.execution_id, next_sequence, timeout_s=remaining, namespace=self.namespace
            )
            try:
                with contextlib.closing(stream):
                    for event in stream:
                        next_sequence = event.sequence + 1
                        if event.type.terminal:
                            record = self.get()
                            if record.status.terminal:  # (not retried since)
                                return self._client.with_omitted_values(record)
            except ClientError as exc:
                if exc.code_name != "DEADLINE_EXCEEDED":
                    raise
                raise TimeoutError(f"execution {self.execution_id} still running") from None
            # The stream ended early (the server stopping, say): look, then watch again.
            record = self.get()
            if record.status.terminal:
                return self._client.with_omitted_values(record)


class ExecutionMethods:
    address: str
    timeout_s: float
    page_size: int
    _namespace: str
    _stubs: Stubs

    def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        raise NotImplementedError

    def _events(self, stream: Any, decode: Callable[[Any], E | None]) -> Generator[E, None, None]:
        raise NotImplementedError

    def _in(self, namespace: str | None) -> str:
        """The namespace of a call: the one given, else the client's."""
        return namespace or self._namespace

    # -- workflows ----------------------------------------------------------------------------

    def create_workflow(self, text: str, *, namespace: str | None = None) -> CreateWorkflowResult:
        return self._run(calls.create_workflow(text, self._in(namespace)))

    def validate_workflow(self, text: str, *, namespace: str | None = None) -> ValidationResult:
        return self._run(calls.validate_workflow(text, self._in(namespace)))

    def get_workflow(
        self, name: str, revision: int = 0, *, namespace: str | None = None
    ) -> WorkflowView:
        return self._run(calls.get_workflow(name, revision, self._in(namespace)))

    def iter_workflows(
        self, view: View = View.BASIC, *, namespace: str | None = None
    ) -> Iterator[WorkflowView]:
        """Every workflow's latest revision; definitions only in the FULL view."""
        return self._items(calls.list_workflows(self.page_size, view, self._in(namespace)))

    def list_workflows(
        self, view: View = View.BASIC, *, namespace: str | None = None
    ) -> list[WorkflowView]:
        return list(self.iter_workflows(view, namespace=namespace))

    # -- executions ---------------------------------------------------------------------------

    def start_execution(
        self,
        workflow: str,
        inputs: dict[str, Any] | None = None,
        revision: int = 0,
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> ExecutionHandle:
        """Starts an execution of `workflow` of the namespace (with `request_id`: at most once
        in that namespace, and retried when the server is unavailable); the handle waits for
        it or follows it."""
        call = calls.start_execution(workflow, inputs, revision, request_id, self._in(namespace))
        execution, created = self._run(call)
        return ExecutionHandle(self, execution, created)

    def get_execution(
        self, execution_id: str, view: View = View.FULL, *, namespace: str | None = None
    ) -> ExecutionRecord:
        """The execution; a value over the response budget is left out, its size in
        `*_omitted` (read it with `read_execution_value` or `with_omitted_values`)."""
        return self._run(calls.get_execution(execution_id, view, self._in(namespace)))

    def iter_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
        *,
        namespace: str | None = None,
    ) -> Iterator[ExecutionRecord]:
        """Every matching execution, newest first; BASIC: no inputs or outputs, FULL: with
        them (tasks never: use get_execution)."""
        paged = calls.list_executions(workflow, statuses, self.page_size, view, self._in(namespace))
        return self._items(paged)

    def list_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
        *,
        namespace: str | None = None,
    ) -> list[ExecutionRecord]:
        return list(self.iter_executions(workflow, statuses, view, namespace=namespace))

    def read_execution_value(
        self,
        execution_id: str,
        part: ValuePart = ValuePart.OUTPUTS,
        task_id: str = "",
        *,
        namespace: str | None = None,
    ) -> Any:
        """One value of an execution whole, whatever its size; an interrupted stream resumes
        where it stopped."""
        data = bytearray()
        size = None
        for attempt in range(3):
            request = calls.read_value_request(
                execution_id, part, task_id, len(data), self._in(namespace)
            )
            stream = self._stubs.workflows.ReadExecutionValue(request, timeout=self.timeout_s)
            try:
                for response in stream:
                    size = response.size_bytes
                    data += response.data
                if size is not None and len(data) >= size:
                    break
            except grpc.RpcError as exc:
                error = ClientError.from_rpc_error(exc, self.address)
                if attempt == 2 or error.code_name != "UNAVAILABLE":
                    raise error from None
            finally:
                stream.cancel()
        return calls.decode_value(bytes(data))

    def with_omitted_values(self, record: ExecutionRecord) -> ExecutionRecord:
        """`record` with every value its response left out read in."""
        keys = calls.omitted_parts(record)
        values = {
            k: self.read_execution_value(record.execution_id, *k, namespace=record.namespace)
            for k in keys
        }
        return calls.with_values(record, values) if values else record

    def cancel_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        return self._run(calls.cancel_execution(execution_id, reason, self._in(namespace)))

    def signal_execution(
        self,
        execution_id: str,
        name: str,
        payload: Any = None,
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> ExecutionRecord:
        """Stores signal `name` with `payload` (any JSON value) for the execution's tasks that
        wait for it; once per `request_id` (one is made up when none is given, so the call is
        retried while the server is unavailable without storing the signal twice)."""
        call = calls.signal_execution(execution_id, name, payload, request_id, self._in(namespace))
        return self._run(call)

    def pause_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        """No new attempt of the execution starts until it is resumed; running ones finish."""
        return self._run(calls.pause_execution(execution_id, reason, self._in(namespace)))

    def resume_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        return self._run(calls.resume_execution(execution_id, reason, self._in(namespace)))

    def retry_execution(
        self, execution_id: str, request_id: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        """Runs a FAILED, CANCELLED or TIMED_OUT execution again from its failed, cancelled
        and skipped tasks, keeping succeeded outputs; once per `request_id` (one is made up
        when none is given, so the call is retried while the server is unavailable)."""
        return self._run(calls.retry_execution(execution_id, request_id, self._in(namespace)))

    def modify_execution(
        self,
        execution_id: str,
        operations: Sequence[Operation],
        reason: str = "",
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> ExecutionRecord:
        """Applies `operations` (skip, add, remove or update tasks that have not started, set
        input values, force conditions) to a running execution as one change, after the
        server has checked all of them; once per `request_id` (one is made up when none is
        given, so the call is retried while the server is unavailable without applying the
        batch twice)."""
        call = calls.modify_execution(
            execution_id, operations, reason, request_id, self._in(namespace)
        )
        return self._run(call)

    def watch_execution(
        self,
        execution_id: str,
        from_sequence: int = 0,
        timeout_s: float | None = None,
        *,
        namespace: str | None = None,
    ) -> Generator[Event, None, None]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event.

        No deadline applies unless `timeout_s` is given. Closing the generator cancels the call.
        """
        stream = self._stubs.workflows.WatchExecution(
            calls.watch_request(execution_id, from_sequence, self._in(namespace)),
            timeout=timeout_s,
        )
        yield from self._events(stream, event_from_proto)
