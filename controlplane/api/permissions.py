"""The permission each RPC needs: a role and where it is checked. The README's table is this
table (with whether the audit records the call, from `interceptors.mutations`); a test holds
them together and calls every RPC with a role just below and one at its permission."""

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


def _p(role: Role | None, scope: Scope) -> Permission:
    return Permission(role, scope)


# "Service/Method" (the short service name) -> permission.
PERMISSIONS: dict[str, Permission] = {
    # AgentService
    "AgentService/DeployAgent": _p(DEV, NS),
    "AgentService/GetAgent": _p(VIEW, NS),
    "AgentService/ListAgents": _p(VIEW, NS),
    "AgentService/DeleteAgent": _p(DEV, NS),
    "AgentService/ScaleAgent": _p(OPER, NS),
    "AgentService/ListAgentVersions": _p(VIEW, NS),
    "AgentService/RollbackAgent": _p(DEV, NS),
    "AgentService/UploadPackage": _p(DEV, ANY),
    "AgentService/ListAgentEvents": _p(VIEW, NS),
    "AgentService/WatchAgentEvents": _p(VIEW, NS),
    # WorkflowService
    "WorkflowService/CreateWorkflow": _p(DEV, NS),
    "WorkflowService/GetWorkflow": _p(VIEW, NS),
    "WorkflowService/ListWorkflows": _p(VIEW, NS),
    "WorkflowService/ValidateWorkflow": _p(VIEW, NS),
    "WorkflowService/StartExecution": _p(OPER, NS),
    "WorkflowService/GetExecution": _p(VIEW, NS),
    "WorkflowService/ListExecutions": _p(VIEW, NS),
    "WorkflowService/CancelExecution": _p(OPER, NS),
    "WorkflowService/WatchExecution": _p(VIEW, NS),
    "WorkflowService/ReadExecutionValue": _p(VIEW, NS),
    "WorkflowService/SignalExecution": _p(OPER, NS),
    "WorkflowService/PauseExecution": _p(OPER, NS),
    "WorkflowService/ResumeExecution": _p(OPER, NS),
    "WorkflowService/RetryExecution": _p(OPER, NS),
    "WorkflowService/ModifyExecution": _p(OPER, NS),
    # ScheduleService
    "ScheduleService/CreateSchedule": _p(OPER, NS),
    "ScheduleService/GetSchedule": _p(VIEW, NS),
    "ScheduleService/ListSchedules": _p(VIEW, NS),
    "ScheduleService/PauseSchedule": _p(OPER, NS),
    "ScheduleService/ResumeSchedule": _p(OPER, NS),
    "ScheduleService/DeleteSchedule": _p(OPER, NS),
    # ScalingService
    "ScalingService/SetScalingPolicy": _p(OPER, NS),
    "ScalingService/GetScalingPolicy": _p(VIEW, NS),
    "ScalingService/DeleteScalingPolicy": _p(OPER, NS),
    "ScalingService/GetScalingStatus": _p(VIEW, NS),
    "ScalingService/GetForecast": _p(VIEW, NS),
    "ScalingService/ListScalingEvents": _p(VIEW, NS),
    "ScalingService/GetLoadHistory": _p(VIEW, NS),
    # SchedulerService
    "SchedulerService/ListSchedulers": _p(VIEW, ANY),
    "SchedulerService/Plan": _p(OPER, NS),
    # ResourceService
    "ResourceService/CreatePool": _p(ADMIN, CLUSTER),
    "ResourceService/GetPool": _p(VIEW, ANY),
    "ResourceService/ListPools": _p(VIEW, ANY),
    "ResourceService/UpdatePool": _p(ADMIN, CLUSTER),
    "ResourceService/DeletePool": _p(ADMIN, CLUSTER),
    "ResourceService/GetClusterState": _p(VIEW, ANY),
    "ResourceService/SetQuota": _p(ADMIN, CLUSTER),
    "ResourceService/GetQuota": _p(VIEW, NS),
    "ResourceService/Reserve": _p(ADMIN, CLUSTER),
    "ResourceService/GetReservation": _p(VIEW, ANY),
    "ResourceService/CancelReservation": _p(ADMIN, CLUSTER),
    # AuthService
    "AuthService/WhoAmI": _p(None, IDENTITY),
    "AuthService/ListNamespaces": _p(None, IDENTITY),
    "AuthService/CreateApiKey": _p(ADMIN, NS),
    "AuthService/ListApiKeys": _p(ADMIN, CLUSTER),
    "AuthService/RevokeApiKey": _p(ADMIN, CLUSTER),
    "AuthService/GrantRole": _p(ADMIN, CLUSTER),
    "AuthService/RevokeRole": _p(ADMIN, CLUSTER),
    "AuthService/ListRoleBindings": _p(ADMIN, CLUSTER),
    "AuthService/SetNamespacePolicy": _p(ADMIN, CLUSTER),
    "AuthService/GetNamespacePolicy": _p(VIEW, NS),
    # AdminService (the audit log spans namespaces: cluster-wide admins only)
    "AdminService/ListAuditEvents": _p(ADMIN, CLUSTER),
}


def namespace_of(request: Any) -> str:
    """The namespace a request names (`default` when it names none)."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "namespace" not in descriptor.fields_by_name:
        return namespace_or_default("")
    return namespace_or_default(str(request.namespace))
