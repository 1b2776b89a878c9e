"""Which RPCs change something (and are audited) and which only read: every RPC of every
orchestrator service is in `RPCS`, and a unit test fails for one that is not.

A new RPC gets one line: `READ`, or `changes("field.path")` naming the request field that
says what it changes (its `namespace` is found next to that field or at the top of the
request), or `changes(resource_of)` with a function of the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RpcKind:
    """`mutating`: the call may change state. `resource`: the dotted path of the request field
    that names what it changes, or a function of the request. `only_if`: a bool field of the
    request without which the call changes nothing (Plan changes the dispatch only with
    `adopt`)."""

    mutating: bool
    resource: str | Callable[[Any], str] = ""
    only_if: str = ""


READ = RpcKind(mutating=False)


def changes(resource: str | Callable[[Any], str] = "", only_if: str = "") -> RpcKind:
    return RpcKind(mutating=True, resource=resource, only_if=only_if)


_YAML_NAME = re.compile(r"^name:\s*[\"']?([^\"'\s#,}]+)", re.MULTILINE)
_JSON_NAME = re.compile(r"\"name\"\s*:\s*\"([^\"]{1,200})\"")
_NAME_SEARCH_CHARS = 64 * 1024


def workflow_name(request: Any) -> str:
    """The `name` a workflow definition gives itself (best effort: the first top-level YAML
    `name:` or JSON `"name"`; the server parses the definition properly)."""
    head = str(request.definition)[:_NAME_SEARCH_CHARS]
    found = _JSON_NAME.search(head) if head.lstrip().startswith("{") else _YAML_NAME.search(head)
    return found.group(1) if found else ""


# By "Service/Method" (the `Call.rpc` of the interceptors).
RPCS: dict[str, RpcKind] = {
    # AgentService
    "AgentService/DeployAgent": changes("agent.name"),
    "AgentService/GetAgent": READ,
    "AgentService/ListAgents": READ,
    "AgentService/DeleteAgent": changes("name"),
    "AgentService/ScaleAgent": changes("name"),
    "AgentService/ListAgentVersions": READ,
    "AgentService/RollbackAgent": changes("name"),
    "AgentService/UploadPackage": changes(),  # a client stream: the interceptor sees no request
    "AgentService/ListAgentEvents": READ,
    "AgentService/WatchAgentEvents": READ,
    # WorkflowService
    "WorkflowService/CreateWorkflow": changes(workflow_name),
    "WorkflowService/GetWorkflow": READ,
    "WorkflowService/ListWorkflows": READ,
    "WorkflowService/ValidateWorkflow": READ,
    "WorkflowService/StartExecution": changes("workflow"),
    "WorkflowService/GetExecution": READ,
    "WorkflowService/ListExecutions": READ,
    "WorkflowService/CancelExecution": changes("execution_id"),
    "WorkflowService/WatchExecution": READ,
    "WorkflowService/ReadExecutionValue": READ,
    "WorkflowService/SignalExecution": changes("execution_id"),
    "WorkflowService/PauseExecution": changes("execution_id"),
    "WorkflowService/ResumeExecution": changes("execution_id"),
    "WorkflowService/RetryExecution": changes("execution_id"),
    "WorkflowService/ModifyExecution": changes("execution_id"),
    # ResourceService
    "ResourceService/CreatePool": changes("pool.name"),
    "ResourceService/GetPool": READ,
    "ResourceService/ListPools": READ,
    "ResourceService/UpdatePool": changes("pool.name"),
    "ResourceService/DeletePool": changes("name"),
    "ResourceService/GetClusterState": READ,
    "ResourceService/SetQuota": changes("quota.namespace"),
    "ResourceService/GetQuota": READ,
    "ResourceService/Reserve": changes("pool"),
    "ResourceService/GetReservation": READ,
    "ResourceService/CancelReservation": changes("reservation_id"),
    # SchedulerService
    "SchedulerService/ListSchedulers": READ,
    "SchedulerService/Plan": changes("namespace", only_if="adopt"),
    # ScalingService
    "ScalingService/SetScalingPolicy": changes("policy.agent"),
    "ScalingService/GetScalingPolicy": READ,
    "ScalingService/DeleteScalingPolicy": changes("agent"),
    "ScalingService/GetScalingStatus": READ,
    "ScalingService/GetForecast": READ,
    "ScalingService/ListScalingEvents": READ,
    "ScalingService/GetLoadHistory": READ,
    # ScheduleService
    "ScheduleService/CreateSchedule": changes("schedule.name"),
    "ScheduleService/GetSchedule": READ,
    "ScheduleService/ListSchedules": READ,
    "ScheduleService/PauseSchedule": changes("name"),
    "ScheduleService/ResumeSchedule": changes("name"),
    "ScheduleService/DeleteSchedule": changes("name"),
    # AdminService
    "AdminService/ListAuditEvents": READ,
    # AuthService
    "AuthService/WhoAmI": READ,
    "AuthService/ListNamespaces": READ,
    "AuthService/CreateApiKey": changes("name"),
    "AuthService/ListApiKeys": READ,
    "AuthService/RevokeApiKey": changes("key"),
    "AuthService/GrantRole": changes("subject"),
    "AuthService/RevokeRole": changes("subject"),
    "AuthService/ListRoleBindings": READ,
    "AuthService/SetNamespacePolicy": changes("policy.namespace"),
    "AuthService/GetNamespacePolicy": READ,
}

# An RPC missing from the table (a service added without its lines) is audited: recording a
# read costs a row, leaving a change unrecorded costs the audit.
UNLISTED = changes()


def kind_of(rpc: str) -> RpcKind:
    return RPCS.get(rpc, UNLISTED)
