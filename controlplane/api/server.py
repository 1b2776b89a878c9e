"""gRPC server: orchestrator services plus the standard health and reflection services."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from controlplane.api.gen.orchestrator.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
    scaling_pb2,
    scaling_pb2_grpc,
    schedule_pb2,
    schedule_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
    workflow_pb2,
    workflow_pb2_grpc,
)
from controlplane.api.servicers.admin import AdminServicer
from controlplane.api.servicers.agents import AgentServicer
from controlplane.api.servicers.auth import AuthServicer
from controlplane.api.servicers.resources import ResourceServicer
from controlplane.api.servicers.scaling import ScalingServicer
from controlplane.api.servicers.schedules import ScheduleServicer
from controlplane.api.servicers.scheduling import SchedulerServicer
from controlplane.api.servicers.workflows import WorkflowServicer
from controlplane.engine.agents.events import AgentEvents
from controlplane.engine.agents.packages import PackageService
from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.audit.log import AuditLog
from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.pools import PoolService
from controlplane.engine.capacity.quotas import QuotaService
from controlplane.engine.capacity.reservations import ReservationService
from controlplane.engine.dispatch.usage import UsageReport
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.service import ExecutionEngine
from controlplane.engine.planning.planner import Planner
from controlplane.engine.scaling.forecasts import ForecastWorker
from controlplane.engine.scaling.loop import ScalingLoop
from controlplane.engine.scaling.policies import ScalingManager
from controlplane.engine.schedules.manager import ScheduleManager
from controlplane.engine.security.access import AccessService

# The files of every orchestrator service (the limits interceptor reads which methods stream).
SERVICE_FILES = (
    agent_pb2.DESCRIPTOR,
    workflow_pb2.DESCRIPTOR,
    resource_pb2.DESCRIPTOR,
    scheduler_pb2.DESCRIPTOR,
    scaling_pb2.DESCRIPTOR,
    schedule_pb2.DESCRIPTOR,
    auth_pb2.DESCRIPTOR,
)
SERVICE_NAMES = (
    agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    workflow_pb2.DESCRIPTOR.services_by_name["WorkflowService"].full_name,
    resource_pb2.DESCRIPTOR.services_by_name["ResourceService"].full_name,
    scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name,
    scaling_pb2.DESCRIPTOR.services_by_name["ScalingService"].full_name,
    schedule_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
)


class BindError(OSError):
    """The gRPC port could not be bound (taken, or not an address of this host)."""


class GrpcServer:
    def __init__(
        self,
        agents: AgentManager,
        catalog: WorkflowCatalog,
        executions: ExecutionEngine,
        cluster: ClusterObserver,
        pools: PoolService,
        quotas: QuotaService,
        reservations: ReservationService,
        planner: Planner,
        usage: UsageReport,
        max_message_bytes: int,
        scaling: ScalingManager,
        scaling_loop: ScalingLoop,
        forecasts: ForecastWorker,
        packages: PackageService,
        agent_events: AgentEvents,
        schedules: ScheduleManager,
        access: AccessService,
        audit_log: AuditLog,
        authentication_enabled: bool = False,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ) -> None:
        """`interceptors`: outermost first (each runs around the ones after it)."""
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
            # A second server on a taken port must fail, not share it (and split the clients
            # between two stores).
            ("grpc.so_reuseport", 0),
        ]
        self._server = grpc.aio.server(options=options, interceptors=list(interceptors))
        agent_pb2_grpc.add_AgentServiceServicer_to_server(
            AgentServicer(agents, packages, agent_events, access), self._server
        )
        auth_pb2_grpc.add_AuthServiceServicer_to_server(
            AuthServicer(access, authentication_enabled), self._server
        )
        workflow_pb2_grpc.add_WorkflowServiceServicer_to_server(
            WorkflowServicer(catalog, executions), self._server
        )
        resource_pb2_grpc.add_ResourceServiceServicer_to_server(
            ResourceServicer(cluster, pools, quotas, reservations, usage), self._server
        )
        scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(
            SchedulerServicer(planner), self._server
        )
        scaling_pb2_grpc.add_ScalingServiceServicer_to_server(
            ScalingServicer(scaling, scaling_loop, forecasts), self._server
        )
        schedule_pb2_grpc.add_ScheduleServiceServicer_to_server(
            ScheduleServicer(schedules), self._server
        )
        admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(audit_log), self._server)
        self._health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, reflection.SERVICE_NAME, "grpc.health.v1.Health"), self._server
        )

    def bind(self, host: str, port: int, credentials: grpc.ServerCredentials | None = None) -> int:
        """Binds with TLS when `credentials` are given."""
        why = f"could not bind {host}:{port} (is another server listening on it?)"
        try:
            if credentials is None:
                bound = self._server.add_insecure_port(f"{host}:{port}")
            else:
                bound = self._server.add_secure_port(f"{host}:{port}", credentials)
        except RuntimeError as exc:  # grpc reports a failed bind as a RuntimeError
            raise BindError(why) from exc
        if bound == 0:
            raise BindError(why)
        return bound

    async def start(self) -> None:
        await self._server.start()

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, status)

    async def stop(self, grace_s: float) -> None:
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_s)
