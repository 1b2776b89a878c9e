"""`AsyncOrchestratorClient`: the asyncio client on a `grpc.aio` channel, with the methods,
deadlines and retries of `OrchestratorClient`, each a coroutine (the iterators and watches are
async iterators)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from types import TracebackType
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from controlplane.api.client import calls, capacity_calls, schedule_calls
from controlplane.api.client.async_admin import AsyncAdminMethods
from controlplane.api.client.calls import LOAD_PAGE_SIZE, PAGE_SIZE, Call, Paged
from controlplane.api.client.errors import ClientError
from controlplane.api.client.package_upload import PackageSource, prepare_upload
from controlplane.api.client.retries import DEFAULT_RETRY, RetryPolicy, channel_options
from controlplane.api.client.stubs import Stubs
from controlplane.api.codec.agent_events import agent_event_from_proto
from controlplane.api.codec.agents import stored_package_from_proto
from controlplane.api.codec.workflows import event_from_proto
from models.agent_events import AgentEvent
from models.agents import AgentSpec, AgentVersion, AgentView, RolloutStrategy
from models.capacity import ClusterUsage, PoolInfo, PoolSpec, Reservation
from models.executions import Event, ExecutionRecord, ExecutionStatus, ValuePart
from models.forecasting import FittedForecast
from models.load import RAW, LoadSample
from models.modifications import Operation
from models.packages import DEFAULT_MAX_PACKAGE_BYTES, StoredPackage
from models.queueing import NamespacePolicy
from models.resources import PlacementStrategy, ResourceAmounts
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy, ScalingStatus
from models.schedules import Schedule, ScheduleSpec
from models.scheduling import PlanResult, SchedulerInfo
from models.workflows import CreateWorkflowResult, ValidationResult, View, WorkflowView

T = TypeVar("T")
E = TypeVar("E")


class AsyncExecutionHandle:
    """A started execution, as `ExecutionHandle`, for asyncio."""

    def __init__(
        self, client: AsyncOrchestratorClient, execution: ExecutionRecord, created: bool
    ) -> None:
        self._client = client
        self.execution = execution
        self.created = created

    @property
    def execution_id(self) -> str:
        return self.execution.execution_id

    async def get(self) -> ExecutionRecord:
        return await self._client.get_execution(self.execution_id)

    async def complete(self) -> ExecutionRecord:
        """The execution with every value a response left out for its size read in."""
        return await self._client.with_omitted_values(await self.get())

    def watch(self, from_sequence: int = 0) -> AsyncIterator[Event]:
        return self._client.watch_execution(self.execution_id, from_sequence)

    async def cancel(self, reason: str = "") -> ExecutionRecord:
        return await self._client.cancel_execution(self.execution_id, reason)

    async def signal(self, name: str, payload: Any = None, request_id: str = "") -> ExecutionRecord:
        return await self._client.signal_execution(self.execution_id, name, payload, request_id)

    async def pause(self, reason: str = "") -> ExecutionRecord:
        return await self._client.pause_execution(self.execution_id, reason)

    async def modify(
        self, operations: Sequence[Operation], reason: str = "", request_id: str = ""
    ) -> ExecutionRecord:
        return await self._client.modify_execution(
            self.execution_id, operations, reason, request_id
        )

    async def resume(self, reason: str = "") -> ExecutionRecord:
        return await self._client.resume_execution(self.execution_id, reason)

    async def retry(self, request_id: str = "") -> ExecutionRecord:
        return await self._client.retry_execution(self.execution_id, request_id)

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
            stream = self._client.watch_execution(self.execution_id, next_sequence)
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


class AsyncOrchestratorClient(AsyncAdminMethods):
    """Use as an async context manager or await `close()`; see `OrchestratorClient` for the
    options."""

    def __init__(
        self,
        address: str,
        timeout_s: float = 30,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.retry = retry
        self.page_size = page_size
        self._channel = grpc.aio.insecure_channel(address, options=channel_options(retry))
        self._stubs = Stubs.on(self._channel)

    async def __aenter__(self) -> AsyncOrchestratorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the channel; RPCs in flight (e.g. a watch) are cancelled."""
        await self._channel.close()

    async def _run(self, call: Call[T]) -> T:
        method = self._stubs.method(call.rpc)

        async def send() -> T:
            return call.decode(await method(call.request, timeout=self.timeout_s + call.extra_s))

        return await self._retried(send, repeatable=bool(call.request_id))

    async def _retried(self, send: Callable[[], Awaitable[T]], repeatable: bool) -> T:
        """As `OrchestratorClient._retried`."""
        delays = self.retry.delays() if self.retry is not None and repeatable else iter(())
        while True:
            try:
                return await send()
            except grpc.RpcError as exc:
                error = ClientError.from_rpc_error(exc, self.address)
            delay = next(delays, None) if error.code_name == "UNAVAILABLE" else None
            if delay is None:
                raise error
            await asyncio.sleep(delay)

    async def _items(self, paged: Paged[T], limit: int | None = None) -> AsyncIterator[T]:
        token = ""
        given = 0
        while True:
            page = await self._run(paged(token))
            for item in page.items:
                if limit is not None and given >= limit:
                    return
                given += 1
                yield item
            token = page.next_page_token
            if not token or (limit is not None and given >= limit):
                return

    # -- health -------------------------------------------------------------------------------

    async def wait_ready(self, deadline_s: float = 30.0, service: str = "") -> None:
        """Polls grpc.health.v1 Check until SERVING; raises ClientError after `deadline_s`."""
        deadline = time.monotonic() + deadline_s
        last = "not serving"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(
                    "DEADLINE_EXCEEDED",
                    f"orchestrator at {self.address} not ready after {deadline_s:g}s ({last})",
                )
            try:
                response = await self._stubs.health.Check(
                    health_pb2.HealthCheckRequest(service=service),
                    timeout=min(remaining, 5.0),
                    wait_for_ready=True,
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as exc:
                last = str(ClientError.from_rpc_error(exc))
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    # -- agents -------------------------------------------------------------------------------

    async def deploy_agent(
        self, spec: AgentSpec, strategy: RolloutStrategy | None = None
    ) -> AgentView:
        """Deploys `spec`, rolled out by `strategy` (None: a rolling update with the defaults).
        `get_agent(name).rollout` shows where the rollout stands."""
        return await self._run(calls.deploy_agent(spec, strategy))

    async def get_agent(self, name: str) -> AgentView:
        return await self._run(calls.get_agent(name))

    def iter_agents(self) -> AsyncIterator[AgentView]:
        return self._items(calls.list_agents(self.page_size))

    async def list_agents(self) -> list[AgentView]:
        return [a async for a in self.iter_agents()]

    async def scale_agent(self, name: str, replicas: int) -> AgentView:
        return await self._run(calls.scale_agent(name, replicas))

    async def list_agent_versions(self, name: str) -> list[AgentVersion]:
        """The agent's versions, newest first, each with its health over the last minutes."""
        return await self._run(calls.list_agent_versions(name))

    async def rollback_agent(self, name: str, version: str = "") -> AgentView:
        """Deploys `version` again (default: the newest that served before the current one)."""
        return await self._run(calls.rollback_agent(name, version))

    async def delete_agent(self, name: str) -> None:
        await self._run(calls.delete_agent(name))

    def iter_agent_events(self, agent: str) -> AsyncIterator[AgentEvent]:
        """The agent's stored events, newest first."""
        return self._items(calls.list_agent_events(agent, self.page_size))

    async def list_agent_events(self, agent: str, limit: int | None = None) -> list[AgentEvent]:
        """The agent's events, newest first (every stored one, or the newest `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        return [e async for e in self._items(calls.list_agent_events(agent, size), limit)]

    async def watch_agent_events(
        self, agent: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """The agent's stored events after `from_sequence`, oldest first, then new ones as
        they are stored, until closed or the server stops."""
        stream = self._stubs.agents.WatchAgentEvents(
            calls.watch_agent_events_request(agent, from_sequence), timeout=timeout_s
        )
        async for event in self._events(stream, agent_event_from_proto):
            yield event

    async def upload_package(
        self,
        source: PackageSource,
        *,
        as_module: bool = False,
        max_bytes: int = DEFAULT_MAX_PACKAGE_BYTES,
    ) -> StoredPackage:
        """As `OrchestratorClient.upload_package`; a directory is packaged off the loop."""
        upload = await asyncio.to_thread(prepare_upload, source, as_module, max_bytes)

        async def send() -> StoredPackage:
            response = await self._stubs.agents.UploadPackage(
                upload.requests(), timeout=self.timeout_s + upload.extra_s
            )
            return stored_package_from_proto(response)

        return await self._retried(send, repeatable=True)

    # -- workflows ----------------------------------------------------------------------------

    async def create_workflow(self, text: str) -> CreateWorkflowResult:
        return await self._run(calls.create_workflow(text))

    async def validate_workflow(self, text: str) -> ValidationResult:
        return await self._run(calls.validate_workflow(text))

    async def get_workflow(self, name: str, revision: int = 0) -> WorkflowView:
        return await self._run(calls.get_workflow(name, revision))

    def iter_workflows(self, view: View = View.BASIC) -> AsyncIterator[WorkflowView]:
        return self._items(calls.list_workflows(self.page_size, view))

    async def list_workflows(self, view: View = View.BASIC) -> list[WorkflowView]:
        return [w async for w in self.iter_workflows(view)]

    # -- executions ---------------------------------------------------------------------------

    async def start_execution(
        self,
        workflow: str,
        inputs: dict[str, Any] | None = None,
        revision: int = 0,
        request_id: str = "",
        namespace: str = "",
    ) -> AsyncExecutionHandle:
        call = calls.start_execution(workflow, inputs, revision, request_id, namespace)
        execution, created = await self._run(call)
        return AsyncExecutionHandle(self, execution, created)

    async def get_execution(self, execution_id: str, view: View = View.FULL) -> ExecutionRecord:
        return await self._run(calls.get_execution(execution_id, view))

    def iter_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
    ) -> AsyncIterator[ExecutionRecord]:
        return self._items(calls.list_executions(workflow, statuses, self.page_size, view))

    async def list_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
    ) -> list[ExecutionRecord]:
        return [e async for e in self.iter_executions(workflow, statuses, view)]

    async def read_execution_value(
        self, execution_id: str, part: ValuePart = ValuePart.OUTPUTS, task_id: str = ""
    ) -> Any:
        """One value of an execution whole, whatever its size."""
        request = calls.read_value_request(execution_id, part, task_id, 0)
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
        values = {k: await self.read_execution_value(record.execution_id, *k) for k in keys}
        return calls.with_values(record, values) if values else record

    async def cancel_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        return await self._run(calls.cancel_execution(execution_id, reason))

    async def signal_execution(
        self, execution_id: str, name: str, payload: Any = None, request_id: str = ""
    ) -> ExecutionRecord:
        """As `OrchestratorClient.signal_execution`."""
        return await self._run(calls.signal_execution(execution_id, name, payload, request_id))

    async def pause_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        return await self._run(calls.pause_execution(execution_id, reason))

    async def resume_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        return await self._run(calls.resume_execution(execution_id, reason))

    async def retry_execution(self, execution_id: str, request_id: str = "") -> ExecutionRecord:
        """See `OrchestratorClient.retry_execution`."""
        return await self._run(calls.retry_execution(execution_id, request_id))

    async def modify_execution(
        self,
        execution_id: str,
        operations: Sequence[Operation],
        reason: str = "",
        request_id: str = "",
    ) -> ExecutionRecord:
        """As `OrchestratorClient.modify_execution`."""
        return await self._run(calls.modify_execution(execution_id, operations, reason, request_id))

    async def watch_execution(
        self, execution_id: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> AsyncGenerator[Event, None]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event."""
        stream = self._stubs.workflows.WatchExecution(
            calls.watch_request(execution_id, from_sequence), timeout=timeout_s
        )
        async for event in self._events(stream, event_from_proto):
            yield event

    async def _events(
        self, stream: Any, decode: Callable[[Any], E | None]
    ) -> AsyncGenerator[E, None]:
        """The decoded events of a server stream (those a newer server sends that this client
        does not know are passed over); an error is the client's, closing cancels the call."""
        try:
            async for response in stream:
                event = decode(response.event)
                if event is not None:
                    yield event
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        finally:
            stream.cancel()

    # -- resource pools -----------------------------------------------------------------------

    async def create_pool(self, spec: PoolSpec) -> PoolInfo:
        return await self._run(capacity_calls.create_pool(spec))

    async def get_pool(self, name: str) -> PoolInfo:
        return await self._run(capacity_calls.get_pool(name))

    def iter_pools(self) -> AsyncIterator[PoolInfo]:
        return self._items(capacity_calls.list_pools(self.page_size))

    async def list_pools(self) -> list[PoolInfo]:
        return [p async for p in self.iter_pools()]

    async def update_pool(self, spec: PoolSpec) -> PoolInfo:
        return await self._run(capacity_calls.update_pool(spec))

    async def delete_pool(self, name: str) -> None:
        await self._run(capacity_calls.delete_pool(name))

    # -- cluster, quotas ----------------------------------------------------------------------

    async def cluster_state(self) -> ClusterUsage:
        return await self._run(capacity_calls.cluster_state())

    async def set_quota(self, policy: NamespacePolicy) -> NamespacePolicy:
        return await self._run(capacity_calls.set_quota(policy))

    async def get_quota(self, namespace: str) -> NamespacePolicy:
        return await self._run(capacity_calls.get_quota(namespace))

    # -- reservations -------------------------------------------------------------------------

    async def reserve(
        self,
        namespace: str,
        pool: str,
        resources: ResourceAmounts,
        duration_s: float,
        start_time: float | None = None,
        strategy: PlacementStrategy | None = None,
        request_id: str = "",
    ) -> Reservation:
        return await self._run(
            capacity_calls.reserve(
                namespace, pool, resources, duration_s, start_time, strategy, request_id
            )
        )

    async def get_reservation(self, reservation_id: str) -> Reservation:
        return await self._run(capacity_calls.get_reservation(reservation_id))

    async def cancel_reservation(self, reservation_id: str) -> Reservation:
        return await self._run(capacity_calls.cancel_reservation(reservation_id))

    # -- schedulers ---------------------------------------------------------------------------

    async def list_schedulers(self) -> list[SchedulerInfo]:
        return await self._run(calls.list_schedulers())

    async def plan(
        self,
        problem_json: str = "",
        scheduler: str = "",
        time_limit_s: float | None = None,
        seed: int = 0,
        workers: int = 0,
        namespace: str = "",
        adopt: bool = False,
    ) -> PlanResult:
        return await self._run(
            calls.plan(problem_json, scheduler, time_limit_s, seed, workers, namespace, adopt)
        )

    # -- scaling ------------------------------------------------------------------------------

    async def set_scaling_policy(self, policy: ScalingPolicy) -> PolicyView:
        return await self._run(calls.set_scaling_policy(policy))

    async def get_scaling_policy(self, agent: str) -> PolicyView:
        return await self._run(calls.get_scaling_policy(agent))

    async def delete_scaling_policy(self, agent: str) -> None:
        await self._run(calls.delete_scaling_policy(agent))

    async def get_scaling_status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        return await self._run(calls.get_scaling_status(agent, decisions))

    async def get_forecast(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        return await self._run(calls.get_forecast(agent, horizon_s, model, level))

    def iter_scaling_events(
        self, agent: str, include_holds: bool = False
    ) -> AsyncIterator[ScalingEvent]:
        return self._items(calls.list_scaling_events(agent, include_holds, self.page_size))

    async def list_scaling_events(
        self, agent: str, include_holds: bool = False, limit: int | None = None
    ) -> list[ScalingEvent]:
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        paged = calls.list_scaling_events(agent, include_holds, size)
        return [e async for e in self._items(paged, limit)]

    def iter_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> AsyncIterator[LoadSample]:
        return self._items(calls.get_load_history(agent, resolution, start, end, LOAD_PAGE_SIZE))

    async def get_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> list[LoadSample]:
        return [s async for s in self.iter_load_history(agent, resolution, start, end)]

    # -- schedules ----------------------------------------------------------------------------

    async def create_schedule(self, spec: ScheduleSpec) -> tuple[Schedule, bool]:
        return await self._run(schedule_calls.create_schedule(spec))

    async def get_schedule(self, name: str) -> Schedule:
        return await self._run(schedule_calls.get_schedule(name))

    def iter_schedules(self) -> AsyncIterator[Schedule]:
        return self._items(schedule_calls.list_schedules(self.page_size))

    async def list_schedules(self) -> list[Schedule]:
        return [s async for s in self.iter_schedules()]

    async def pause_schedule(self, name: str) -> Schedule:
        return await self._run(schedule_calls.pause_schedule(name))

    async def resume_schedule(self, name: str) -> Schedule:
        return await self._run(schedule_calls.resume_schedule(name))

    async def delete_schedule(self, name: str) -> None:
        await self._run(schedule_calls.delete_schedule(name))
