"""Text of the values the CLI prints, whatever a store or a server holds: numbers JSON has no
spelling for (NaN, ±Infinity), nesting deeper than Python's recursion limit, huge strings and
text that is not valid Unicode. Nothing here recurses, so no value can raise RecursionError.

`json_text` is the `-o json` form and is always valid JSON: a non-finite number is `null` (as
the control plane itself sends one), lone surrogates are escaped. `display_text` is the form in
tables and detail views: cut at a length, NaN and ±Infinity spelled out, and nothing that a
terminal cannot encode.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Iterator
from typing import Any

from models.values import shorten

# Levels below this are not indented further: a value nested 10,000 deep prints in linear,
# not quadratic, size.
MAX_INDENT_LEVELS = 32
# A string inside a displayed value is cut here, so one long string cannot hide the rest.
DISPLAY_STRING_LIMIT = 200
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from enums, dataclasses, tuples and sets, at any depth."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, enum.Enum):
            item = item.value
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            item = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
        if isinstance(item, dict):
            converted: dict[str, Any] = {}
            parent[key] = converted
            for child_key, child in item.items():
                converted[str(child_key)] = None  # keeps the order of the keys
                stack.append((child, converted, str(child_key)))
        elif isinstance(item, list | tuple | set | frozenset):
            children = list(item)
            parent[key] = [None] * len(children)
            stack.extend((child, parent[key], i) for i, child in enumerate(children))
        else:
            parent[key] = item
    return root[0]


def _number(item: int | float, display: bool) -> str:
    if isinstance(item, float):
        if math.isfinite(item):
            return float.__repr__(item)
        return _NON_FINITE[repr(item)] if display else "null"
    try:
        return int.__repr__(item)
    except ValueError:  # more digits than Python converts to text
        return f'"<integer of {item.bit_length()} bits>"'


def _scalar(item: Any, display: bool, string_limit: int | None) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return _number(item, display)
    text = item if isinstance(item, str) else str(item)
    if string_limit is not None:
        text = shorten(text, string_limit)
    return json.dumps(text, ensure_ascii=not display)


def _pieces(
    value: Any, indent: int | None, display: bool, string_limit: int | None = None
) -> Iterator[str]:
    """The JSON text of `value` (plain JSON types) piece by piece, with an explicit stack."""
    key_separator = ": " if indent is not None else ":"

    def line_break(depth: int) -> str:
        if indent is None:
            return ""
        return "\n" + " " * (indent * min(depth, MAX_INDENT_LEVELS))

    stack: list[tuple[bool, Any, int]] = [(False, value, 0)]  # (is text, item, depth)
    while stack:
        is_text, item, depth = stack.pop()
        if is_text:
            yield item
            continue
        if not isinstance(item, dict | list):
            yield _scalar(item, display, string_limit)
            continue
        if not item:
            yield "{}" if isinstance(item, dict) else "[]"
            continue
        is_dict = isinstance(item, dict)
        yield "{" if is_dict else "["
        stack.append((True, line_break(depth) + ("}" if is_dict else "]"), depth))
        entries = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
        inner = line_break(depth + 1)
        for index in reversed(range(len(entries))):
            key, child = entries[index]
            stack.append((False, child, depth + 1))
            prefix = inner if index == 0 else "," + inner
            if is_dict:
                prefix += _scalar(str(key), display, string_limit) + key_separator
            stack.append((True, prefix, depth + 1))


def json_text(value: Any, indent: int | None = 2) -> str:
    """Valid JSON for any value (plain JSON types; see `to_jsonable`)."""
    return "".join(_pieces(value, indent, display=False))


def terminal_safe(text: str) -> str:
    """`text` with lone surrogates (which no terminal encoding takes) replaced by '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


def display_text(value: Any, limit: int = 80, indent: int | None = None) -> str:
    """A value as shown in tables: a string as it is, anything else as JSON; cut at `limit`
    characters (a long string says how long it was), without encoding more than it shows."""
    if isinstance(value, str):
        return terminal_safe(shorten(value, limit))
    shown: list[str] = []
    length = 0
    string_limit = min(limit, DISPLAY_STRING_LIMIT)
    for piece in _pieces(value, indent, display=True, string_limit=string_limit):
        shown.append(piece)
        length += len(piece)
        if length > limit:
            return terminal_safe("".join(shown)[: limit - 1] + "…")
    return terminal_safe("".join(shown))
