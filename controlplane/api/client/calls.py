"""Every unary call of the API as data: which stub method, the request built from models, and
how to read the response back into models. Both clients run these, so they differ only in
how they wait."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from controlplane.api.client.errors import ClientError
from controlplane.api.codec.agent_events import agent_event_from_proto
from controlplane.api.codec.agent_specs import agent_spec_to_proto
from controlplane.api.codec.agents import agent_from_proto, agent_version_from_proto
from controlplane.api.codec.modifications import ONEOF_FIELDS, operation_to_proto
from controlplane.api.codec.rollouts import strategy_to_proto
from controlplane.api.codec.scheduling import plan_from_proto, scheduler_from_proto
from controlplane.api.codec.wellknown import dict_to_struct, duration, to_value
from controlplane.api.codec.workflows import (
    EXECUTION_STATUSES,
    EXECUTION_VIEWS,
    VALUE_PARTS,
    WORKFLOW_VIEWS,
    create_workflow_from_proto,
    execution_from_proto,
    validation_from_proto,
    workflow_from_proto,
)
from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    scheduler_pb2,
    workflow_pb2,
)
from models.agent_events import AgentEvent
from models.agents import AgentSpec, AgentVersion, AgentView, RolloutStrategy
from models.executions import ExecutionRecord, ExecutionStatus, ValuePart
from models.modifications import Operation, OperationKind
from models.namespaces import split_qualified
from models.scheduling import PlanResult, SchedulerInfo
from models.values import MAX_WIRE_DEPTH, value_problems
from models.workflows import CreateWorkflowResult, ValidationResult, View, WorkflowView

T = TypeVar("T")

# Items one page of a list call asks for (load samples are small: more per page).
PAGE_SIZE = 200
LOAD_PAGE_SIZE = 1000
# The server's default plan time limit, and how long a forecast may take to fit.
PLAN_TIME_LIMIT_S = 10.0
FORECAST_FIT_S = 60.0


@dataclass(frozen=True)
class Call(Generic[T]):
    """One unary call. `rpc`: the stub method as "stub.Method" (see `Stubs`); `extra_s`: how
    much longer than the default deadline the call may take; `request_id`: the server answers
    a repeated request id with the first answer, so such a call is retried when UNAVAILABLE."""

    rpc: str
    request: Any
    decode: Callable[[Any], T]
    extra_s: float = 0.0
    request_id: str = ""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


Paged = Callable[[str], Call[Page[T]]]


def nothing(response: Any) -> None:
    return None


# -- agents -----------------------------------------------------------------------------------


def agent_ref(namespace: str, agent: str) -> tuple[str, str]:
    """(namespace, name) of the agent a caller names: a name is of the client's `namespace`;
    an agent's key as models carry it ("team-a/coder") names its own namespace."""
    return split_qualified(agent) if "/" in agent else (namespace, agent)


def deploy_agent(
    namespace: str, spec: AgentSpec, strategy: RolloutStrategy | None = None
) -> Call[AgentView]:
    """`strategy` None: the server's default (a rolling update)."""
    namespace, name = agent_ref(namespace, spec.name)
    message = agent_spec_to_proto(spec)
    message.namespace, message.name = namespace, name
    request = agent_pb2.DeployAgentRequest(
        namespace=namespace,
        agent=message,
        strategy=None if strategy is None else strategy_to_proto(strategy),
    )
    return Call("agents.DeployAgent", request, lambda r: agent_from_proto(r.agent))


def get_agent(namespace: str, name: str) -> Call[AgentView]:
    namespace, name = agent_ref(namespace, name)
    request = agent_pb2.GetAgentRequest(namespace=namespace, name=name)
    return Call("agents.GetAgent", request, lambda r: agent_from_proto(r.agent))


def list_agents(namespace: str, page_size: int) -> Paged[AgentView]:
    """`namespace` "*": the agents of every namespace."""

    def page(token: str) -> Call[Page[AgentView]]:
        request = agent_pb2.ListAgentsRequest(
            namespace=namespace, page_size=page_size, page_token=token
        )
        return Call(
            "agents.ListAgents",
            request,
            lambda r: Page([agent_from_proto(a) for a in r.agents], r.next_page_token),
        )

    return page


def scale_agent(namespace: str, name: str, replicas: int) -> Call[AgentView]:
    namespace, name = agent_ref(namespace, name)
    request = agent_pb2.ScaleAgentRequest(namespace=namespace, name=name, replicas=replicas)
    return Call("agents.ScaleAgent", request, lambda r: agent_from_proto(r.agent))


def list_agent_versions(namespace: str, name: str) -> Call[list[AgentVersion]]:
    namespace, name = agent_ref(namespace, name)
    request = agent_pb2.ListAgentVersionsRequest(namespace=namespace, name=name)
    return Call(
        "agents.ListAgentVersions",
        request,
        lambda r: [agent_version_from_proto(v) for v in r.versions],
    )


def rollback_agent(namespace: str, name: str, version: str) -> Call[AgentView]:
    namespace, name = agent_ref(namespace, name)
    request = agent_pb2.RollbackAgentRequest(namespace=namespace, name=name, version=version)
    return Call("agents.RollbackAgent", request, lambda r: agent_from_proto(r.agent))


def delete_agent(namespace: str, name: str) -> Call[None]:
    namespace, name = agent_ref(namespace, name)
    request = agent_pb2.DeleteAgentRequest(namespace=namespace, name=name)
    return Call("agents.DeleteAgent", request, nothing)


def _known_events(messages: Iterable[agent_pb2.AgentEvent]) -> list[AgentEvent]:
    """The events of types this client knows (a newer server may send others)."""
    return [e for e in map(agent_event_from_proto, messages) if e is not None]


def list_agent_events(namespace: str, agent: str, page_size: int) -> Paged[AgentEvent]:
    namespace, agent = agent_ref(namespace, agent)

    def page(token: str) -> Call[Page[AgentEvent]]:
        request = agent_pb2.ListAgentEventsRequest(
            namespace=namespace, agent=agent, page_size=page_size, page_token=token
        )
        return Call(
            "agents.ListAgentEvents",
            request,
            lambda r: Page(_known_events(r.events), r.next_page_token),
        )

    return page


def watch_agent_events_request(
    namespace: str, agent: str, from_sequence: int
) -> agent_pb2.WatchAgentEventsRequest:
    namespace, agent = agent_ref(namespace, agent)
    return agent_pb2.WatchAgentEventsRequest(
        namespace=namespace, agent=agent, from_sequence=from_sequence
    )


# -- workflows --------------------------------------------------------------------------------


# Every call of workflows and executions names its namespace ("*" for a list of all).


def create_workflow(text: str, namespace: str) -> Call[CreateWorkflowResult]:
    request = workflow_pb2.CreateWorkflowRequest(definition=text, namespace=namespace)
    return Call("workflows.CreateWorkflow", request, create_workflow_from_proto)


def validate_workflow(text: str, namespace: str) -> Call[ValidationResult]:
    request = workflow_pb2.ValidateWorkflowRequest(definition=text, namespace=namespace)
    return Call("workflows.ValidateWorkflow", request, validation_from_proto)


def get_workflow(name: str, revision: int, namespace: str) -> Call[WorkflowView]:
    request = workflow_pb2.GetWorkflowRequest(name=name, revision=revision, namespace=namespace)
    return Call("workflows.GetWorkflow", request, lambda r: workflow_from_proto(r.workflow))


def list_workflows(page_size: int, view: View, namespace: str) -> Paged[WorkflowView]:
    def page(token: str) -> Call[Page[WorkflowView]]:
        request = workflow_pb2.ListWorkflowsRequest(
            page_size=page_size,
            page_token=token,
            view=WORKFLOW_VIEWS.to_proto(view),
            namespace=namespace,
        )
        return Call(
            "workflows.ListWorkflows",
            request,
            lambda r: Page([workflow_from_proto(w) for w in r.workflows], r.next_page_token),
        )

    return page


# -- executions -------------------------------------------------------------------------------


def _carried(value: Any, path: str, refusal: str) -> None:
    """Refuses here what the server would refuse too: this names the path where protobuf could
    not even encode the value."""
    problems = value_problems(value, path, MAX_WIRE_DEPTH, None)
    if problems:
        raise ClientError(
            "INVALID_ARGUMENT",
            f"{refusal}: {problems[0].path} {problems[0].description}",
            [(p.path, p.description) for p in problems],
        )


def start_execution(
    workflow: str,
    inputs: dict[str, Any] | None,
    revision: int,
    request_id: str,
    namespace: str,
) -> Call[tuple[ExecutionRecord, bool]]:
    _carried(inputs or {}, "inputs", "inputs are not JSON values the API carries")
    request = workflow_pb2.StartExecutionRequest(
        workflow=workflow,
        revision=revision,
        inputs=dict_to_struct(inputs),
        request_id=request_id,
        namespace=namespace,
    )
    return Call(
        "workflows.StartExecution",
        request,
        lambda r: (execution_from_proto(r.execution), r.created),
        request_id=request_id,
    )


def get_execution(execution_id: str, view: View, namespace: str) -> Call[ExecutionRecord]:
    request = workflow_pb2.GetExecutionRequest(
        execution_id=execution_id, view=EXECUTION_VIEWS.to_proto(view), namespace=namespace
    )
    return Call("workflows.GetExecution", request, lambda r: execution_from_proto(r.execution))


def list_executions(
    workflow: str, statuses: Iterable[ExecutionStatus], page_size: int, view: View, namespace: str
) -> Paged[ExecutionRecord]:
    codes = [EXECUTION_STATUSES.to_proto(s) for s in statuses]

    def page(token: str) -> Call[Page[ExecutionRecord]]:
        request = workflow_pb2.ListExecutionsRequest(
            workflow=workflow,
            statuses=codes,
            page_size=page_size,
            page_token=token,
            view=EXECUTION_VIEWS.to_proto(view),
            namespace=namespace,
        )
        return Call(
            "workflows.ListExecutions",
            request,
            lambda r: Page([execution_from_proto(e) for e in r.executions], r.next_page_token),
        )

    return page


def cancel_execution(execution_id: str, reason: str, namespace: str) -> Call[ExecutionRecord]:
    request = workflow_pb2.CancelExecutionRequest(
        execution_id=execution_id, reason=reason, namespace=namespace
    )
    return Call("workflows.CancelExecution", request, lambda r: execution_from_proto(r.execution))


def signal_execution(
    execution_id: str, name: str, payload: Any, request_id: str, namespace: str
) -> Call[ExecutionRecord]:
    """A signal is stored once per request id, so one is made up when the caller gives none:
    the call can then be sent again after UNAVAILABLE without storing the signal twice."""
    _carried(payload, "payload", "payload is not a JSON value the API carries")
    request_id = request_id or f"client-{uuid.uuid4().hex}"
    request = workflow_pb2.SignalExecutionRequest(
        execution_id=execution_id,
        name=name,
        payload=to_value(payload),
        request_id=request_id,
        namespace=namespace,
    )
    return Call(
        "workflows.SignalExecution",
        request,
        lambda r: execution_from_proto(r.execution),
        request_id=request_id,
    )


def pause_execution(execution_id: str, reason: str, namespace: str) -> Call[ExecutionRecord]:
    request = workflow_pb2.PauseExecutionRequest(
        execution_id=execution_id, reason=reason, namespace=namespace
    )
    return Call("workflows.PauseExecution", request, lambda r: execution_from_proto(r.execution))


def resume_execution(execution_id: str, reason: str, namespace: str) -> Call[ExecutionRecord]:
    request = workflow_pb2.ResumeExecutionRequest(
        execution_id=execution_id, reason=reason, namespace=namespace
    )
    return Call("workflows.ResumeExecution", request, lambda r: execution_from_proto(r.execution))


def retry_execution(execution_id: str, request_id: str, namespace: str) -> Call[ExecutionRecord]:
    """A retry is made once per request id, so one is made up when the caller gives none: the
    call can then be sent again after UNAVAILABLE without being refused as a second retry."""
    request_id = request_id or f"client-{uuid.uuid4().hex}"
    request = workflow_pb2.RetryExecutionRequest(
        execution_id=execution_id, request_id=request_id, namespace=namespace
    )
    return Call(
        "workflows.RetryExecution",
        request,
        lambda r: execution_from_proto(r.execution),
        request_id=request_id,
    )


def modify_execution(
    execution_id: str,
    operations: Sequence[Operation],
    reason: str,
    request_id: str,
    namespace: str,
) -> Call[ExecutionRecord]:
    """A batch is applied once per request id, so one is made up when the caller gives none:
    the call can then be sent again after UNAVAILABLE without applying the batch twice."""
    for i, op in enumerate(operations):
        at = f"operations[{i}].{ONEOF_FIELDS[op.kind]}"
        if op.kind is OperationKind.SET_VALUE:
            _carried(op.value, f"{at}.value", "value is not a JSON value the API carries")
        elif op.kind in (OperationKind.ADD_TASK, OperationKind.UPDATE_TASK):
            _carried(op.input, f"{at}.input", "input is not a JSON value the API carries")
    request_id = request_id or f"client-{uuid.uuid4().hex}"
    request = workflow_pb2.ModifyExecutionRequest(
        execution_id=execution_id,
        operations=[operation_to_proto(op) for op in operations],
        reason=reason,
        request_id=request_id,
        namespace=namespace,
    )
    return Call(
        "workflows.ModifyExecution",
        request,
        lambda r: execution_from_proto(r.execution),
        request_id=request_id,
    )


def read_value_request(
    execution_id: str, part: ValuePart, task_id: str, offset: int, namespace: str
) -> workflow_pb2.ReadExecutionValueRequest:
    return workflow_pb2.ReadExecutionValueRequest(
        execution_id=execution_id,
        part=VALUE_PARTS.to_proto(part),
        task_id=task_id,
        read_offset=offset,
        namespace=namespace,
    )


def decode_value(data: bytes) -> Any:
    """A value ReadExecutionValue streamed (compact JSON; stores from before the value domain
    may hold NaN, which Python's JSON reader accepts)."""
    return json.loads(data.decode("utf-8"))


# A value of an execution as ReadExecutionValue names it: the part, and the task for an output.
ValueKey = tuple[ValuePart, str]


def omitted_parts(record: ExecutionRecord) -> list[ValueKey]:
    """The values a response left out of `record`, as ReadExecutionValue names them."""
    parts: list[ValueKey] = []
    if record.inputs_omitted is not None:
        parts.append((ValuePart.INPUTS, ""))
    if record.outputs_omitted is not None:
        parts.append((ValuePart.OUTPUTS, ""))
    parts += [(ValuePart.TASK_OUTPUT, t.task_id) for t in record.tasks.values() if t.output_omitted]
    return parts


def with_values(
    record: ExecutionRecord, values: dict[tuple[ValuePart, str], Any]
) -> ExecutionRecord:
    """`record` with the values read for its omitted parts put back."""
    filled = dataclasses.replace(record, tasks=dict(record.tasks))
    for (part, task_id), value in values.items():
        if part is ValuePart.INPUTS:
            filled.inputs, filled.inputs_omitted = value, None
        elif part is ValuePart.OUTPUTS:
            filled.outputs, filled.outputs_omitted = value, None
        else:
            task = filled.tasks[task_id]
            filled.tasks[task_id] = dataclasses.replace(task, output=value, output_omitted=None)
    return filled


def watch_request(
    execution_id: str, from_sequence: int, namespace: str
) -> workflow_pb2.WatchExecutionRequest:
    return workflow_pb2.WatchExecutionRequest(
        execution_id=execution_id, from_sequence=from_sequence, namespace=namespace
    )


# -- resource pools, cluster, quotas ----------------------------------------------------------


def list_schedulers() -> Call[list[SchedulerInfo]]:
    return Call(
        "schedulers.ListSchedulers",
        scheduler_pb2.ListSchedulersRequest(),
        lambda r: [scheduler_from_proto(s) for s in r.schedulers],
    )


def plan(
    problem_json: str,
    scheduler: str,
    time_limit_s: float | None,
    seed: int,
    workers: int,
    namespace: str,
    adopt: bool,
) -> Call[PlanResult]:
    request = scheduler_pb2.PlanRequest(
        problem_json=problem_json,
        scheduler=scheduler,
        seed=seed,
        workers=workers,
        namespace=namespace,
        adopt=adopt,
    )
    if time_limit_s is not None:
        request.time_limit.CopyFrom(duration(time_limit_s))
    limit = PLAN_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    return Call("schedulers.Plan", request, plan_from_proto, extra_s=limit)
