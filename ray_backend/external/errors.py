"""How a call to an external agent fails: the error type the attempt records, whether a retry
can help, and how long the service asked to wait (HTTP Retry-After)."""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass
from typing import Any

from models.failures import one_line

# The longest Retry-After taken at its word (an hour): a bigger one is read as this.
MAX_RETRY_AFTER_S = 3600.0
# Characters of a response body quoted in an error message.
BODY_EXCERPT_CHARS = 300

HTTP_CLIENT_ERROR = "HttpClientError"  # 4xx but 408 and 429: the request is wrong, not retried
HTTP_REQUEST_TIMEOUT = "HttpRequestTimeout"  # 408
HTTP_TOO_MANY_REQUESTS = "HttpTooManyRequests"  # 429
HTTP_SERVER_ERROR = "HttpServerError"  # 5xx
HTTP_CONNECTION_ERROR = "HttpConnectionError"  # refused, reset, DNS, TLS
HTTP_TIMEOUT = "HttpTimeout"  # no (complete) response within the read timeout
HTTP_INVALID_RESPONSE = "HttpInvalidResponse"  # a success answer that breaks the contract
AGENT_ERROR = "AgentError"  # a failure the service reports without naming a type


class ExternalAgentError(Exception):
    """An attempt on an external agent failed. `error_type` is what the attempt records (and
    what `non_retryable_errors` of a retry policy matches); `retryable` False fails the task
    whatever its policy; `retry_after_s` is the least wait before the next attempt."""

    def __init__(
        self,
        error_type: str,
        message: str,
        *,
        retryable: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Pending:
    """What an agent's `execute` returns for an attempt it runs asynchronously: the replica
    frees its slot and the attempt's outcome comes from the agent's `wait(token, context)`."""

    token: dict[str, Any]


def retryable_status(status: int) -> bool:
    """5xx, 408 and 429 can succeed later; any other 4xx will fail again as it is."""
    return status >= 500 or status in (408, 429)


def status_error_type(status: int) -> str:
    if status == 408:
        return HTTP_REQUEST_TIMEOUT
    if status == 429:
        return HTTP_TOO_MANY_REQUESTS
    return HTTP_SERVER_ERROR if status >= 500 else HTTP_CLIENT_ERROR


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds (`"120"`) or an HTTP date
    (`"Wed, 21 Oct 2015 07:28:00 GMT"`); None when absent or unreadable. A date in the past is
    0; a wait longer than `MAX_RETRY_AFTER_S` is cut to it."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def http_status_error(
    status: int, call: str, body: str, retry_after: str | None
) -> ExternalAgentError:
    """The error for an HTTP answer that is neither a success nor 202. `call` is
    `"POST http://host/execute"`; `body` the response text (its `error.message` is quoted
    when it is the contract's JSON, else its beginning)."""
    retryable = retryable_status(status)
    return ExternalAgentError(
        status_error_type(status),
        f"HTTP {status} from {call}: {body_detail(body)}",
        retryable=retryable,
        retry_after_s=parse_retry_after(retry_after) if retryable else None,
    )


def body_detail(body: str) -> str:
    """What an error answer says: its `error.message` (after `error.type`) when it is the
    contract's JSON, else the beginning of its text."""
    if not body.strip():
        return "(empty body)"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        kind = error.get("type")
        text = f"{kind}: {error['message']}" if isinstance(kind, str) and kind else error["message"]
        return one_line(text, BODY_EXCERPT_CHARS)
    return one_line(body, BODY_EXCERPT_CHARS)


def reported_error(error: Any, where: str) -> ExternalAgentError:
    """The failure a service reports in its own words (`{"type", "message", "retryable"}`);
    `retryable` defaults to true."""
    if not isinstance(error, dict):
        return ExternalAgentError(AGENT_ERROR, f"{where} reported a failure: {error!r}"[:500])
    error_type = error.get("type")
    message = error.get("message")
    retryable = error.get("retryable", True)
    return ExternalAgentError(
        one_line(error_type, 100) if isinstance(error_type, str) and error_type else AGENT_ERROR,
        one_line(message if isinstance(message, str) else repr(message), 2000),
        retryable=retryable if isinstance(retryable, bool) else True,
    )
