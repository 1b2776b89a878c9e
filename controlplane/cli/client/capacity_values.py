"""Value parsers of the capacity commands (argparse `type=` callables): sizes, resource
amounts, labels, placement strategies, backpressure and reservation start times.

Bad text is an `argparse.ArgumentTypeError`, which argparse reports naming the flag, with exit
code 2.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime

from controlplane.cli.arg_types import INT64_MAX, duration_arg, non_negative_number
from models.queueing import Backpressure
from models.resources import CPU, GPU, MEMORY, PlacementStrategy, ResourceAmounts

_SIZE_HINT = "bytes or a size such as 512Mi, 8Gi or 1G"


def parse_size(text: str) -> int:
    """Bytes from `1073741824`, `512Mi`, `8Gi`, `1.5Gi` (binary) or `1G`, `500M`, `2k` (decimal).

    A trailing `B` is allowed (`8GiB`, `1GB`); units are case-insensitive.
    """
    # Imported here: the workflow package (YAML, definitions) is not needed to build the parser.
    from controlplane.workflow.task_resources import parse_memory

    too_big = argparse.ArgumentTypeError(f"must be at most {INT64_MAX} bytes, got {text!r}")
    try:
        size = parse_memory(text)
    except OverflowError:  # more than a double holds
        raise too_big from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {_SIZE_HINT}, got {text!r}") from None
    if size > INT64_MAX:
        raise too_big
    return size


def parse_strategy(text: str) -> PlacementStrategy:
    """`pack`, `SPREAD`, `strict-pack`, `STRICT_SPREAD` or `PLACEMENT_STRATEGY_PACK`."""
    name = text.strip().upper().replace("-", "_").removeprefix("PLACEMENT_STRATEGY_")
    try:
        return PlacementStrategy(name)
    except ValueError:
        choices = ", ".join(s.value for s in PlacementStrategy)
        raise argparse.ArgumentTypeError(
            f"unknown strategy {text!r} (choose from {choices})"
        ) from None


def parse_backpressure(text: str) -> Backpressure:
    name = text.strip().upper().removeprefix("BACKPRESSURE_")
    try:
        return Backpressure(name)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown backpressure {text!r} (choose from queue, reject)"
        ) from None


def _split_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value.strip()


def parse_label(text: str) -> tuple[str, str]:
    """`key=value` (the value is kept as text; Ray selector syntax such as `!v` or
    `in(a,b)` is passed through)."""
    return _split_pair(text)


def parse_custom_amount(text: str) -> tuple[str, float]:
    """`name=amount` for a custom resource, e.g. `accelerator_x=2`."""
    key, value = _split_pair(text)
    if key in (CPU, MEMORY, GPU):
        raise argparse.ArgumentTypeError(f"use --{key} for {key!r}, not a custom resource")
    try:
        return key, non_negative_number(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{key}: {exc}") from None


def parse_amounts(text: str) -> ResourceAmounts:
    """`cpu=4,memory=8Gi,gpu=1,acc=2` -> ResourceAmounts (other names are custom resources)."""
    cpu = gpu = 0.0
    memory = 0
    custom: dict[str, float] = {}
    seen: set[str] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        key, value = _split_pair(part)
        if key in seen:
            raise argparse.ArgumentTypeError(f"{key!r} is given twice in {text!r}")
        seen.add(key)
        try:
            if key == MEMORY:
                memory = parse_size(value)
            elif key == CPU:
                cpu = non_negative_number(value)
            elif key == GPU:
                gpu = non_negative_number(value)
            else:
                custom[key] = non_negative_number(value)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{key}: {exc}") from None
    if not seen:
        raise argparse.ArgumentTypeError(
            f"expected RESOURCE=AMOUNT[,...] such as cpu=4,memory=8Gi, got {text!r}"
        )
    return ResourceAmounts(cpu=cpu, memory=memory, gpu=gpu, custom=custom)


@dataclass(frozen=True)
class StartTime:
    """When a reservation starts: an absolute time (epoch seconds) or an offset from now."""

    absolute: float | None = None
    offset_s: float = 0.0

    def resolve(self, now: float) -> float:
        return self.absolute if self.absolute is not None else now + self.offset_s


def parse_start(text: str) -> StartTime:
    """`now`, `+10m` (from now) or an ISO 8601 time (`2030-01-02T15:04:05Z`; local time when
    no offset is given)."""
    spec = text.strip()
    if spec.lower() == "now":
        return StartTime()
    if spec.startswith("+"):
        return StartTime(offset_s=duration_arg(spec[1:]))
    try:
        return StartTime(absolute=datetime.fromisoformat(spec).timestamp())
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time (2030-01-02T15:04:05Z), 'now' or '+DURATION' "
            f"(+10m), got {text!r}"
        ) from None
