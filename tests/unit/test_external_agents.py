"""External agents without a network: how failures are classified, Retry-After, the context
and headers of an attempt, which endpoints and options a deploy accepts, and how specs are
stored."""

from __future__ import annotations

import email.utils

import grpc
import pytest

from controlplane.engine.agents.registry import validate_spec
from controlplane.store.codec import dump_agent_spec, load_agent_spec
from models.agents import AgentSpec, EndpointOptions
from models.workflows import RetryPolicy
from ray_backend.external import errors
from ray_backend.external.grpc_agent import NOT_RETRYABLE, status_error_type
from ray_backend.external.proxy import GRPC_PROXY, HTTP_PROXY, replica_target
from ray_backend.external.wire import attempt_headers, request_id, rfc3339, wire_context
from ray_backend.replica_set import spec_hash

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, "HttpClientError", False),
        (401, "HttpClientError", False),
        (404, "HttpClientError", False),
        (409, "HttpClientError", False),
        (422, "HttpClientError", False),
        (408, "HttpRequestTimeout", True),
        (429, "HttpTooManyRequests", True),
        (500, "HttpServerError", True),
        (502, "HttpServerError", True),
        (503, "HttpServerError", True),
        (504, "HttpServerError", True),
    ],
)
def test_http_statuses_are_classified(status: int, error_type: str, retryable: bool) -> None:
    error = errors.http_status_error(status, "POST http://a/execute", "oops", "7")
    assert (error.error_type, error.retryable) == (error_type, retryable)
    assert error.message == f"HTTP {status} from POST http://a/execute: oops"
    # Retry-After only matters for an answer that is retried.
    assert error.retry_after_s == (7.0 if retryable else None)


def test_an_error_answer_is_quoted_by_its_contract_message_or_its_text() -> None:
    body = '{"error": {"type": "BadInput", "message": "input.text is required"}}'
    assert errors.body_detail(body) == "BadInput: input.text is required"
    assert errors.body_detail('{"error": {"message": "no type"}}') == "no type"
    assert errors.body_detail("<html>\n  Bad Gateway\n</html>") == "<html> Bad Gateway </html>"
    assert errors.body_detail("") == "(empty body)"
    long = errors.body_detail("x" * 5000)
    assert len(long) <= errors.BODY_EXCERPT_CHARS
    assert errors.body_detail("[" * 100_000).startswith("[[[")  # too deep for json: its text


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 5 ", 5.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # already past
        ("99999999", errors.MAX_RETRY_AFTER_S),
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00", None),  # a date without its zone
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float) -> None:
    assert errors.parse_retry_after(header, now=NOW) == seconds


def test_a_reported_failure_keeps_its_type_and_is_retryable_unless_it_says_not() -> None:
    error = errors.reported_error({"type": "Quota", "message": "used up"}, "GET x")
    assert (error.error_type, error.message, error.retryable) == ("Quota", "used up", True)
    final = errors.reported_error({"message": "bad", "retryable": False}, "GET x")
    assert (final.error_type, final.retryable) == ("AgentError", False)
    odd = errors.reported_error("boom", "GET x")
    assert odd.error_type == "AgentError" and "boom" in odd.message


def test_grpc_codes_that_say_the_request_is_wrong_are_not_retried() -> None:
    assert status_error_type(grpc.StatusCode.INVALID_ARGUMENT) == "GrpcInvalidArgument"
    assert status_error_type(grpc.StatusCode.UNAVAILABLE) == "GrpcUnavailable"
    assert grpc.StatusCode.INVALID_ARGUMENT in NOT_RETRYABLE
    for code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
    ):
        assert code not in NOT_RETRYABLE


def test_retry_after_lengthens_the_policy_delay_up_to_its_max_interval() -> None:
    policy = RetryPolicy(initial_interval_s=0.1, backoff_coefficient=2.0, max_interval_s=10.0)
    assert policy.delay_honouring(2, None) == 0.1
    assert policy.delay_honouring(2, 3.0) == 3.0
    assert policy.delay_honouring(2, 0.01) == 0.1  # never shorter than the policy's
    assert policy.delay_honouring(2, 3600.0) == 10.0
    assert policy.delay_honouring(1, 5.0) == 0.0  # the first attempt never waits


def test_the_context_and_headers_of_an_attempt() -> None:
    context = {
        "execution_id": "ex-1",
        "task_id": "fetch",
        "attempt": 2,
        "agent_version": "v3",
        "replica": "a/v3/abc/0",
        "deadline": 1_700_000_000.25,
    }
    assert request_id(context) == "ex-1/fetch/2"
    assert wire_context(context) == {
        "execution_id": "ex-1",
        "task_id": "fetch",
        "attempt": 2,
        "agent_version": "v3",
        "deadline": "2023-11-14T22:13:20.250Z",
        "request_id": "ex-1/fetch/2",
        "last_heartbeat": None,
    }
    assert attempt_headers(context) == {
        "X-Execution-ID": "ex-1",
        "X-Task-ID": "fetch",
        "X-Attempt": "2",
        "X-Request-ID": "ex-1/fetch/2",
    }
    assert rfc3339(None) is None


def test_a_spec_with_an_endpoint_runs_the_matching_proxy() -> None:
    http = AgentSpec("a", "v1", endpoint="https://x.example/agent")
    assert replica_target(http)[0] == HTTP_PROXY
    assert replica_target(http)[1]["endpoint"] == "https://x.example/agent"
    assert replica_target(AgentSpec("a", "v1", endpoint="grpc://h:1"))[0] == GRPC_PROXY
    python = AgentSpec("a", "v1", import_path="m:C", config={"k": 1})
    assert replica_target(python) == ("m:C", {"k": 1})


def test_a_python_agent_keeps_its_replica_fingerprint() -> None:
    # Replicas started before endpoints existed are found again after an upgrade.
    assert spec_hash(AgentSpec("a", "v1", import_path="m:C")) == "aa8a0211"  # as before endpoints
    first = AgentSpec("a", "v1", endpoint="http://h:1")
    changed = AgentSpec(
        "a", "v1", endpoint="http://h:1", endpoint_options=EndpointOptions(read_timeout_s=9)
    )
    assert spec_hash(first) != spec_hash(changed)


def fields(spec: AgentSpec) -> dict[str, str]:
    return {v.field: v.description for v in validate_spec(spec)}


def test_exactly_one_of_import_path_and_endpoint() -> None:
    assert fields(AgentSpec("a", "v1", import_path="m:C")) == {}
    assert fields(AgentSpec("a", "v1", endpoint="http://127.0.0.1:8080/agent")) == {}
    assert fields(AgentSpec("a", "v1", endpoint="grpc://127.0.0.1:50051")) == {}
    assert "agent.import_path" in fields(AgentSpec("a", "v1"))
    both = fields(AgentSpec("a", "v1", import_path="m:C", endpoint="http://h:1"))
    assert both == {"agent.endpoint": "give either import_path or endpoint, not both"}


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("ftp://h/x", "must start with one of http://, https://, grpc://"),
        ("127.0.0.1:8080", "must start with one of"),
        ("http://", "must name a host"),
        ("http://user:pw@h:1/x", "must not hold credentials"),
        ("http://h:1/x?q=1", "query"),
        ("grpc://h:1/path", "without a path"),
        ("grpc://h", "needs a port"),
        ("http://h:99999", "not a valid URL"),
        ("http://h:1/a b", "spaces"),
    ],
)
def test_bad_endpoints_are_refused_naming_the_field(endpoint: str, says: str) -> None:
    found = fields(AgentSpec("a", "v1", endpoint=endpoint))
    assert says in found.get("agent.endpoint", ""), found


def test_endpoint_options_are_checked() -> None:
    options = EndpointOptions(
        headers={"X-Request-ID": "mine", "Bad Name": "v", "X-Ok": "line\nbreak"},
        headers_from_env={"Authorization": "1TOKEN"},
        connect_timeout_s=0.0,
        read_timeout_s=float("inf"),
        poll_interval_s=20.0,
    )
    found = fields(AgentSpec("a", "v1", endpoint="http://h:1", endpoint_options=options))
    assert set(found) == {
        "agent.endpoint_options.headers[X-Request-ID]",
        "agent.endpoint_options.headers[Bad Name]",
        "agent.endpoint_options.headers[X-Ok]",
        "agent.endpoint_options.headers_from_env[Authorization]",
        "agent.endpoint_options.connect_timeout",
        "agent.endpoint_options.read_timeout",
        "agent.endpoint_options.poll_interval",
    }
    assert found["agent.endpoint_options.headers[X-Request-ID]"] == "is set by the proxy itself"
    python = AgentSpec("a", "v1", import_path="m:C", endpoint_options=options)
    assert "agent.endpoint_options" in fields(python)
    with_config = AgentSpec("a", "v1", endpoint="http://h:1", config={"k": 1})
    assert "agent.config" in fields(with_config)


def test_stored_specs_round_trip_and_older_rows_read_as_python_agents() -> None:
    external = AgentSpec(
        "a",
        "v1",
        endpoint="http://h:1/x",
        endpoint_options=EndpointOptions(headers={"X-A": "1"}, read_timeout_s=9.0),
    )
    assert load_agent_spec(dump_agent_spec(external)) == external
    older = (
        '{"name": "a", "version": "v1", "import_path": "m:C", "replicas": 1,'
        ' "resources": {"num_cpus": 0.0, "memory": 0, "num_gpus": 0.0, "custom": {}},'
        ' "max_concurrency": 1, "capabilities": [], "runtime_env": {}, "config": {},'
        ' "pool": ""}'
    )
    assert load_agent_spec(older) == AgentSpec("a", "v1", import_path="m:C")
