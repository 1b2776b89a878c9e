"""orchestrator.v1.AgentService."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from controlplane.api.codec.agent_events import agent_event_to_proto
from controlplane.api.codec.agent_keys import request_key
from controlplane.api.codec.agent_specs import deployed_spec
from controlplane.api.codec.agents import (
    agent_to_proto,
    agent_version_to_proto,
    stored_package_to_proto,
)
from controlplane.api.codec.rollouts import strategy_from_proto
from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc
from controlplane.api.servicers.guard import streaming, unary
from controlplane.engine.agents.events import AgentEvents
from controlplane.engine.agents.packages import PackageService
from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.security.access import AccessService
from models.errors import invalid
from models.namespaces import request_namespace, split_qualified


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(
        self,
        agents: AgentManager,
        packages: PackageService,
        events: AgentEvents,
        access: AccessService,
    ) -> None:
        self._agents = agents
        self._access = access
        self._packages = packages
        self._events = events

    @unary
    async def DeployAgent(
        self, request: agent_pb2.DeployAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.DeployAgentResponse:
        if not request.HasField("agent"):
            raise invalid("agent", "is required")
        strategy = strategy_from_proto(request.strategy) if request.HasField("strategy") else None
        spec = deployed_spec(request)
        self._access.check_deployment(split_qualified(spec.name)[0], spec)
        view = await self._agents.deploy(spec, strategy)
        return agent_pb2.DeployAgentResponse(agent=agent_to_proto(view))

    @unary
    async def GetAgent(
        self, request: agent_pb2.GetAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.GetAgentResponse:
        view = self._agents.show(request_key(request.namespace, request.name))
        return agent_pb2.GetAgentResponse(agent=agent_to_proto(view))

    @unary
    async def ListAgents(
        self, request: agent_pb2.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ListAgentsResponse:
        namespace = request_namespace(request.namespace, allow_all=True)
        views, token = self._agents.list(request.page_size, request.page_token, namespace)
        return agent_pb2.ListAgentsResponse(
            agents=[agent_to_proto(v, with_detail=False) for v in views], next_page_token=token
        )

    @unary
    async def DeleteAgent(
        self, request: agent_pb2.DeleteAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.DeleteAgentResponse:
        await self._agents.delete(request_key(request.namespace, request.name))
        return agent_pb2.DeleteAgentResponse()

    @unary
    async def ScaleAgent(
        self, request: agent_pb2.ScaleAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ScaleAgentResponse:
        key = request_key(request.namespace, request.name)
        view = await self._agents.scale(key, request.replicas)
        return agent_pb2.ScaleAgentResponse(agent=agent_to_proto(view))

    @unary
    async def ListAgentVersions(
        self, request: agent_pb2.ListAgentVersionsRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ListAgentVersionsResponse:
        if not request.name:
            raise invalid("name", "is required")
        versions = self._agents.list_versions(request_key(request.namespace, request.name))
        return agent_pb2.ListAgentVersionsResponse(
            versions=[agent_version_to_proto(v) for v in versions]
        )

    @unary
    async def RollbackAgent(
        self, request: agent_pb2.RollbackAgentRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.RollbackAgentResponse:
        if not request.name:
            raise invalid("name", "is required")
        key = request_key(request.namespace, request.name)
        view = await self._agents.rollback(key, request.version)
        return agent_pb2.RollbackAgentResponse(agent=agent_to_proto(view))

    @unary
    async def UploadPackage(
        self,
        requests: AsyncIterator[agent_pb2.UploadPackageRequest],
        context: grpc.aio.ServicerContext,
    ) -> agent_pb2.UploadPackageResponse:
        first = await anext(aiter(requests), None)
        if first is None:
            raise invalid("sha256", "is required in the first message (the stream was empty)")
        ref = self._packages.check_upload(first.sha256, first.size_bytes)
        held = self._packages.held(ref)
        if held is not None:
            # Answered without reading the data: re-uploading a package costs one message.
            return stored_package_to_proto(held)

        async def chunks() -> AsyncIterator[bytes]:
            yield first.data
            async for request in requests:
                yield request.data

        stored = await self._packages.store(ref, first.size_bytes, chunks())
        return stored_package_to_proto(stored)

    @unary
    async def ListAgentEvents(
        self, request: agent_pb2.ListAgentEventsRequest, context: grpc.aio.ServicerContext
    ) -> agent_pb2.ListAgentEventsResponse:
        key = request_key(request.namespace, request.agent, "agent")
        events, token = self._events.list_events(key, request.page_size, request.page_token)
        return agent_pb2.ListAgentEventsResponse(
            events=[agent_event_to_proto(e) for e in events], next_page_token=token
        )

    @streaming
    async def WatchAgentEvents(
        self, request: agent_pb2.WatchAgentEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[agent_pb2.WatchAgentEventsResponse]:
        key = request_key(request.namespace, request.agent, "agent")
        async for event in self._events.watch(key, request.from_sequence):
            yield agent_pb2.WatchAgentEventsResponse(event=agent_event_to_proto(event))
