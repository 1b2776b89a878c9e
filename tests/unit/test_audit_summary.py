"""What an audit record keeps of a request: secrets redacted wherever they are, large values
cut, the whole summary bounded; the namespace and resource it names."""

from __future__ import annotations

import json
import math

from controlplane.api.codec.wellknown import dict_to_struct, to_value
from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    resource_pb2,
    schedule_pb2,
    scheduler_pb2,
    workflow_pb2,
)
from controlplane.api.interceptors.audit_summary import (
    MAX_SUMMARY_BYTES,
    REDACTED,
    is_secret,
    namespace_of,
    resource_of,
    summarize,
)
from controlplane.api.interceptors.mutations import RPCS


def test_secret_names() -> None:
    for name in (
        "password",
        "api_key",
        "apiKey",
        "authorization",
        "headers",
        "auth_token",
        "client_secret",
        "private_key_pem",
        "AWS_SECRET_ACCESS_KEY",
        "cookie",
    ):
        assert is_secret(name), name
    for name in ("key_id", "name", "token_count", "namespace", "workflow", "keyword"):
        assert not is_secret(name), name


def test_secrets_are_redacted_at_any_depth_and_keys_of_config_and_env_vars_kept() -> None:
    request = agent_pb2.DeployAgentRequest(
        agent=agent_pb2.AgentSpec(
            name="coder",
            import_path="m:Coder",
            runtime_env=dict_to_struct(
                {"pip": ["requests"], "env_vars": {"OPENAI_API_KEY": "sk-1", "MODE": "fast"}}
            ),
            config={"model": "gpt", "nested": {"any": "sk-2"}},
            endpoint_options=agent_pb2.EndpointOptions(headers={"Authorization": "Bearer sk-3"}),
        )
    )
    text = summarize(request)
    for secret in ("sk-1", "sk-2", "sk-3", "fast", "gpt"):
        assert secret not in text
    agent = json.loads(text)["agent"]
    assert agent["runtime_env"]["env_vars"] == {"OPENAI_API_KEY": REDACTED, "MODE": REDACTED}
    assert agent["runtime_env"]["pip"] == ["requests"]
    assert agent["config"] == {"model": REDACTED, "nested": REDACTED}
    assert agent["endpoint_options"]["headers"] == REDACTED
    assert agent["name"] == "coder"


def test_secrets_inside_inputs_and_payloads_are_redacted() -> None:
    start = workflow_pb2.StartExecutionRequest(
        workflow="w", inputs=dict_to_struct({"repo": "r", "github_token": "ghp-1"})
    )
    assert json.loads(summarize(start))["inputs"] == {"repo": "r", "github_token": REDACTED}
    signal = workflow_pb2.SignalExecutionRequest(
        execution_id="e", name="approve", payload=to_value({"password": "hunter2"})
    )
    assert "hunter2" not in summarize(signal)


def test_large_values_are_cut_and_the_summary_is_bounded() -> None:
    big = workflow_pb2.StartExecutionRequest(
        workflow="w",
        inputs=dict_to_struct({"blob": "x" * 100_000, "items": list(range(5000)), "n": 1}),
    )
    text = summarize(big)
    assert len(text.encode()) <= MAX_SUMMARY_BYTES
    inputs = json.loads(text)["inputs"]
    assert inputs["blob"].endswith("... (100000 characters)")
    assert inputs["items"].endswith("bytes left out>")
    assert inputs["n"] == 1
    assert json.loads(text)["workflow"] == "w"
    many = workflow_pb2.StartExecutionRequest(
        workflow="w", inputs=dict_to_struct({f"k{i}": "v" * 100 for i in range(2000)})
    )
    assert len(summarize(many).encode()) <= MAX_SUMMARY_BYTES


def test_numbers_json_cannot_carry_and_bytes_do_not_break_a_summary() -> None:
    request = workflow_pb2.StartExecutionRequest(workflow="w")
    request.inputs.fields["x"].number_value = math.nan  # as a foreign client may send
    request.inputs.fields["y"].number_value = -math.inf
    assert json.loads(summarize(request))["inputs"] == {"x": "nan", "y": "-inf"}
    upload = agent_pb2.UploadPackageRequest(sha256="ab", data=b"\0" * 10)
    assert json.loads(summarize(upload))["data"] == "<10 bytes>"
    assert summarize(None) == "{}"


def test_namespace_at_the_top_next_to_the_resource_or_none() -> None:
    reserve = resource_pb2.ReserveRequest(pool="gpu")
    assert namespace_of(reserve, RPCS["ResourceService/Reserve"]) == "default"
    reserve.namespace = "team-a"
    assert namespace_of(reserve, RPCS["ResourceService/Reserve"]) == "team-a"
    schedule = schedule_pb2.CreateScheduleRequest(
        schedule=schedule_pb2.Schedule(name="nightly", namespace="team-b"), namespace="team-b"
    )
    assert namespace_of(schedule, RPCS["ScheduleService/CreateSchedule"]) == "team-b"
    assert resource_of(schedule, RPCS["ScheduleService/CreateSchedule"]) == "nightly"
    pool = resource_pb2.DeletePoolRequest(name="gpu")
    assert namespace_of(pool, RPCS["ResourceService/DeletePool"]) == ""
    assert resource_of(pool, RPCS["ResourceService/DeletePool"]) == "gpu"
    plan = scheduler_pb2.PlanRequest(namespace="team-c", adopt=True)
    assert resource_of(plan, RPCS["SchedulerService/Plan"]) == "team-c"


def test_a_workflow_is_named_by_its_definition() -> None:
    kind = RPCS["WorkflowService/CreateWorkflow"]
    yaml = workflow_pb2.CreateWorkflowRequest(definition="# c\nname: build-app\ntasks: []\n")
    assert resource_of(yaml, kind) == "build-app"
    as_json = workflow_pb2.CreateWorkflowRequest(definition='{"name": "deploy", "tasks": []}')
    assert resource_of(as_json, kind) == "deploy"
    assert resource_of(workflow_pb2.CreateWorkflowRequest(definition="tasks: []"), kind) == ""
