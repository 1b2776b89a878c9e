"""`OrchestratorClient`: the blocking client. Every method returns `models` types; failures
raise `ClientError`. Unary calls carry a default deadline (`timeout_s`), and the idempotent
ones are retried while the server is UNAVAILABLE (see `retries`)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from controlplane.api.client import calls, capacity_calls
from controlplane.api.client.auth_methods import AuthMethods
from controlplane.api.client.calls import PAGE_SIZE, Call, Paged
from controlplane.api.client.channels import Credentials, open_channel
from controlplane.api.client.errors import ClientError
from controlplane.api.client.package_upload import PackageSource, prepare_upload
from controlplane.api.client.retries import DEFAULT_RETRY, RetryPolicy, channel_options
from controlplane.api.client.stubs import Stubs
from controlplane.api.client.sync_admin import AdminMethods
from controlplane.api.client.sync_executions import ExecutionMethods
from controlplane.api.client.sync_scaling import ScalingMethods
from controlplane.api.client.sync_schedules import ScheduleMethods
from controlplane.api.codec.agent_events import agent_event_from_proto
from controlplane.api.codec.agents import stored_package_from_proto
from models.agent_events import AgentEvent
from models.agents import AgentSpec, AgentVersion, AgentView, RolloutStrategy
from models.capacity import ClusterUsage, PoolInfo, PoolSpec, Reservation
from models.packages import DEFAULT_MAX_PACKAGE_BYTES, StoredPackage
from models.queueing import NamespacePolicy
from models.resources import PlacementStrategy, ResourceAmounts
from models.scheduling import PlanResult, SchedulerInfo
from models.security import DEFAULT_NAMESPACE

T = TypeVar("T")
E = TypeVar("E")


class OrchestratorClient(
    ExecutionMethods, ScheduleMethods, ScalingMethods, AuthMethods, AdminMethods
):
    """Use as a context manager or call `close()`.

    timeout_s: the deadline of every unary call (Plan and GetForecast get their solve and fit
        time on top); retry: the policy for calls that are safe to repeat (None: never retry);
    page_size: how many items one page of a list call asks for; credentials: TLS and the API
        key (None: from ORCHESTRATOR_API_KEY and ORCHESTRATOR_TLS_*); namespace: the one every
        call works in unless given another.
    """

    def __init__(
        self,
        address: str,
        timeout_s: float = 30,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        page_size: int = PAGE_SIZE,
        credentials: Credentials | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.retry = retry
        self.page_size = page_size
        self._namespace = namespace
        # None: from the environment (ORCHESTRATOR_API_KEY, ORCHESTRATOR_TLS_*).
        credentials = credentials or Credentials.from_env()
        self._channel = open_channel(address, channel_options(retry), credentials)
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
        return self._run(calls.deploy_agent(self._namespace, spec, strategy))

    def get_agent(self, name: str) -> AgentView:
        """`name`: of the client's namespace, or an agent's key ("team-a/coder"), as every
        method that names an agent takes it."""
        return self._run(calls.get_agent(self._namespace, name))

    def iter_agents(self, namespace: str = "") -> Iterator[AgentView]:
        """The agents of `namespace` (default: the client's; "*": of every namespace)."""
        return self._items(calls.list_agents(namespace or self._namespace, self.page_size))

    def list_agents(self, namespace: str = "") -> list[AgentView]:
        return list(self.iter_agents(namespace))

    def scale_agent(self, name: str, replicas: int) -> AgentView:
        return self._run(calls.scale_agent(self._namespace, name, replicas))

    def list_agent_versions(self, name: str) -> list[AgentVersion]:
        """The agent's versions, newest first, each with its health over the last minutes."""
        return self._run(calls.list_agent_versions(self._namespace, name))

    def rollback_agent(self, name: str, version: str = "") -> AgentView:
        """Deploys `version` again (default: the newest that served before the current one)."""
        return self._run(calls.rollback_agent(self._namespace, name, version))

    def delete_agent(self, name: str) -> None:
        self._run(calls.delete_agent(self._namespace, name))

    def iter_agent_events(self, agent: str) -> Iterator[AgentEvent]:
        """The agent's stored events, newest first (replica health and breaker changes,
        replicas started and stopped, rollout steps and ends)."""
        return self._items(calls.list_agent_events(self._namespace, agent, self.page_size))

    def list_agent_events(self, agent: str, limit: int | None = None) -> list[AgentEvent]:
        """The agent's events, newest first (every stored one, or the newest `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        events = self._items(calls.list_agent_events(self._namespace, agent, size))
        return list(events if limit is None else itertools.islice(events, limit))

    def watch_agent_events(
        self, agent: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> Generator[AgentEvent, None, None]:
        """The agent's stored events after `from_sequence`, oldest first, then new ones as
        they are stored; goes on until closed (closing the generator cancels the call) or the
        server stops. No deadline applies unless `timeout_s` is given."""
        stream = self._stubs.agents.WatchAgentEvents(
            calls.watch_agent_events_request(self._namespace, agent, from_sequence),
            timeout=timeout_s,
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
