"""The generated stubs of every service on one channel (blocking or asyncio alike)."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from grpc_health.v1 import health_pb2_grpc

from controlplane.api.gen.orchestrator.v1 import (
    admin_pb2_grpc,
    agent_pb2_grpc,
    auth_pb2_grpc,
    resource_pb2_grpc,
    scaling_pb2_grpc,
    schedule_pb2_grpc,
    scheduler_pb2_grpc,
    workflow_pb2_grpc,
)


@dataclass(frozen=True)
class Stubs:
    agents: Any
    workflows: Any
    resources: Any
    schedulers: Any
    scaling: Any
    schedules: Any
    admin: Any
    health: Any
    auth: Any

    @classmethod
    def on(cls, channel: Any) -> Stubs:
        return cls(
            agents=agent_pb2_grpc.AgentServiceStub(channel),
            workflows=workflow_pb2_grpc.WorkflowServiceStub(channel),
            resources=resource_pb2_grpc.ResourceServiceStub(channel),
            schedulers=scheduler_pb2_grpc.SchedulerServiceStub(channel),
            scaling=scaling_pb2_grpc.ScalingServiceStub(channel),
            schedules=schedule_pb2_grpc.ScheduleServiceStub(channel),
            admin=admin_pb2_grpc.AdminServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            auth=auth_pb2_grpc.AuthServiceStub(channel),
        )

    def method(self, rpc: str) -> Any:
        """The stub method `rpc` ("workflows.GetExecution") names."""
        return attrgetter(rpc)(self)
