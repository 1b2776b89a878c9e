"""External agents through a real control plane on real Ray: a real HTTP service on localhost
(answering at once, with 202 and polling, failing half its calls, refusing a request, never
answering) and the Node.js sample agent over gRPC, deployed by endpoint and run through
workflows, with retries and cancellation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from controlplane.api.codec.wellknown import from_value, struct_to_dict
from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc
from controlplane.cli.main import main
from tests.integration.conftest import eventually
from tests.support.http_agent_service import HttpAgentService
from tests.support.node_agent import NodeAgent
from tests.support.server_thread import ServerThread

# Tasks the async agent's jobs wait for: each job answers "running" until this many were
# submitted, which a replica with one slot can only do if waiting jobs do not hold it.
ASYNC_FAN = 3

Status = workflow_pb2.ExecutionStatus


@pytest.fixture(scope="module")
def service() -> Iterator[HttpAgentService]:
    server = HttpAgentService(release_async_after=ASYNC_FAN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node() -> Iterator[NodeAgent]:
    agent = NodeAgent()
    yield agent
    agent.stop()


@pytest.fixture(scope="module")
def agents(channel: grpc.Channel) -> agent_pb2_grpc.AgentServiceStub:
    return agent_pb2_grpc.AgentServiceStub(channel)


@pytest.fixture(scope="module")
def workflows(channel: grpc.Channel) -> wf_grpc.WorkflowServiceStub:
    return wf_grpc.WorkflowServiceStub(channel)


def deploy(
    stub: agent_pb2_grpc.AgentServiceStub,
    name: str,
    endpoint: str,
    max_concurrency: int = 4,
    fast_polls: bool = True,
) -> agent_pb2.Agent:
    options = agent_pb2.EndpointOptions(headers={"X-Team": "search"})
    if fast_polls:
        options.poll_interval.CopyFrom(duration_pb2.Duration(nanos=50_000_000))
        options.max_poll_interval.CopyFrom(duration_pb2.Duration(nanos=200_000_000))
    spec = agent_pb2.AgentSpec(
        name=name,
        version="v1",
        endpoint=endpoint,
        endpoint_options=options,
        replicas=1,
        max_concurrency=max_concurrency,
    )
    return stub.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=120).agent


@pytest.fixture(scope="module")
def words(agents: agent_pb2_grpc.AgentServiceStub, node: NodeAgent) -> str:
    """The Node.js agent, deployed as `agents deploy --endpoint ... --header X-Team=search
    --max-concurrency 4` does it (so that either deploy is a no-op after the other)."""
    deploy(agents, "words", node.endpoint, fast_polls=False)
    return "words"


@pytest.fixture(scope="module")
def http_agent(agents: agent_pb2_grpc.AgentServiceStub, service: HttpAgentService) -> str:
    deploy(agents, "http-agent", service.url("any"))
    return "http-agent"


def run(
    stub: wf_grpc.WorkflowServiceStub, definition: str, inputs: dict[str, Any] | None = None
) -> workflow_pb2.Execution:
    """Creates the workflow, runs it to its end, and returns the finished execution."""
    created = stub.CreateWorkflow(
        workflow_pb2.CreateWorkflowRequest(definition=definition), timeout=10
    )
    execution_id = start(stub, created.workflow.name, inputs)
    for _ in stub.WatchExecution(
        workflow_pb2.WatchExecutionRequest(execution_id=execution_id), timeout=120
    ):
        pass
    return get(stub, execution_id)


def start(stub: wf_grpc.WorkflowServiceStub, workflow: str, inputs: dict[str, Any] | None) -> str:
    values = struct_pb2.Struct()
    values.update(inputs or {})
    started = stub.StartExecution(
        workflow_pb2.StartExecutionRequest(workflow=workflow, inputs=values), timeout=10
    )
    return str(started.execution.execution_id)


def get(stub: wf_grpc.WorkflowServiceStub, execution_id: str) -> workflow_pb2.Execution:
    return stub.GetExecution(
        workflow_pb2.GetExecutionRequest(execution_id=execution_id), timeout=10
    ).execution


def violations(error: grpc.RpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "error carries no google.rpc.Status"
    found = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found += [v.field for v in bad.field_violations]
    return found


def output(execution: workflow_pb2.Execution, task_id: str) -> Any:
    task = next(t for t in execution.tasks if t.task_id == task_id)
    return from_value(task.output)


def test_an_http_agent_runs_a_workflow_task(
    workflows: wf_grpc.WorkflowServiceStub, http_agent: str, agents: Any
) -> None:
    view = agents.GetAgent(agent_pb2.GetAgentRequest(name=http_agent), timeout=10).agent
    assert view.spec.endpoint.endswith("/any") and view.spec.endpoint_options.headers == {
        "X-Team": "search"
    }
    assert [r.state for r in view.replicas] == [agent_pb2.REPLICA_STATE_READY]
    execution = run(
        workflows,
        f"""
name: http-echo
inputs: {{text: {{type: string}}}}
tasks:
  - {{id: echo, agent: {http_agent}, timeout: 30s, input: {{text: "${{inputs.text}}"}}}}
outputs: {{echo: "${{tasks.echo.output}}"}}
""",
        {"text": "hello"},
    )
    assert execution.status == Status.EXECUTION_STATUS_SUCCEEDED, execution.error
    echoed = output(execution, "echo")
    assert echoed["input"] == {"text": "hello"}
    context = echoed["context"]
    request_id = f"{execution.execution_id}/echo/1"
    assert (context["task_id"], context["attempt"], context["agent_version"]) == ("echo", 1, "v1")
    assert context["request_id"] == request_id
    assert context["deadline"].endswith("Z")
    assert echoed["headers"] == {
        "X-Execution-ID": execution.execution_id,
        "X-Task-ID": "echo",
        "X-Attempt": "1",
        "X-Request-ID": request_id,
        "X-Team": "search",
    }


def test_202_jobs_wait_without_holding_the_only_replica_slot(
    agents: agent_pb2_grpc.AgentServiceStub,
    workflows: wf_grpc.WorkflowServiceStub,
    service: HttpAgentService,
) -> None:
    deploy(agents, "http-one-slot", service.url("any"), max_concurrency=1)
    tasks = "\n".join(
        f"  - {{id: job{i}, agent: http-one-slot, timeout: 60s, input: {{mode: async, n: {i}}}}}"
        for i in range(ASYNC_FAN)
    )
    execution = run(workflows, f"name: http-async\ntasks:\n{tasks}\n")
    assert execution.status == Status.EXECUTION_STATUS_SUCCEEDED, execution.error
    for i in range(ASYNC_FAN):
        assert output(execution, f"job{i}")["input"] == {"mode": "async", "n": i}
    polls = service.find(lambda c: c.method == "GET" and "/any/jobs/" in c.path)
    assert len(polls) >= ASYNC_FAN


def test_a_service_failing_half_its_calls_is_retried_after_its_retry_after(
    workflows: wf_grpc.WorkflowServiceStub, http_agent: str
) -> None:
    tasks = "\n".join(
        f"  - {{id: t{i}, agent: {http_agent}, input: {{mode: flaky, n: {i}}},"
        " retry: {max_attempts: 4, initial_interval: 100ms}}"
        for i in range(4)
    )
    execution = run(workflows, f"name: http-flaky\ntasks:\n{tasks}\n")
    assert execution.status == Status.EXECUTION_STATUS_SUCCEEDED, execution.error
    attempts = [a for t in execution.tasks for a in t.attempts]
    failed = [a for a in attempts if a.status == workflow_pb2.ATTEMPT_STATUS_FAILED]
    assert failed, "the service fails every other call"
    assert {a.error.type for a in failed} == {"HttpServerError"}
    assert all("HTTP 503" in a.error.message and "Overloaded" in a.error.message for a in failed)
    # Retry-After: 1 lengthens the policy's 100 ms wait.
    events = list(
        workflows.WatchExecution(
            workflow_pb2.WatchExecutionRequest(execution_id=execution.execution_id), timeout=30
        )
    )
    delays = [e.event.details["delay_s"] for e in events if e.event.type == "TASK_RETRYING"]
    assert delays and set(delays) == {1.0}


def test_a_400_fails_the_task_without_a_retry(
    workflows: wf_grpc.WorkflowServiceStub, http_agent: str
) -> None:
    execution = run(
        workflows,
        f"""
name: http-bad
tasks:
  - {{id: bad, agent: {http_agent}, input: {{mode: bad}}, retry: {{max_attempts: 5}}}}
""",
    )
    assert execution.status == Status.EXECUTION_STATUS_FAILED
    (task,) = execution.tasks
    assert len(task.attempts) == 1
    assert task.error.type == "HttpClientError"
    assert task.error.message.endswith("/any/execute: BadInput: input.text is required")


@pytest.mark.parametrize("mode", ["slow", "forever"])
def test_cancel_reaches_the_services_cancel_endpoint(
    workflows: wf_grpc.WorkflowServiceStub,
    http_agent: str,
    service: HttpAgentService,
    mode: str,
) -> None:
    """`slow` is cancelled while its request is open, `forever` while its 202 job is polled."""
    name = f"http-cancel-{mode}"
    workflows.CreateWorkflow(
        workflow_pb2.CreateWorkflowRequest(
            definition=f"name: {name}\ntasks:\n"
            f"  - {{id: wait, agent: {http_agent}, input: {{mode: {mode}}}}}\n"
        ),
        timeout=10,
    )
    execution_id = start(workflows, name, None)
    request_id = f"{execution_id}/wait/1"

    def executing() -> bool:
        asked = service.find(
            lambda c: c.path == "/any/execute" and c.headers.get("X-Request-ID") == request_id
        )
        polled = service.find(
            lambda c: "/any/jobs/" in c.path and c.headers.get("X-Request-ID") == request_id
        )
        return bool(asked) and (mode == "slow" or bool(polled))

    eventually(executing)
    reply = workflows.CancelExecution(
        workflow_pb2.CancelExecutionRequest(execution_id=execution_id, reason="test"), timeout=10
    )
    assert reply.execution.status == Status.EXECUTION_STATUS_CANCELLED

    def cancelled() -> list[Any]:
        return service.find(
            lambda c: c.path == "/any/cancel" and c.headers.get("X-Request-ID") == request_id
        )

    (call,) = eventually(cancelled)
    assert call.body == {"execution_id": execution_id, "task_id": "wait", "attempt": 1}


def test_the_node_agent_runs_workflows_over_grpc(
    server: ServerThread,
    workflows: wf_grpc.WorkflowServiceStub,
    node: NodeAgent,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    code = main(
        ["--address", server.address, "--timeout", "120", "--output", "json",
         "agents", "deploy", "--name", "words", "--version", "v1",
         "--endpoint", node.endpoint, "--header", "X-Team=search", "--max-concurrency", "4"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    deployed = json.loads(out)
    assert deployed["spec"]["endpoint"] == node.endpoint
    assert deployed["spec"]["endpoint_options"]["headers"] == {"X-Team": "search"}
    assert deployed["replicas"][0]["state"] == "READY"
    execution = run(
        workflows,
        """
name: node-words
inputs: {text: {type: string}}
tasks:
  - {id: count, agent: words, input: {text: "${inputs.text}"}}
  - id: flaky
    agent: words
    input: {text: "again and again", fail_attempts: 1}
    retry: {max_attempts: 3, initial_interval: 100ms}
outputs: {count: "${tasks.count.output}", flaky: "${tasks.flaky.output.words}"}
""",
        {"text": "the quick brown fox"},
    )
    assert execution.status == Status.EXECUTION_STATUS_SUCCEEDED, execution.error
    outputs = struct_to_dict(execution.outputs)
    assert outputs["count"] == {"words": 4, "characters": 19, "longest": "quick"}
    assert outputs["flaky"] == 3
    flaky = next(t for t in execution.tasks if t.task_id == "flaky")
    assert [a.status for a in flaky.attempts] == [
        workflow_pb2.ATTEMPT_STATUS_FAILED,
        workflow_pb2.ATTEMPT_STATUS_SUCCEEDED,
    ]
    assert flaky.attempts[0].error.type == "TransientFailure"
    assert node.find("execute", request_id=f"{execution.execution_id}/flaky/2")


def test_the_node_agent_refuses_bad_input_for_good_and_hears_cancel(
    workflows: wf_grpc.WorkflowServiceStub, node: NodeAgent, words: str
) -> None:
    refused = run(
        workflows,
        "name: node-bad\ntasks:\n"
        "  - {id: count, agent: words, input: {number: 3}, retry: {max_attempts: 4}}\n",
    )
    assert refused.status == Status.EXECUTION_STATUS_FAILED
    (task,) = refused.tasks
    assert len(task.attempts) == 1
    assert task.error.type == "GrpcInvalidArgument"
    assert "input.text must be a string" in task.error.message

    workflows.CreateWorkflow(
        workflow_pb2.CreateWorkflowRequest(
            definition="name: node-long\ntasks:\n"
            "  - {id: count, agent: words, input: {text: long job, delay_ms: 600000}}\n"
        ),
        timeout=10,
    )
    execution_id = start(workflows, "node-long", None)
    request_id = f"{execution_id}/count/1"
    eventually(lambda: node.find("execute", request_id=request_id))
    reply = workflows.CancelExecution(
        workflow_pb2.CancelExecutionRequest(execution_id=execution_id, reason="test"), timeout=10
    )
    assert reply.execution.status == Status.EXECUTION_STATUS_CANCELLED
    (heard,) = eventually(lambda: node.find("cancel", request_id=request_id))
    assert heard["was_running"] is True


def test_a_header_from_a_variable_the_replica_lacks_fails_the_deploy_at_once(
    agents: agent_pb2_grpc.AgentServiceStub, service: HttpAgentService
) -> None:
    spec = agent_pb2.AgentSpec(
        name="no-token",
        version="v1",
        endpoint=service.url("any"),
        endpoint_options=agent_pb2.EndpointOptions(
            headers_from_env={"Authorization": "NO_SUCH_TOKEN_VARIABLE"}
        ),
        replicas=1,
    )
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        agents.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=120)
    assert time.monotonic() - started < 30
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (refused.value.details() or "").startswith(
        "agent 'no-token' failed to start: MissingEnvironment: environment variable "
        "NO_SUCH_TOKEN_VARIABLE (endpoint_options.headers_from_env[Authorization]) is not set"
    ), refused.value.details()


def test_a_deploy_with_both_or_neither_is_refused_naming_the_field(
    agents: agent_pb2_grpc.AgentServiceStub,
) -> None:
    for fields, path in [
        ({"import_path": "samples.agents:EchoAgent", "endpoint": "http://h:1"}, "agent.endpoint"),
        ({}, "agent.import_path"),
        ({"endpoint": "ftp://h:1"}, "agent.endpoint"),
    ]:
        spec = agent_pb2.AgentSpec(name="neither", version="v1", replicas=1, **fields)
        with pytest.raises(grpc.RpcError) as refused:
            agents.DeployAgent(agent_pb2.DeployAgentRequest(agent=spec), timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert path in violations(refused.value)
