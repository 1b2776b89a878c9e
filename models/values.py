"""The one value domain every door checks: workflow defaults, task inputs and output expressions,
StartExecution inputs and agent outputs are JSON values, so whatever is stored can be read back
through every RPC, the event stream and the CLI.

A value is null, a boolean, a finite number (an integer within +-2**53), a string of valid
Unicode, a list of values, or an object with string keys. Nesting is at most `MAX_DEPTH`
levels: the wire form (protobuf `Struct`) spends up to three message levels per object level and
protobuf refuses to decode past 100, so the limit keeps every stored value readable with room
for the messages around it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 20  # the default of the setting limits.value_depth
# The deepest that setting may be: past it a value no longer fits protobuf's 100 levels. A
# client checks values against it and leaves the server's own setting to the server.
MAX_WIRE_DEPTH = 30
# JSON numbers travel as IEEE doubles (protobuf's Value, most JSON readers): a larger integer
# would come back as another number, so it is refused rather than silently rounded (RFC 7493).
MAX_EXACT_INTEGER = 2**53
_INEXACT = f"is outside the exactly representable integers (+-{MAX_EXACT_INTEGER})"
# A value whose JSON text is longer travels by its size in responses and events, and is read
# whole through ReadExecutionValue.
INLINE_VALUE_BYTES = 256 << 10
# Problems reported for one value: enough to fix a batch of mistakes, never an error message
# that outgrows the status details.
MAX_PROBLEMS = 10


@dataclass(frozen=True)
class ValueProblem:
    path: str
    description: str


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{shorten(repr(key), 40)}]"


# One encoder for every call: json.dumps builds a new one per call when given options.
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def json_text(value: Any) -> str:
    """The one JSON text of a value: how the store keeps it, what sizes count and what
    ReadExecutionValue streams. Compact, keys sorted, ASCII (so characters are bytes, and a lone
    surrogate from an old store is an escape rather than an encoding error)."""
    return _ENCODER.encode(value)


# Event details that carry a whole value (EXECUTION_STARTED inputs, TASK_SUCCEEDED output,
# EXECUTION_SUCCEEDED outputs).
_EVENT_VALUE_KEYS = ("inputs", "output", "outputs")


def sized_details(details: dict[str, Any]) -> dict[str, Any]:
    """`details` with each value over INLINE_VALUE_BYTES replaced by its size
    (`"output_omitted": {"size_bytes": n}`), so that no event outgrows a message."""
    sized = details
    for key in _EVENT_VALUE_KEYS:
        if key in details and (size := len(json_text(details[key]))) > INLINE_VALUE_BYTES:
            sized = {k: v for k, v in sized.items() if k != key}
            sized[f"{key}_omitted"] = {"size_bytes": size}
    return sized


def shorten(text: str, limit: int = 200) -> str:
    """`text` cut to `limit` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _string_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return None


def value_problems(
    value: Any, path: str, max_depth: int = MAX_DEPTH, depth_setting: str | None = "value_depth"
) -> list[ValueProblem]:
    """Every way (up to `MAX_PROBLEMS`) in which `value` is not a JSON value, each with its path
    below `path`. Iterative, so a hostile depth cannot exhaust the interpreter's stack. A value
    deeper than `max_depth` is refused naming the setting `limits.<depth_setting>` that set
    it (None: a bound of the wire or the text, named by its number)."""
    bound = f"{max_depth} levels"
    if depth_setting is not None:
        bound = f"limits.{depth_setting} ({max_depth} levels)"
    problems: list[ValueProblem] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack and len(problems) < MAX_PROBLEMS:
        item, where, depth = stack.pop()
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_EXACT_INTEGER:
                problems.append(ValueProblem(where, f"{shorten(str(item), 40)} {_INEXACT}"))
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                problems.append(ValueProblem(where, f"{item} is not a JSON number"))
            continue
        if isinstance(item, str):
            if (why := _string_problem(item)) is not None:
                problems.append(ValueProblem(where, why))
            continue
        if isinstance(item, list | tuple | dict):
            if depth >= max_depth:
                problems.append(ValueProblem(where, f"is nested deeper than {bound}"))
                continue
            if isinstance(item, dict):
                for key, child in reversed(list(item.items())):
                    if not isinstance(key, str):
                        problems.append(
                            ValueProblem(
                                where, f"has the key {shorten(repr(key), 40)}: keys must be strings"
                            )
                        )
                        continue
                    if (why := _string_problem(key)) is not None:
                        problems.append(ValueProblem(where, f"has a key that {why}"))
                        continue
                    stack.append((child, _child(where, key), depth + 1))
            else:
                for index in reversed(range(len(item))):
                    stack.append((item[index], _child(where, index), depth + 1))
            continue
        problems.append(ValueProblem(where, f"a {type(item).__name__} is not a JSON value"))
    return problems
