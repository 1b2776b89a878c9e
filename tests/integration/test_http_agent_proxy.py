"""The HTTP proxy agent against a real HTTP service on a localhost socket (no Ray): the
request it sends, 202 polling, error classification, health, cancel and timeouts."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ray_backend.external.errors import ExternalAgentError, Pending
from ray_backend.external.http_agent import HttpAgent
from ray_backend.external.wire import MissingEnvironment
from tests.support.http_agent_service import HttpAgentService

CONTEXT = {
    "execution_id": "ex-7",
    "task_id": "summarize",
    "attempt": 2,
    "agent_version": "v1",
    "replica": "r/v1/x/0",
    "deadline": 1_700_000_000.5,
    "last_heartbeat": {"page": 4},
}
FAST = {"poll_interval_s": 0.01, "max_poll_interval_s": 0.05}


@pytest.fixture(scope="module")
def service() -> Iterator[HttpAgentService]:
    server = HttpAgentService()
    yield server
    server.stop()


def agent(url: str, **options: Any) -> HttpAgent:
    return HttpAgent(url, {**FAST, **options})


def failure(coro: Any) -> ExternalAgentError:
    with pytest.raises(ExternalAgentError) as caught:
        asyncio.run(coro)
    return caught.value


def test_execute_sends_the_input_context_and_headers(
    service: HttpAgentService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_AGENT_TOKEN", "s3cret")
    proxy = agent(
        service.url("sync") + "/",  # a trailing slash is not doubled
        headers={"X-Team": "search"},
        headers_from_env={"X-Token": "TEST_AGENT_TOKEN"},
    )
    output = asyncio.run(proxy.execute({"text": "hi"}, CONTEXT))
    assert output["input"] == {"text": "hi"}
    assert output["context"] == {
        "execution_id": "ex-7",
        "task_id": "summarize",
        "attempt": 2,
        "agent_version": "v1",
        "deadline": "2023-11-14T22:13:20.500Z",
        "request_id": "ex-7/summarize/2",
        "last_heartbeat": {"page": 4},
    }
    assert output["headers"] == {
        "X-Execution-ID": "ex-7",
        "X-Task-ID": "summarize",
        "X-Attempt": "2",
        "X-Request-ID": "ex-7/summarize/2",
        "X-Team": "search",
        "X-Token": "s3cret",
    }
    assert service.find(lambda c: c.path == "/sync/execute")


def test_a_header_from_a_missing_variable_fails_the_start() -> None:
    with pytest.raises(MissingEnvironment, match="NO_SUCH_VARIABLE_X"):
        agent("http://127.0.0.1:1", headers_from_env={"Authorization": "NO_SUCH_VARIABLE_X"})


def test_a_202_is_polled_at_its_status_url_until_it_succeeds(service: HttpAgentService) -> None:
    proxy = agent(service.url("async"))

    async def both() -> tuple[Any, Any]:
        pending = await proxy.execute({"n": 1}, CONTEXT)
        assert isinstance(pending, Pending)
        return pending, await proxy.wait(pending.token, CONTEXT)

    pending, output = asyncio.run(both())
    # The relative status_url is resolved against the execute URL.
    assert pending.token["status_url"].startswith(service.url("async") + "/jobs/")
    assert output["input"] == {"n": 1}
    polls = service.find(lambda c: c.method == "GET" and "/async/jobs/" in c.path)
    assert polls and all(c.headers["X-Request-ID"] == "ex-7/summarize/2" for c in polls)


class BeatingContext(dict[str, Any]):
    """The replica's attempt context as the proxy sees it: a dict with `heartbeat`."""

    def __init__(self) -> None:
        super().__init__(CONTEXT)
        self.beats: list[dict[str, Any] | None] = []

    def heartbeat(self, details: dict[str, Any] | None = None) -> None:
        self.beats.append(details)


def test_running_status_answers_are_heartbeats_with_their_details() -> None:
    server = HttpAgentService(release_async_after=2)
    proxy = agent(server.url("async"))
    context = BeatingContext()

    async def poll_then_release() -> Any:
        pending = await proxy.execute({"n": 1}, CONTEXT)
        assert isinstance(pending, Pending)
        waiting = asyncio.ensure_future(proxy.wait(pending.token, context))
        while len(context.beats) < 3:
            await asyncio.sleep(0.01)
        await proxy.execute({"n": 2}, CONTEXT)  # the second job releases the first
        return await waiting

    try:
        output = asyncio.run(poll_then_release())
    finally:
        server.stop()
    assert output["input"] == {"n": 1}
    assert context.beats[:3] == [{"polls": 1}, {"polls": 2}, {"polls": 3}]


def test_a_503_is_retryable_with_its_retry_after_and_the_next_call_succeeds(
    service: HttpAgentService,
) -> None:
    proxy = agent(service.url("flaky"))
    error = failure(proxy.execute({}, CONTEXT))
    assert (error.error_type, error.retryable, error.retry_after_s) == (
        "HttpServerError",
        True,
        1.0,
    )
    assert error.message.endswith("/flaky/execute: Overloaded: try again")
    assert asyncio.run(proxy.execute({"again": True}, CONTEXT))["input"] == {"again": True}


def test_a_400_is_not_retryable_and_quotes_the_service(service: HttpAgentService) -> None:
    error = failure(agent(service.url("bad")).execute({}, CONTEXT))
    assert (error.error_type, error.retryable) == ("HttpClientError", False)
    assert error.message == (
        f"HTTP 400 from POST {service.url('bad')}/execute: BadInput: input.text is required"
    )


def test_an_unknown_path_is_a_client_error(service: HttpAgentService) -> None:
    error = failure(agent(f"http://127.0.0.1:{service.port}/a/b").execute({}, CONTEXT))
    assert (error.error_type, error.retryable) == ("HttpClientError", False)


def test_a_success_that_breaks_the_contract_is_not_retried(service: HttpAgentService) -> None:
    error = failure(agent(service.url("garbage")).execute({}, CONTEXT))
    assert (error.error_type, error.retryable) == ("HttpInvalidResponse", False)
    assert "the body is not JSON" in error.message


def test_no_service_listening_is_a_retryable_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        error = failure(agent(f"http://127.0.0.1:{port}").execute({}, CONTEXT))
    assert (error.error_type, error.retryable) == ("HttpConnectionError", True)
    assert f"POST http://127.0.0.1:{port}/execute failed" in error.message


def test_an_answer_slower_than_the_read_timeout_is_a_retryable_timeout(
    service: HttpAgentService,
) -> None:
    started = time.monotonic()
    error = failure(agent(service.url("slow"), read_timeout_s=0.3).execute({}, CONTEXT))
    assert (error.error_type, error.retryable) == ("HttpTimeout", True)
    assert time.monotonic() - started < 10


def test_health_reads_the_health_endpoint(service: HttpAgentService) -> None:
    assert asyncio.run(agent(service.url("sync")).health()) == {"ok": True}
    sick = asyncio.run(agent(service.url("sick")).health())
    assert sick["ok"] is False and "HTTP 503" in sick["error"]


def test_cancel_posts_the_attempt_to_the_cancel_endpoint(service: HttpAgentService) -> None:
    asyncio.run(agent(service.url("forever")).cancel(CONTEXT))
    (call,) = service.find(lambda c: c.path == "/forever/cancel")
    assert call.method == "POST"
    assert call.body == {"execution_id": "ex-7", "task_id": "summarize", "attempt": 2}
    assert call.headers["X-Request-ID"] == "ex-7/summarize/2"
