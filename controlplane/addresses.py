"""Host names, ports and `HOST:PORT` addresses, checked before anything binds or connects: a
typo is refused with what is wrong instead of surfacing later as a failed bind or a lookup
error (pure: standard library only)."""

from __future__ import annotations

import ipaddress
import re

MAX_PORT = 65535
# A DNS label (letters, digits, '-'; '_' too, which container networks use), at most 63
# characters, not starting or ending with '-'.
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_MAX_HOST_NAME = 253
# gRPC target schemes passed through untouched (gRPC resolves and checks them itself).
GRPC_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:")


def host_problem(host: str) -> str | None:
    """What is wrong with `host` (a DNS name, an IPv4 address or an IPv6 address in
    brackets such as `[::1]`), or None when it is well formed."""
    if not host:
        return "the host is empty"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        return None
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not a host name or an IP address"
        return f"write an IPv6 address in brackets: [{host}]"
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not an IPv4 address"
        return None
    name = host.removesuffix(".")
    if len(name) > _MAX_HOST_NAME or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        return f"{host!r} is not a host name or an IP address"
    return None


def port_problem(port: int, allow_zero: bool = False) -> str | None:
    low = 0 if allow_zero else 1
    if not low <= port <= MAX_PORT:
        return f"port must be between {low} and {MAX_PORT}, got {port}"
    return None


def split_host_port(text: str) -> tuple[str, int]:
    """`localhost:50051`, `10.0.0.5:6379` or `[::1]:50051` -> (host, port); ValueError says
    what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"expected HOST:PORT (e.g. localhost:50051), got {text!r}")
    if not port_text.isdigit():
        raise ValueError(f"the port of {text!r} is not a number")
    port = int(port_text)
    problem = host_problem(host) or port_problem(port)
    if problem is not None:
        raise ValueError(f"{problem} in {text!r}")
    return host, port


def check_target(text: str) -> str:
    """A control plane address for a gRPC client: `HOST:PORT`, or a target with a gRPC scheme
    (`unix:/run/orchestrator.sock`, `dns:///host:port`) passed as it is."""
    if text.startswith(GRPC_SCHEMES):
        return text
    split_host_port(text)
    return text


def check_ray_address(text: str) -> str:
    """A Ray cluster to join: `auto`, `local`, `HOST:PORT` (the head's GCS) or
    `ray://HOST[:PORT]` (Ray Client)."""
    if text in ("auto", "local"):
        return text
    if text.startswith("ray://"):
        rest = text.removeprefix("ray://")
        host = rest
        if rest.rpartition(":")[2].isdigit() and not rest.endswith("]"):
            host, _ = split_host_port(rest)
        problem = host_problem(host)
        if problem is not None:
            raise ValueError(f"{problem} in {text!r}")
        return text
    try:
        split_host_port(text)
    except ValueError as exc:
        raise ValueError(f"{exc} (or use 'auto' or ray://HOST:PORT)") from None
    return text
