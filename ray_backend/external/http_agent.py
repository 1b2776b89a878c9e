"""The proxy agent of an `http://` or `https://` endpoint (the contract is in the README,
"External agents"): `POST /execute`, `202` answers polled at their `status_url`, `GET /health`,
`POST /cancel`.

Ray runs each concurrency group of an async actor on its own event loop, and an aiohttp
ClientSession belongs to one loop: the proxy keeps one pooled client per loop it is called on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from models.agents import EndpointOptions
from ray_backend.external.errors import (
    HTTP_CONNECTION_ERROR,
    HTTP_INVALID_RESPONSE,
    HTTP_TIMEOUT,
    ExternalAgentError,
    Pending,
    http_status_error,
    parse_retry_after,
    reported_error,
)
from ray_backend.external.wire import attempt_headers, configured_headers, wire_context

logger = logging.getLogger(__name__)

# Larger bodies are refused; an output is at most 2 MiB once stored anyway.
MAX_BODY_BYTES = 8 << 20
HEALTH_TIMEOUT_S = 5.0
CANCEL_TIMEOUT_S = 5.0
# Polls of a status_url in a row that fail in a retryable way before the attempt fails.
MAX_POLL_FAILURES = 5
RUNNING_STATUSES = frozenset({"pending", "queued", "running"})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None

    def json(self, call: str) -> dict[str, Any]:
        """The body as a JSON object, or the contract broken (not retried)."""
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise invalid(call, self.status, f"the body is not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise invalid(call, self.status, "the body is not a JSON object")
        return data

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def invalid(call: str, status: int, why: str) -> ExternalAgentError:
    return ExternalAgentError(
        HTTP_INVALID_RESPONSE, f"HTTP {status} from {call}: {why}", retryable=False
    )


class HttpAgent:
    """Calls one HTTP agent; `options` are the fields of `EndpointOptions`."""

    def __init__(self, endpoint: str, options: dict[str, Any]) -> None:
        self._base = endpoint.rstrip("/")
        self._options = EndpointOptions(**options)
        self._headers = configured_headers(self._options)
        self._timeout = aiohttp.ClientTimeout(
            sock_connect=self._options.connect_timeout_s, sock_read=self._options.read_timeout_s
        )
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.closed:
            client = aiohttp.ClientSession(
                timeout=self._timeout,
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
            )
            self._clients[loop] = client
        return client

    async def _call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Answer:
        """One request; a failure to get a whole answer is a retryable error."""
        call = f"{method} {url}"
        try:
            async with self._client().request(
                method, url, json=body, headers=headers, timeout=timeout or self._timeout
            ) as response:
                data = await _read_bounded(response, call)
                return Answer(response.status, data, response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise ExternalAgentError(
                HTTP_TIMEOUT, f"no answer to {call} in time ({type(exc).__name__})"
            ) from None
        except aiohttp.ClientError as exc:
            raise ExternalAgentError(
                HTTP_CONNECTION_ERROR, f"{call} failed: {type(exc).__name__}: {exc}"
            ) from None

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        url = f"{self._base}/execute"
        call = f"POST {url}"
        answer = await self._call(
            "POST",
            url,
            body={"input": input, "context": wire_context(context)},
            headers=attempt_headers(context),
        )
        if answer.status == 202:
            status_url = answer.json(call).get("status_url")
            if not isinstance(status_url, str) or not status_url:
                raise invalid(call, 202, "a 202 answer needs a 'status_url' string")
            absolute = urljoin(url, status_url)
            if urlsplit(absolute).scheme not in ("http", "https"):
                raise invalid(call, 202, f"status_url {status_url[:200]!r} is not http(s)")
            return Pending(
                {"status_url": absolute, "retry_after_s": parse_retry_after(answer.retry_after)}
            )
        if 200 <= answer.status < 300:
            data = answer.json(call)
            if "output" not in data:
                raise invalid(call, answer.status, "a success answer needs an 'output' field")
            return data["output"]
        raise http_status_error(answer.status, call, answer.text(), answer.retry_after)

    async def wait(self, token: dict[str, Any], context: dict[str, Any]) -> Any:
        """Polls the status_url of a 202 answer, with backoff, until the attempt ends."""
        url = str(token["status_url"])
        call = f"GET {url}"
        options = self._options
        hinted = token.get("retry_after_s")
        delay = options.poll_interval_s
        next_wait = float(hinted) if hinted is not None else delay
        failures = 0
        while True:
            await asyncio.sleep(next_wait)
            delay = min(delay * 2, options.max_poll_interval_s)
            next_wait = delay
            try:
                answer = await self._call("GET", url, headers=attempt_headers(context))
            except ExternalAgentError:
                failures += 1
                if failures >= MAX_POLL_FAILURES:
                    raise
                continue
            hint = parse_retry_after(answer.retry_after)
            if hint is not None:
                next_wait = hint
            if answer.status == 202:
                failures = 0
                continue
            if not 200 <= answer.status < 300:
                error = http_status_error(answer.status, call, answer.text(), answer.retry_after)
                failures += 1
                if not error.retryable or failures >= MAX_POLL_FAILURES:
                    raise error
                continue
            failures = 0
            data = answer.json(call)
            status = data.get("status")
            if status == "succeeded":
                return data.get("output")
            if status == "failed":
                raise reported_error(data.get("error"), call)
            if status in RUNNING_STATUSES:
                # A running answer is a heartbeat; its `details` (an object) the progress.
                details = data.get("details")
                beat = getattr(context, "heartbeat", None)
                if beat is not None:
                    beat(details if isinstance(details, dict) else None)
                continue
            raise invalid(
                call,
                answer.status,
                f"'status' is {status!r}; expected succeeded, failed, running, queued or pending",
            )

    async def health(self) -> dict[str, Any]:
        url = f"{self._base}/health"
        timeout = aiohttp.ClientTimeout(
            total=HEALTH_TIMEOUT_S, sock_connect=self._options.connect_timeout_s
        )
        try:
            answer = await self._call("GET", url, timeout=timeout)
        except ExternalAgentError as exc:
            return {"ok": False, "error": f"{exc.error_type}: {exc.message}"}
        if answer.status != 200:
            return {"ok": False, "error": f"GET {url} answered HTTP {answer.status}"}
        try:
            data = answer.json(f"GET {url}")
        except ExternalAgentError as exc:
            return {"ok": False, "error": exc.message}
        if data.get("ok") is not True:
            return {"ok": False, "error": f"GET {url} answered {json.dumps(data)[:300]}"}
        return {"ok": True}

    async def cancel(self, context: dict[str, Any]) -> None:
        """Tells the service the attempt is cancelled; best effort, bounded."""
        url = f"{self._base}/cancel"
        body = {
            "execution_id": context.get("execution_id", ""),
            "task_id": context.get("task_id", ""),
            "attempt": context.get("attempt", 0),
        }
        timeout = aiohttp.ClientTimeout(
            total=CANCEL_TIMEOUT_S, sock_connect=self._options.connect_timeout_s
        )
        try:
            answer = await self._call(
                "POST", url, body=body, headers=attempt_headers(context), timeout=timeout
            )
        except ExternalAgentError as exc:
            logger.warning("could not cancel attempt at %s: %s", url, exc.message)
            return
        if not 200 <= answer.status < 300:
            logger.warning("POST %s answered HTTP %s", url, answer.status)


async def _read_bounded(response: aiohttp.ClientResponse, call: str) -> bytes:
    if (response.content_length or 0) > MAX_BODY_BYTES:
        raise invalid(call, response.status, f"the body is over {MAX_BODY_BYTES >> 20} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise invalid(call, response.status, f"the body is over {MAX_BODY_BYTES >> 20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)
