"""What makes an external agent's endpoint and its options acceptable (INVALID_ARGUMENT)."""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from models.agents import ENDPOINT_SCHEMES, AgentSpec, EndpointOptions

MAX_ENDPOINT_LENGTH = 2048
MAX_HEADERS = 32
MAX_HEADER_VALUE_LENGTH = 8192
# RFC 9110 token characters, lower-case only for gRPC metadata keys (checked case-insensitively).
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Set by the proxy for every call (or by the HTTP or gRPC transport itself).
RESERVED_HEADERS = frozenset(
    {
        "x-execution-id",
        "x-task-id",
        "x-attempt",
        "x-request-id",
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "host",
        "te",
        "user-agent",
    }
)


def endpoint_problems(spec: AgentSpec) -> list[tuple[str, str]]:
    """(field below the spec, why) for every problem of the spec's endpoint and its options;
    none for an agent with an import path and default options."""
    if not spec.endpoint:
        if spec.endpoint_options != EndpointOptions():
            return [("endpoint_options", "applies only to an agent with an endpoint")]
        return []
    problems = [("endpoint", why) for why in _url_problems(spec.endpoint)]
    if spec.config:
        problems.append(
            ("config", "holds constructor arguments of a Python class; an endpoint takes none")
        )
    problems.extend(_options_problems(spec.endpoint_options))
    return problems


def _url_problems(endpoint: str) -> list[str]:
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return [f"must be at most {MAX_ENDPOINT_LENGTH} characters"]
    if any(ch.isspace() or not ch.isprintable() for ch in endpoint):
        return ["must not contain spaces or control characters"]
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        return [f"is not a valid URL: {exc}"]
    schemes = ", ".join(f"{s}://" for s in ENDPOINT_SCHEMES)
    if parts.scheme not in ENDPOINT_SCHEMES:
        return [f"must start with one of {schemes} (got {endpoint[:40]!r})"]
    problems = []
    if not parts.hostname:
        problems.append("must name a host, e.g. 'http://127.0.0.1:8080'")
    if parts.username is not None or parts.password is not None:
        problems.append(
            "must not hold credentials (it is stored and shown): name an environment variable"
            " in endpoint_options.headers_from_env instead"
        )
    if parts.query or parts.fragment:
        problems.append("must not have a query or a fragment")
    if parts.scheme == "grpc":
        if parts.path not in ("", "/"):
            problems.append("a grpc:// endpoint is host:port, without a path")
        if port is None:
            problems.append("a grpc:// endpoint needs a port, e.g. 'grpc://127.0.0.1:50051'")
    return problems


def _options_problems(options: EndpointOptions) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    given = list(options.headers) + list(options.headers_from_env)
    if len(given) > MAX_HEADERS:
        problems.append(("endpoint_options.headers", f"at most {MAX_HEADERS} headers"))
    seen: set[str] = set()
    for kind, name in [("headers", n) for n in options.headers] + [
        ("headers_from_env", n) for n in options.headers_from_env
    ]:
        where = f"endpoint_options.{kind}[{name[:100]}]"
        if not HEADER_NAME_RE.match(name):
            problems.append((where, "is not a valid header name (letters, digits, '-', ...)"))
        elif name.lower() in RESERVED_HEADERS or name.lower().startswith("grpc-"):
            problems.append((where, "is set by the proxy itself"))
        elif name.lower() in seen:
            problems.append((where, "is given twice"))
        seen.add(name.lower())
    for name, value in options.headers.items():
        if len(value) > MAX_HEADER_VALUE_LENGTH or any(
            not (ch == "\t" or 32 <= ord(ch) < 127) for ch in value
        ):
            problems.append(
                (
                    f"endpoint_options.headers[{name[:100]}]",
                    f"value must be printable ASCII, at most {MAX_HEADER_VALUE_LENGTH} characters",
                )
            )
    for name, variable in options.headers_from_env.items():
        if not ENV_NAME_RE.match(variable):
            problems.append(
                (
                    f"endpoint_options.headers_from_env[{name[:100]}]",
                    f"{variable[:100]!r} is not an environment variable name",
                )
            )
    for field, seconds in (
        ("connect_timeout", options.connect_timeout_s),
        ("read_timeout", options.read_timeout_s),
        ("poll_interval", options.poll_interval_s),
        ("max_poll_interval", options.max_poll_interval_s),
    ):
        if not math.isfinite(seconds) or seconds <= 0:
            problems.append((f"endpoint_options.{field}", f"must be positive, not {seconds}"))
    if options.poll_interval_s > options.max_poll_interval_s:
        problems.append(
            ("endpoint_options.poll_interval", "must not be longer than max_poll_interval")
        )
    return problems
