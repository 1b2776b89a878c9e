"""The asyncio client's workflow, execution and schedule methods, and the handle of a started
execution, as in `sync_executions` and `sync_schedules`; AsyncOrchestratorClient provides
`_run`, `_items`, `_events`, the stubs and the client's namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeVar

import grpc

from controlplane.api.client import calls, schedule_calls
from controlplane.api.client.calls import Call, Paged
from controlplane.api.client.errors import ClientError
from controlplane.api.client.stubs import Stubs
from controlplane.api.codec.workflows import event_from_proto
from models.executions import Event, ExecutionRecord, ExecutionStatus, ValuePart
from models.modifications import Operation
from models.schedules import Schedule, ScheduleSpec
from models.workflows import CreateWorkflowResult, ValidationResult, View, WorkflowView

T = TypeVar("T")
E = TypeVar("E")


class AsyncExecutionHandle:
    """A started execution, as `ExecutionHandle`, for asyncio."""

    def __init__(
        self, client: AsyncExecutionMethods, execution: ExecutionRecord, created: bool
    ) -> None:
        self._client = client
        self.execution = execution
        self.created = created

    @property
    def execution_id(self) -> str:
        return self.execution.execution_id

    @property
    def namespace(self) -> str:
        return self.execution.namespace

    async def get(self) -> ExecutionRecord:
        return await self._client.get_execution(self.execution_id, namespace=self.namespace)

    async def complete(self) -> ExecutionRecord:
        """The execution with every value a response left out for its size read in."""
        return await self._client.with_omitted_values(await self.get())

    def watch(self, from_sequence: int = 0) -> AsyncIterator[Event]:
        return self._client.watch_execution(
            self.execution_id, from_sequence, namespace=self.namespace
        )

    async def cancel(self, reason: str = "") -> ExecutionRecord:
        return await self._client.cancel_execution(
            self.execution_id, reason, namespace=self.namespace
        )

    async def signal(self, name: str, payload: Any = None, request_id: str = "") -> ExecutionRecord:
        return await self._client.signal_execution(
            self.execution_id, name, payload, request_id, namespace=self.namespace
        )

    async def pause(self, reason: str = "") -> ExecutionRecord:
        return await self._client.pause_execution(
            self.execution_id, reason, namespace=self.namespace
        )

    async def modify(
        self, operations: Sequence[Operation], reason: str = "", request_id: str = ""
    ) -> ExecutionRecord:
        return await self._client.modify_execution(
            self.execution_id, operations, reason, request_id, namespace=self.namespace
        )

    async def resume(self, reason: str = "") -> ExecutionRecord:
        return await self._client.resume_execution(
            self.execution_id, reason, namespace=self.namespace
        )

    async def retry(self, request_id: str = "") -> ExecutionRecord:
        return await self._client.retry_execution(
            self.execution_id, request_id, namespace=self.namespace
        )

    async def result(self, timeout: float | None = None) -> ExecutionRecord:
        """The execution once it has ended, its values complete; TimeoutError when it has not
        ended within `timeout` seconds (None: wait as long as it takes)."""
        try:
            return await asyncio.wait_for(self._ended(), timeout)
        except TimeoutError:
            raise TimeoutError(f"execution {self.execution_id} still running") from None

    async def _ended(self) -> ExecutionRecord:
        next_sequence = 0
        while True:
            stream = self._client.watch_execution(
                self.execution_id, next_sequence, namespace=self.namespace
            )
            try:
                async for event in stream:
                    next_sequence = event.sequence + 1
                    if event.type.terminal:
                        record = await self.get()
                        if record.status.terminal:  # (not retried since)
                            return await self._client.with_omitted_values(record)
            finally:
                await stream.aclose()
            # The stream ended early (the server stopping, say): look, then watch again.
            record = await self.get()
            if record.status.terminal:
                return await self._client.with_omitted_values(record)


class AsyncExecutionMethods:
    address: str
    timeout_s: float
    page_size: int
    _namespace: str
    _stubs: Stubs

    async def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _items(self, paged: Paged[T], limit: int | None = None) -> AsyncIterator[T]:
        raise NotImplementedError

    def _events(self, stream: Any, decode: Callable[[Any], E | None]) -> AsyncGenerator[E, None]:
        raise NotImplementedError

    def _in(self, namespace: str | None) -> str:
        """The namespace of a call: the one given, else the client's."""
        return namespace or self._namespace

    # -- workflows ----------------------------------------------------------------------------

    async def create_workflow(
        self, text: str, *, namespace: str | None = None
    ) -> CreateWorkflowResult:
        return await self._run(calls.create_workflow(text, self._in(namespace)))

    async def validate_workflow(
        self, text: str, *, namespace: str | None = None
    ) -> ValidationResult:
        return await self._run(calls.validate_workflow(text, self._in(namespace)))

    async def get_workflow(
        self, name: str, revision: int = 0, *, namespace: str | None = None
    ) -> WorkflowView:
        return await self._run(calls.get_workflow(name, revision, self._in(namespace)))

    def iter_workflows(
        self, view: View = View.BASIC, *, namespace: str | None = None
    ) -> AsyncIterator[WorkflowView]:
        return self._items(calls.list_workflows(self.page_size, view, self._in(namespace)))

    async def list_workflows(
        self, view: View = View.BASIC, *, namespace: str | None = None
    ) -> list[WorkflowView]:
        return [w async for w in self.iter_workflows(view, namespace=namespace)]

    # -- executions ---------------------------------------------------------------------------

    async def start_execution(
        self,
        workflow: str,
        inputs: dict[str, Any] | None = None,
        revision: int = 0,
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> AsyncExecutionHandle:
        call = calls.start_execution(workflow, inputs, revision, request_id, self._in(namespace))
        execution, created = await self._run(call)
        return AsyncExecutionHandle(self, execution, created)

    async def get_execution(
        self, execution_id: str, view: View = View.FULL, *, namespace: str | None = None
    ) -> ExecutionRecord:
        return await self._run(calls.get_execution(execution_id, view, self._in(namespace)))

    def iter_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
        *,
        namespace: str | None = None,
    ) -> AsyncIterator[ExecutionRecord]:
        paged = calls.list_executions(workflow, statuses, self.page_size, view, self._in(namespace))
        return self._items(paged)

    async def list_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
        *,
        namespace: str | None = None,
    ) -> list[ExecutionRecord]:
        return [
            e async for e in self.iter_executions(workflow, statuses, view, namespace=namespace)
        ]

    async def read_execution_value(
        self,
        execution_id: str,
        part: ValuePart = ValuePart.OUTPUTS,
        task_id: str = "",
        *,
        namespace: str | None = None,
    ) -> Any:
        """One value of an execution whole, whatever its size."""
        request = calls.read_value_request(execution_id, part, task_id, 0, self._in(namespace))
        stream = self._stubs.workflows.ReadExecutionValue(request, timeout=self.timeout_s)
        data = bytearray()
        try:
            async for response in stream:
                data += response.data
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        finally:
            stream.cancel()
        return calls.decode_value(bytes(data))

    async def with_omitted_values(self, record: ExecutionRecord) -> ExecutionRecord:
        """`record` with every value its response left out read in."""
        keys = calls.omitted_parts(record)
        values = {
            k: await self.read_execution_value(record.execution_id, *k, namespace=record.namespace)
            for k in keys
        }
        return calls.with_values(record, values) if values else record

    async def cancel_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        return await self._run(calls.cancel_execution(execution_id, reason, self._in(namespace)))

    async def signal_execution(
        self,
        execution_id: str,
        name: str,
        payload: Any = None,
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> ExecutionRecord:
        """As `OrchestratorClient.signal_execution`."""
        call = calls.signal_execution(execution_id, name, payload, request_id, self._in(namespace))
        return await self._run(call)

    async def pause_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        return await self._run(calls.pause_execution(execution_id, reason, self._in(namespace)))

    async def resume_execution(
        self, execution_id: str, reason: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        return await self._run(calls.resume_execution(execution_id, reason, self._in(namespace)))

    async def retry_execution(
        self, execution_id: str, request_id: str = "", *, namespace: str | None = None
    ) -> ExecutionRecord:
        """See `OrchestratorClient.retry_execution`."""
        call = calls.retry_execution(execution_id, request_id, self._in(namespace))
        return await self._run(call)

    async def modify_execution(
        self,
        execution_id: str,
        operations: Sequence[Operation],
        reason: str = "",
        request_id: str = "",
        *,
        namespace: str | None = None,
    ) -> ExecutionRecord:
        """As `OrchestratorClient.modify_execution`."""
        call = calls.modify_execution(
            execution_id, operations, reason, request_id, self._in(namespace)
        )
        return await self._run(call)

    async def watch_execution(
        self,
        execution_id: str,
        from_sequence: int = 0,
        timeout_s: float | None = None,
        *,
        namespace: str | None = None,
    ) -> AsyncGenerator[Event, None]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event."""
        stream = self._stubs.workflows.WatchExecution(
            calls.watch_request(execution_id, from_sequence, self._in(namespace)),
            timeout=timeout_s,
        )
        async for event in self._events(stream, event_from_proto):
            yield event

    # -- schedules ----------------------------------------------------------------------------

    async def create_schedule(
        self, spec: ScheduleSpec, *, namespace: str | None = None
    ) -> tuple[Schedule, bool]:
        """As `OrchestratorClient.create_schedule`."""
        in_namespace = namespace or spec.namespace or self._namespace
        return await self._run(schedule_calls.create_schedule(spec, in_namespace))

    async def get_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        return await self._run(schedule_calls.get_schedule(name, self._in(namespace)))

    def iter_schedules(self, *, namespace: str | None = None) -> AsyncIterator[Schedule]:
        return self._items(schedule_calls.list_schedules(self.page_size, self._in(namespace)))

    async def list_schedules(self, *, namespace: str | None = None) -> list[Schedule]:
        return [s async for s in self.iter_schedules(namespace=namespace)]

    async def pause_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        return await self._run(schedule_calls.pause_schedule(name, self._in(namespace)))

    async def resume_schedule(self, name: str, *, namespace: str | None = None) -> Schedule:
        return await self._run(schedule_calls.resume_schedule(name, self._in(namespace)))

    async def delete_schedule(self, name: str, *, namespace: str | None = None) -> None:
        await self._run(schedule_calls.delete_schedule(name, self._in(namespace)))
