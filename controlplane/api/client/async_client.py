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
)
from types import TracebackType
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from controlplane.api.client import calls, capacity_calls
from controlplane.api.client.async_admin import AsyncAdminMethods
from controlplane.api.client.async_executions import AsyncExecutionMethods
from controlplane.api.client.async_scaling import AsyncScalingMethods
from controlplane.api.client.auth_methods import AsyncAuthMethods
from controlplane.api.client.calls import PAGE_SIZE, Call, Paged
from controlplane.api.client.channels import Credentials, open_aio_channel
from controlplane.api.client.errors import ClientError
from controlplane.api.client.package_upload import PackageSource, prepare_upload
from controlplane.api.client.retries import DEFAULT_RETRY, RetryPolicy, channel_options
from controlplane.api.client.stubs import Stubs
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


class AsyncOrchestratorClient(
    AsyncExecutionMethods, AsyncScalingMethods, AsyncAuthMethods, AsyncAdminMethods
):
    """Use as an async context manager or await `close()`; see `OrchestratorClient` for the
    options."""

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
        self._channel = open_aio_channel(address, channel_options(retry), credentials)
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
        return await self._run(calls.deploy_agent(self._namespace, spec, strategy))

    async def get_agent(self, name: str) -> AgentView:
        return await self._run(calls.get_agent(self._namespace, name))

    def iter_agents(self, namespace: str = "") -> AsyncIterator[AgentView]:
        """The agents of `namespace` (default: the client's; "*": of every namespace)."""
        return self._items(calls.list_agents(namespace or self._namespace, self.page_size))

    async def list_agents(self, namespace: str = "") -> list[AgentView]:
        return [a async for a in self.iter_agents(namespace)]

    async def scale_agent(self, name: str, replicas: int) -> AgentView:
        return await self._run(calls.scale_agent(self._namespace, name, replicas))

    async def list_agent_versions(self, name: str) -> list[AgentVersion]:
        """The agent's versions, newest first, each with its health over the last minutes."""
        return await self._run(calls.list_agent_versions(self._namespace, name))

    async def rollback_agent(self, name: str, version: str = "") -> AgentView:
        """Deploys `version` again (default: the newest that served before the current one)."""
        return await self._run(calls.rollback_agent(self._namespace, name, version))

    async def delete_agent(self, name: str) -> None:
        await self._run(calls.delete_agent(self._namespace, name))

    def iter_agent_events(self, agent: str) -> AsyncIterator[AgentEvent]:
        """The agent's stored events, newest first."""
        return self._items(calls.list_agent_events(self._namespace, agent, self.page_size))

    async def list_agent_events(self, agent: str, limit: int | None = None) -> list[AgentEvent]:
        """The agent's events, newest first (every stored one, or the newest `limit`)."""
        size = self.page_size if limit is None else max(1, min(self.page_size, limit))
        return [
            e
            async for e in self._items(calls.list_agent_events(self._namespace, agent, size), limit)
        ]

    async def watch_agent_events(
        self, agent: str, from_sequence: int = 0, timeout_s: float | None = None
    ) -> AsyncGenerator[AgentEvent, None]:
        """The agent's stored events after `from_sequence`, oldest first, then new ones as
        they are stored, until closed or the server stops."""
        stream = self._stubs.agents.WatchAgentEvents(
            calls.watch_agent_events_request(self._namespace, agent, from_sequence),
            timeout=timeout_s,
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
