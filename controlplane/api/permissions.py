"""The permission each RPC needs: a role, where it is checked, and whether the call changes
anything (what the audit records). The README's table is this table; a test holds them
together and calls every RPC with a role just below and one at its permission."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.namespaces import namespace_or_default
from models.security import Role, Scope

VIEW, OPER, DEV, ADMIN = Role.VIEWER, Role.OPERATOR, Role.DEVELOPER, Role.ADMIN
NS, CLUSTER, ANY, IDENTITY = Scope.NAMESPACE, Scope.CLUSTER, Scope.ANY_NAMESPACE, Scope.IDENTITY


@dataclass(frozen=True)
class Permission:
    role: Role | None  # None: no role needed (Scope.IDENTITY)
    scope: Scope
    mutates: bool


def _p(role: Role | None, scope: Scope, mutates: bool = False) -> Permission:
    return Permission(role, scope, mutates)


# "Service/Method" (the short service name) -> permission.
PERMISSIONS: dict[str, Permission] = {
    # AgentService
    "AgentService/DeployAgent": _p(DEV, NS, True),
    "AgentService/GetAgent": _p(VIEW, NS),
    "AgentService/ListAgents": _p(VIEW, NS),
    "AgentService/DeleteAgent": _p(DEV, NS, True),
    "AgentService/ScaleAgent": _p(OPER, NS, True),
    "AgentService/ListAgentVersions": _p(VIEW, NS),
    "AgentService/RollbackAgent": _p(DEV, NS, True),
    "AgentService/UploadPackage": _p(DEV, ANY, True),
    "AgentService/ListAgentEvents": _p(VIEW, NS),
    "AgentService/WatchAgentEvents": _p(VIEW, NS),
    # WorkflowService
    "WorkflowService/CreateWorkflow": _p(DEV, NS, True),
    "WorkflowService/GetWorkflow": _p(VIEW, NS),
    "WorkflowService/ListWorkflows": _p(VIEW, NS),
    "WorkflowService/ValidateWorkflow": _p(VIEW, NS),
    "WorkflowService/StartExecution": _p(OPER, NS, True),
    "WorkflowService/GetExecution": _p(VIEW, NS),
    "WorkflowService/ListExecutions": _p(VIEW, NS),
    "WorkflowService/CancelExecution": _p(OPER, NS, True),
    "WorkflowService/WatchExecution": _p(VIEW, NS),
    "WorkflowService/ReadExecutionValue": _p(VIEW, NS),
    "WorkflowService/SignalExecution": _p(OPER, NS, True),
    "WorkflowService/PauseExecution": _p(OPER, NS, True),
    "WorkflowService/ResumeExecution": _p(OPER, NS, True),
    "WorkflowService/RetryExecution": _p(OPER, NS, True),
    "WorkflowService/ModifyExecution": _p(OPER, NS, True),
    # ScheduleService
    "ScheduleService/CreateSchedule": _p(OPER, NS, True),
    "ScheduleService/GetSchedule": _p(VIEW, NS),
    "ScheduleService/ListSchedules": _p(VIEW, NS),
    "ScheduleService/PauseSchedule": _p(OPER, NS, True),
    "ScheduleService/ResumeSchedule": _p(OPER, NS, True),
    "ScheduleService/DeleteSchedule": _p(OPER, NS, True),
    # ScalingService
    "ScalingService/SetScalingPolicy": _p(OPER, NS, True),
    "ScalingService/GetScalingPolicy": _p(VIEW, NS),
    "ScalingService/DeleteScalingPolicy": _p(OPER, NS, True),
    "ScalingService/GetScalingStatus": _p(VIEW, NS),
    "ScalingService/GetForecast": _p(VIEW, NS),
    "ScalingService/ListScalingEvents": _p(VIEW, NS),
    "ScalingService/GetLoadHistory": _p(VIEW, NS),
    # SchedulerService
    "SchedulerService/ListSchedulers": _p(VIEW, ANY),
    "SchedulerService/Plan": _p(OPER, NS, True),
    # ResourceService
    "ResourceService/CreatePool": _p(ADMIN, CLUSTER, True),
    "ResourceService/GetPool": _p(VIEW, ANY),
    "ResourceService/ListPools": _p(VIEW, ANY),
    "ResourceService/UpdatePool": _p(ADMIN, CLUSTER, True),
    "ResourceService/DeletePool": _p(ADMIN, CLUSTER, True),
    "ResourceService/GetClusterState": _p(VIEW, ANY),
    "ResourceService/SetQuota": _p(ADMIN, CLUSTER, True),
    "ResourceService/GetQuota": _p(VIEW, NS),
    "ResourceService/Reserve": _p(ADMIN, CLUSTER, True),
    "ResourceService/GetReservation": _p(VIEW, ANY),
    "ResourceService/CancelReservation": _p(ADMIN, CLUSTER, True),
    # AuthService
    "AuthService/WhoAmI": _p(None, IDENTITY),
    "AuthService/ListNamespaces": _p(None, IDENTITY),
    "AuthService/CreateApiKey": _p(ADMIN, NS, True),
    "AuthService/ListApiKeys": _p(ADMIN, CLUSTER),
    "AuthService/RevokeApiKey": _p(ADMIN, CLUSTER, True),
    "AuthService/GrantRole": _p(ADMIN, CLUSTER, True),
    "AuthService/RevokeRole": _p(ADMIN, CLUSTER, True),
    "AuthService/ListRoleBindings": _p(ADMIN, CLUSTER),
    "AuthService/SetNamespacePolicy": _p(ADMIN, CLUSTER, True),
    "AuthService/GetNamespacePolicy": _p(VIEW, NS),
}


def request_namespace(request: Any) -> str:
    """The namespace a request names (`default` when it names none)."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "namespace" not in descriptor.fields_by_name:
        return namespace_or_default("")
    return namespace_or_default(str(request.namespace))
