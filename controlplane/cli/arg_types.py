"""argparse `type=` callables for every number, duration, port and address the CLI takes.

Each refuses text outside its range with the value and the allowed range; argparse adds the
flag and exits 2 (`argument --port: must be between 1 and 65535, got '70000'`). No float is NaN
or infinite, and no integer outgrows the protobuf field it is sent in (pure: no I/O, no heavy
imports).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from controlplane.addresses import check_ray_address, check_target, host_problem
from models.scaling_documents import MAX_REPLICAS

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# protobuf's Duration holds at most 10,000 years.
MAX_DURATION_S = 315_576_000_000.0
# The longest wait for one call; gRPC deadlines overflow (and expire at once) past ~3e9 s.
MAX_CALL_TIMEOUT_S = 86400.0
# The most recent decisions `scaling status` shows (the server's limit).
MAX_STATUS_DECISIONS = 100


def _fail(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def _whole(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise _fail(f"expected a whole number, got {text!r}") from None


def _number(text: str, within: Callable[[float], bool], allowed: str) -> float:
    """A finite number for which `within` holds; NaN and infinities are out of every range."""
    try:
        value = float(text)
    except ValueError:
        raise _fail(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or not within(value):
        raise _fail(f"must be {allowed}, got {text!r}")
    return value


def integer_between(minimum: int, maximum: int, meaning: str = "") -> Callable[[str], int]:
    """A whole number in [minimum, maximum]; `meaning` explains a special value (`0: ...`)."""
    note = f" ({meaning})" if meaning else ""
    # A maximum that is only the wire's limit is named only when it is exceeded.
    wire_limit = maximum >= INT32_MAX

    def parse(text: str) -> int:
        value = _whole(text)
        if minimum <= value <= maximum:
            return value
        if wire_limit:
            bound = f"at least {minimum}" if value < minimum else f"at most {maximum}"
        else:
            bound = f"between {minimum} and {maximum}"
        raise _fail(f"must be {bound}{note}, got {text!r}")

    return parse


port_arg = integer_between(1, 65535)
bind_port_arg = integer_between(0, 65535, "0: any free port")
count_arg = integer_between(1, INT32_MAX)  # steps, origins, workers, instances
non_negative_int = integer_between(0, INT32_MAX)
replicas_arg = integer_between(0, MAX_REPLICAS)
seed_arg = integer_between(0, INT32_MAX)
sequence_arg = integer_between(0, INT64_MAX)
priority_arg = integer_between(-INT32_MAX - 1, INT32_MAX)
decisions_arg = integer_between(1, MAX_STATUS_DECISIONS)


def non_negative_number(text: str) -> float:
    return _number(text, lambda v: v >= 0, "a finite number >= 0")


def positive_number(text: str) -> float:
    return _number(text, lambda v: v > 0, "a finite number > 0")


def fraction_arg(text: str) -> float:
    """A number strictly between 0 and 1 (an interval level, a probability)."""
    return _number(text, lambda v: 0 < v < 1, "between 0 and 1 exclusive (e.g. 0.9)")


def fraction_or_zero_arg(text: str) -> float:
    """A number in [0, 1) (a tolerance; for a level, 0 means the server's default)."""
    return _number(text, lambda v: 0 <= v < 1, ">= 0 and < 1")


def share_arg(text: str) -> float:
    """A number in [0, 1] (a share of attempts; 0 turns the check off)."""
    return _number(text, lambda v: 0 <= v <= 1, "within [0, 1]")


def utilization_arg(text: str) -> float:
    """A number in (0, 1]: a target utilisation may be 100%."""
    return _number(text, lambda v: 0 < v <= 1, "> 0 and <= 1")


def duration_arg(text: str) -> float:
    """Seconds from `30s`, `5m`, `1h30m`, `500ms` or a bare number; 0 up to 10,000 years."""
    # Imported here: keeps building the parser free of anything the models do not need.
    from models.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if seconds > MAX_DURATION_S:
        raise _fail(f"must be at most {MAX_DURATION_S:.0f}s (10,000 years), got {text!r}")
    return seconds


def positive_duration(text: str) -> float:
    """A duration longer than zero."""
    seconds = duration_arg(text)
    if seconds <= 0:
        raise _fail(f"must be longer than zero, got {text!r}")
    return seconds


def timeout_arg(text: str) -> float:
    """The time one call may take: more than zero, at most a day."""
    seconds = positive_duration(text)
    if seconds > MAX_CALL_TIMEOUT_S:
        raise _fail(f"must be at most {MAX_CALL_TIMEOUT_S:.0f}s (a day), got {text!r}")
    return seconds


def address_arg(text: str) -> str:
    """The control plane's address: HOST:PORT, or a gRPC target such as `unix:/path`."""
    try:
        return check_target(text.strip())
    except ValueError as exc:
        raise _fail(str(exc)) from None


def host_arg(text: str) -> str:
    """An interface to bind: a host name, an IPv4 address or `[IPv6]`."""
    problem = host_problem(text.strip())
    if problem is not None:
        raise _fail(problem)
    return text.strip()


def ray_address_arg(text: str) -> str:
    try:
        return check_ray_address(text.strip())
    except ValueError as exc:
        raise _fail(str(exc)) from None
