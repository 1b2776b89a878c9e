"""`OrchestratorClient`: the blocking client. Every method returns `models` types; failures
raise `ClientError`. Unary calls carry a default deadline (`timeout_s`), and the idempotent
ones are retried while the server is UNAVAILABLE (see `retries`)."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from controlplane.api.client import calls, capacity_calls
from controlplane.api.client.calls import LOAD_PAGE_SIZE, PAGE_SIZE, Call, Paged
from controlplane.api.client.errors import ClientError
from controlplane.api.client.package_upload import PackageSource, prepare_upload
from controlplane.api.client.retries import DEFAULT_RETRY, RetryPolicy, channel_options
from controlplane.api.client.stubs import Stubs
from controlplane.api.client.sync_admin import AdminMethods
from controlplane.api.client.sync_schedules import ScheduleMethods
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
from models.scheduling import PlanResult, SchedulerInfo
from models.workflows import CreateWorkflowResult, ValidationResult, View, WorkflowView

T = TypeVar("T")
E = TypeVar("E")


class ExecutionHandle:
    """A started execution: `result()` waits for its end, `watch()` follows its events.

    `execution` is the execution as StartExecution answered it; `created` is False when the
    request id found an execution started earlier."""

    def __init__(
        self, client: OrchestratorClient, execution: ExecutionRecord, created: bool
    ) -> None:
        self._client = client
        self.execution = execution
        self.created = created

    @property
    def execution_id(self) -> str:
        return self.execution.execution_id

    def get(self) -> ExecutionRecord:
        return self._client.get_execution(self.execution_id)

    def complete(self) -> ExecutionRecord:
        """The execution with every value a response left out for its size read in."""
        return self._client.with_omitted_values(self.get())

    def watch(self, from_sequence: int = 0) -> Iterator[Event]:
        """Stored events from `from_sequence`, then live ones, to the terminal event."""
        return self._client.watch_execution(self.execution_id, from_sequence)

    def cancel(self, reason: str = "") -> ExecutionRecord:
        return self._client.cancel_execution(self.execution_id, reason)

    def signal(self, name: str, payload: Any = None, request_id: str = "") -> ExecutionRecord:
        return self._client.signal_execution(self.execution_id, name, payload, request_id)

    def pause(self, reason: str = "") -> ExecutionRecord:
        return self._client.pause_execution(self.execution_id, reason)

    def modify(
        self, operations: Sequence[Operation], reason: str = "", request_id: str = ""
    ) -> ExecutionRecord:
        return self._client.modify_execution(self.execution_id, operations, reason, request_id)

    def resume(self, reason: str = "") -> ExecutionRecord:
        return self._client.resume_execution(self.execution_id, reason)

    def retry(self, request_id: str = "") -> ExecutionRecord:
        return self._client.retry_execution(self.execution_id, request_id)

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
                self.execution_id, next_sequence, timeout_s=remaining
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


class OrchestratorClient(ScheduleMethods, AdminMethods):
    """Use as a context manager or call `close()`.

    timeout_s: the deadline of every unary call (Plan and GetForecast get their solve and fit
        time on top); retry: the policy for calls that are safe to repeat (None: never retry);
    page_size: how many items one page of a list call asks for.
    """

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
        self._channel = grpc.insecure_channel(address, options=channel_options(retry))
        self._stubs = Stubs.on(self._channel)

    def __enter__(self) -> OrchestratorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; RPCs in flight (e.g. a watch) are cancelled."""
        self._channel.close()

    def _run(self, call: Call[T]) -> T:
        method = self._stubs.method(call.rpc)
        # A call with a request id is safe to repeat: the server answers it once.
        return self._retried(
            lambda: call.decode(method(call.request, timeout=self.timeout_s + call.extra_s)),
            repeatable=bool(call.request_id),
        )

    def _retried(self, send: Callable[[], T], repeatable: bool) -> T:
        """`send()`, sent again while the server is UNAVAILABLE when it is safe to repeat
        (others are retried by the channel's service config, or not at all)."""
        delays = self.retry.delays() if self.retry is not None and repeatable else iter(())
        while True:
            try:
                return send()
            except grpc.RpcError as exc:
                error = ClientError.from_rpc_error(exc, self.address)
            delay = next(delays, None) if error.code_name == "UNAVAILABLE" else None
            if delay is None:
                raise error
            time.sleep(delay)

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        """Every item of every page, asking for the next page only when it is reached."""
        token = ""
        while True:
            page = self._run(paged(token))
            yield from page.items
            token = page.next_page_token
            if not token:
                return

    # -- health -------------------------------------------------------------------------------

    def wait_ready(self, deadline_s: float = 30.0, service: str = "") -> None:
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
                response = self._stubs.health.Check(
                    health_pb2.HealthCheckRequest(service=service),
                    timeout=min(remaining, 5.0),
                    wait_for_ready=True,
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as exc:
                last = str(ClientError.from_rpc_error(exc))
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    # -- agents -------------------------------------------------------------------------------

    def deploy_agent(self, spec: AgentSpec, strategy: RolloutStrategy | None = None) -> AgentView:
        """Deploys `spec`, rolled out by `strategy` (None: a rolling update with the defaults).
        `get_agent(name).rollout` shows where the rollout stands."""
        return self._run(calls.deploy_agent(spec, strategy))

    def get_agent(self, name: str) -> AgentView:
        return self._run(calls.get_agent(name))

    def iter_agents(self) -> Iterator[AgentView]:
        return self._items(calls.list_agents(self.page_size))

    def list_agents(self) -> list[AgentView]:
        return list(self.iter_agents())

    def scale_agent(self, name: str, replicas: int) -> AgentView:
        return self._run(calls.scale_agent(name, replicas))

    def list_agent_versions(self, name: str) -> list[AgentVersion]:
        """The agent's versions, newest first, each with its health over the last minutes."""
        return self._run(calls.list_agent_versions(name))

    def rollback_agent(self, name: str, version: str = "") -> AgentView:
        """Deploys `version` again (default: the newest that served before the current one)."""
        return self._run(calls.rollback_agent(name, version))

    def delete_agent(self, name: str) -> None:
        self._run(calls.delete_agent(name))

    def iter_agent_events(self, agent: str) -> Iterator[AgentEvent]:
        """The agent's stored events, newest first (replica health and breaker changes,
        replicas started and stopped, rollout steps and ends)."""
        return self._items(calls.list_agent_events(agent, self.page_size))

    def list_agent_events(self, agent: str, limit: int | None = None) -> list[AgentEvent]:
        """The agent's events, newest first (every stored one, or the newest `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        events = self._items(calls.list_agent_events(agent, size))
        return list(events if limit is None else itertools.islice(events, limit))

    def watch_agent_events(
        self, agent: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> Generator[AgentEvent, None, None]:
        """The agent's stored events after `from_sequence`, oldest first, then new ones as
        they are stored; goes on until closed (closing the generator cancels the call) or the
        server stops. No deadline applies unless `timeout_s` is given."""
        stream = self._stubs.agents.WatchAgentEvents(
            calls.watch_agent_events_request(agent, from_sequence), timeout=timeout_s
        )
        yield from self._events(stream, agent_event_from_proto)

    def upload_package(
        self,
        source: PackageSource,
        *,
        as_module: bool = False,
        max_bytes: int = DEFAULT_MAX_PACKAGE_BYTES,
    ) -> StoredPackage:
        """Stores agent code on the control plane; its `uri` ("package://sha256-...") goes in
        an AgentSpec's runtime_env as working_dir, or (with `as_module`) in py_modules.

        `source`: a directory (packaged here, see `packaging`; PackagingError when it cannot
        be, or is over `max_bytes`), a zip file, or zip bytes. Idempotent, so retried while
        the server is unavailable; a package the server holds already costs one message."""
        upload = prepare_upload(source, as_module, max_bytes)
        return self._retried(
            lambda: stored_package_from_proto(
                self._stubs.agents.UploadPackage(
                    upload.requests(), timeout=self.timeout_s + upload.extra_s
                )
            ),
            repeatable=True,
        )

    # -- workflows ----------------------------------------------------------------------------

    def create_workflow(self, text: str) -> CreateWorkflowResult:
        return self._run(calls.create_workflow(text))

    def validate_workflow(self, text: str) -> ValidationResult:
        return self._run(calls.validate_workflow(text))

    def get_workflow(self, name: str, revision: int = 0) -> WorkflowView:
        return self._run(calls.get_workflow(name, revision))

    def iter_workflows(self, view: View = View.BASIC) -> Iterator[WorkflowView]:
        """Every workflow's latest revision; definitions only in the FULL view."""
        return self._items(calls.list_workflows(self.page_size, view))

    def list_workflows(self, view: View = View.BASIC) -> list[WorkflowView]:
        return list(self.iter_workflows(view))

    # -- executions ---------------------------------------------------------------------------

    def start_execution(
        self,
        workflow: str,
        inputs: dict[str, Any] | None = None,
        revision: int = 0,
        request_id: str = "",
        namespace: str = "",
    ) -> ExecutionHandle:
        """Starts an execution (with `request_id`: at most once, and retried when the server
        is unavailable); the handle waits for it or follows it."""
        call = calls.start_execution(workflow, inputs, revision, request_id, namespace)
        execution, created = self._run(call)
        return ExecutionHandle(self, execution, created)

    def get_execution(self, execution_id: str, view: View = View.FULL) -> ExecutionRecord:
        """The execution; a value over the response budget is left out, its size in
        `*_omitted` (read it with `read_execution_value` or `with_omitted_values`)."""
        return self._run(calls.get_execution(execution_id, view))

    def iter_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
    ) -> Iterator[ExecutionRecord]:
        """Every matching execution, newest first; BASIC: no inputs or outputs, FULL: with
        them (tasks never: use get_execution)."""
        return self._items(calls.list_executions(workflow, statuses, self.page_size, view))

    def list_executions(
        self,
        workflow: str = "",
        statuses: Iterable[ExecutionStatus] = (),
        view: View = View.BASIC,
    ) -> list[ExecutionRecord]:
        return list(self.iter_executions(workflow, statuses, view))

    def read_execution_value(
        self, execution_id: str, part: ValuePart = ValuePart.OUTPUTS, task_id: str = ""
    ) -> Any:
        """One value of an execution whole, whatever its size; an interrupted stream resumes
        where it stopped."""
        data = bytearray()
        size = None
        for attempt in range(3):
            request = calls.read_value_request(execution_id, part, task_id, len(data))
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
        values = {k: self.read_execution_value(record.execution_id, *k) for k in keys}
        return calls.with_values(record, values) if values else record

    def cancel_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        return self._run(calls.cancel_execution(execution_id, reason))

    def signal_execution(
        self, execution_id: str, name: str, payload: Any = None, request_id: str = ""
    ) -> ExecutionRecord:
        """Stores signal `name` with `payload` (any JSON value) for the execution's tasks that
        wait for it; once per `request_id` (one is made up when none is given, so the call is
        retried while the server is unavailable without storing the signal twice)."""
        return self._run(calls.signal_execution(execution_id, name, payload, request_id))

    def pause_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        """No new attempt of the execution starts until it is resumed; running ones finish."""
        return self._run(calls.pause_execution(execution_id, reason))

    def resume_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        return self._run(calls.resume_execution(execution_id, reason))

    def retry_execution(self, execution_id: str, request_id: str = "") -> ExecutionRecord:
        """Runs a FAILED, CANCELLED or TIMED_OUT execution again from its failed, cancelled
        and skipped tasks, keeping succeeded outputs; once per `request_id` (one is made up
        when none is given, so the call is retried while the server is unavailable)."""
        return self._run(calls.retry_execution(execution_id, request_id))

    def modify_execution(
        self,
        execution_id: str,
        operations: Sequence[Operation],
        reason: str = "",
        request_id: str = "",
    ) -> ExecutionRecord:
        """Applies `operations` (skip, add, remove or update tasks that have not started, set
        input values, force conditions) to a running execution as one change, after the
        server has checked all of them; once per `request_id` (one is made up when none is
        given, so the call is retried while the server is unavailable without applying the
        batch twice)."""
        return self._run(calls.modify_execution(execution_id, operations, reason, request_id))

    def watch_execution(
        self, execution_id: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> Generator[Event, None, None]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event.

        No deadline applies unless `timeout_s` is given. Closing the generator cancels the call.
        """
        stream = self._stubs.workflows.WatchExecution(
            calls.watch_request(execution_id, from_sequence), timeout=timeout_s
        )
        yield from self._events(stream, event_from_proto)

    def _events(self, stream: Any, decode: Callable[[Any], E | None]) -> Generator[E, None, None]:
        """The decoded events of a server stream (those a newer server sends that this client
        does not know are passed over); an error is the client's, closing cancels the call."""
        try:
            for response in stream:
                event = decode(response.event)
                if event is not None:
                    yield event
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        finally:
            stream.cancel()

    # -- resource pools -----------------------------------------------------------------------

    def create_pool(self, spec: PoolSpec) -> PoolInfo:
        return self._run(capacity_calls.create_pool(spec))

    def get_pool(self, name: str) -> PoolInfo:
        return self._run(capacity_calls.get_pool(name))

    def iter_pools(self) -> Iterator[PoolInfo]:
        return self._items(capacity_calls.list_pools(self.page_size))

    def list_pools(self) -> list[PoolInfo]:
        return list(self.iter_pools())

    def update_pool(self, spec: PoolSpec) -> PoolInfo:
        """Replaces the pool's whole spec (selector, capacity and strategy)."""
        return self._run(capacity_calls.update_pool(spec))

    def delete_pool(self, name: str) -> None:
        self._run(capacity_calls.delete_pool(name))

    # -- cluster, quotas ----------------------------------------------------------------------

    def cluster_state(self) -> ClusterUsage:
        return self._run(capacity_calls.cluster_state())

    def set_quota(self, policy: NamespacePolicy) -> NamespacePolicy:
        """Replaces the namespace's whole policy (limits, weight, priority, backpressure...)."""
        return self._run(capacity_calls.set_quota(policy))

    def get_quota(self, namespace: str) -> NamespacePolicy:
        """The namespace's policy; one never configured reads as the defaults."""
        return self._run(capacity_calls.get_quota(namespace))

    # -- reservations -------------------------------------------------------------------------

    def reserve(
        self,
        namespace: str,
        pool: str,
        resources: ResourceAmounts,
        duration_s: float,
        start_time: float | None = None,
        strategy: PlacementStrategy | None = None,
        request_id: str = "",
    ) -> Reservation:
        """Capacity in `pool` from `start_time` (epoch seconds; default: now) for `duration_s`."""
        return self._run(
            capacity_calls.reserve(
                namespace, pool, resources, duration_s, start_time, strategy, request_id
            )
        )

    def get_reservation(self, reservation_id: str) -> Reservation:
        return self._run(capacity_calls.get_reservation(reservation_id))

    def cancel_reservation(self, reservation_id: str) -> Reservation:
        return self._run(capacity_calls.cancel_reservation(reservation_id))

    # -- schedulers ---------------------------------------------------------------------------

    def list_schedulers(self) -> list[SchedulerInfo]:
        return self._run(calls.list_schedulers())

    def plan(
        self,
        problem_json: str = "",
        scheduler: str = "",
        time_limit_s: float | None = None,
        seed: int = 0,
        workers: int = 0,
        namespace: str = "",
        adopt: bool = False,
    ) -> PlanResult:
        """Plans `problem_json` (the JSON scheduling model) or, with `namespace`, that
        namespace's live work (`adopt`: the dispatcher switches to this plan now).

        Defaults are the server's: scheduler `auto` (or the namespace's batch scheduler),
        a 10 s time limit, one worker. The call's deadline is stretched to cover the limit.
        """
        return self._run(
            calls.plan(problem_json, scheduler, time_limit_s, seed, workers, namespace, adopt)
        )

    # -- scaling ------------------------------------------------------------------------------

    def set_scaling_policy(self, policy: ScalingPolicy) -> PolicyView:
        return self._run(calls.set_scaling_policy(policy))

    def get_scaling_policy(self, agent: str) -> PolicyView:
        return self._run(calls.get_scaling_policy(agent))

    def delete_scaling_policy(self, agent: str) -> None:
        self._run(calls.delete_scaling_policy(agent))

    def get_scaling_status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        return self._run(calls.get_scaling_status(agent, decisions))

    def get_forecast(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        """The agent's arrival-rate forecast (attempts/s), fitted first if need be."""
        return self._run(calls.get_forecast(agent, horizon_s, model, level))

    def iter_scaling_events(
        self, agent: str, include_holds: bool = False
    ) -> Iterator[ScalingEvent]:
        """The agent's decisions, newest first."""
        return self._items(calls.list_scaling_events(agent, include_holds, self.page_size))

    def list_scaling_events(
        self, agent: str, include_holds: bool = False, limit: int | None = None
    ) -> list[ScalingEvent]:
        """The agent's decisions, newest first (every page, or the first `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        events = self._items(calls.list_scaling_events(agent, include_holds, size))
        return list(events if limit is None else itertools.islice(events, limit))

    def iter_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> Iterator[LoadSample]:
        """Samples of an agent (or "pool:<name>") in [start, end), oldest first (defaults:
        the last hour)."""
        return self._items(calls.get_load_history(agent, resolution, start, end, LOAD_PAGE_SIZE))

    def get_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> list[LoadSample]:
        return list(self.iter_load_history(agent, resolution, start, end))
