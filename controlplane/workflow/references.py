"""`${...}` references in task inputs and workflow outputs: finding, checking and resolving.

Grammar: `${inputs.NAME<fields>}` or `${tasks.ID.output<fields>}` where `<fields>` is any
sequence of `.field` and `[N]`. `$${` is a literal `${`. Some places add scoped roots (which
ones the definition checker decides): `${item<fields>}` and `${index}` in a for_each task,
`${loop.iteration}` and `${loop.previous<fields>}` in a loop task, `${execution.status}` in a
finally task.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from models.workflows import ValidationProblem

_ROOT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Roots whose values the caller hands to resolve() as `extra`, where they are in scope.
SCOPED_ROOTS = ("item", "index", "loop", "execution")
_ROOTS_RULE = "must start with 'inputs.', 'tasks.', 'item', 'index', 'loop.' or 'execution.'"
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Reference:
    root: str  # "inputs" | "tasks" | one of SCOPED_ROOTS
    task_id: str | None
    # inputs: starts with the input name; tasks: the fields after `output`; scoped roots: the
    # fields after the root (`loop.previous.x` -> previous, x).
    path: tuple[str | int, ...]
    text: str  # the body between `${` and `}` as written

    def __str__(self) -> str:
        return "${" + self.text + "}"


class ReferenceSyntaxError(ValueError):
    """A malformed `${...}`; `location` is where it sits inside the checked value."""

    def __init__(self, location: str, detail: str) -> None:
        super().__init__(f"{location}: {detail}" if location else detail)
        self.location = location
        self.detail = detail


class ReferenceResolutionError(ValueError):
    """A reference whose target does not exist in the given inputs / task outputs."""

    def __init__(self, location: str, reference: Reference, detail: str) -> None:
        prefix = f"{location}: " if location else ""
        super().__init__(f"{prefix}{reference}: {detail}")
        self.location = location
        self.reference = reference
        self.detail = detail


def join_path(base: str, key: str) -> str:
    """`tasks[0].input` + `spec` -> `tasks[0].input.spec` (no leading dot at the root)."""
    return f"{base}.{key}" if base else key


def parse_reference(body: str) -> Reference:
    """Parse the text between `${` and `}`; raises ValueError with the reason."""
    expr = body.strip()
    if not expr:
        raise ValueError("empty reference '${}'")
    parts = _parse_segments(expr, body)
    root = parts[0]
    if root == "inputs":
        if len(parts) < 2 or not isinstance(parts[1], str):
            raise ValueError(f"malformed reference '${{{body}}}': expected ${{inputs.NAME...}}")
        return Reference("inputs", None, tuple(parts[1:]), body)
    if root == "tasks":
        if len(parts) < 3 or not isinstance(parts[1], str) or parts[2] != "output":
            raise ValueError(f"malformed reference '${{{body}}}': expected ${{tasks.ID.output...}}")
        return Reference("tasks", parts[1], tuple(parts[3:]), body)
    if root in SCOPED_ROOTS:
        return Reference(str(root), None, _scoped_path(str(root), parts[1:], body), body)
    raise ValueError(f"malformed reference '${{{body}}}': {_ROOTS_RULE}")


def _scoped_path(root: str, path: list[str | int], body: str) -> tuple[str | int, ...]:
    expected = {
        "index": "${index}",
        "loop": "${loop.iteration} or ${loop.previous...}",
        "execution": "${execution.status}",
    }
    fits = {
        "item": True,
        "index": not path,
        "loop": (path[:1] == ["iteration"] and len(path) == 1) or path[:1] == ["previous"],
        "execution": path == ["status"],
    }
    if not fits[root]:
        raise ValueError(f"malformed reference '${{{body}}}': expected {expected[root]}")
    return tuple(path)


def parse_path(body: str) -> list[str | int]:
    """The root and fields of a `${...}` body with any root (`input.a[0]` -> input, a, 0);
    ValueError if malformed."""
    if not body.strip():
        raise ValueError("empty reference '${}'")
    return _parse_segments(body.strip(), body)


def _parse_segments(expr: str, body: str) -> list[str | int]:
    root = _ROOT.match(expr)
    if root is None:
        raise ValueError(f"malformed reference '${{{body}}}': {_ROOTS_RULE}")
    parts: list[str | int] = [root.group()]
    pos = root.end()
    while pos < len(expr):
        seg = _SEGMENT.match(expr, pos)
        if seg is None:
            raise ValueError(
                f"malformed reference '${{{body}}}': unexpected {expr[pos:]!r}; "
                "expected '.field' or '[index]'"
            )
        parts.append(seg.group(1) if seg.group(1) is not None else int(seg.group(2)))
        pos = seg.end()
    return parts


def parse_template(
    text: str, parse: Callable[[str], Reference] = parse_reference
) -> list[str | Reference]:
    """Split a string into literal pieces and references (escapes already undone); `parse`
    reads each reference's body."""
    parts: list[str | Reference] = []
    literal: list[str] = []
    pos = 0
    while True:
        dollar = text.find("$", pos)
        if dollar < 0:
            literal.append(text[pos:])
            break
        literal.append(text[pos:dollar])
        if text.startswith("$${", dollar):
            literal.append("${")
            pos = dollar + 3
        elif text.startswith("${", dollar):
            end = text.find("}", dollar + 2)
            if end < 0:
                raise ValueError(f"unclosed reference {text[dollar:]!r}: missing '}}'")
            _flush(literal, parts)
            parts.append(parse(text[dollar + 2 : end]))
            pos = end + 1
        else:
            literal.append("$")
            pos = dollar + 1
    _flush(literal, parts)
    return parts


def _flush(literal: list[str], parts: list[str | Reference]) -> None:
    joined = "".join(literal)
    if joined:
        parts.append(joined)
    literal.clear()


def _strings(value: Any, location: str) -> Iterator[tuple[str, str]]:
    """Every string nested in dicts/lists, with its location (dict keys are not scanned)."""
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, join_path(location, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{location}[{index}]")


def find_references(value: Any, base_path: str = "") -> list[tuple[str, Reference]]:
    """All references in `value` as (location, reference); raises ReferenceSyntaxError."""
    found: list[tuple[str, Reference]] = []
    for location, text in _strings(value, base_path):
        try:
            parts = parse_template(text)
        except ValueError as exc:
            raise ReferenceSyntaxError(location, str(exc)) from None
        found.extend((location, part) for part in parts if isinstance(part, Reference))
    return found


def find_reference_problems(
    value: Any, base_path: str = ""
) -> tuple[list[tuple[str, Reference]], list[ValidationProblem]]:
    """Like find_references, but malformed strings become problems (one per string)."""
    found: list[tuple[str, Reference]] = []
    problems: list[ValidationProblem] = []
    for location, text in _strings(value, base_path):
        try:
            parts = parse_template(text)
        except ValueError as exc:
            problems.append(ValidationProblem(location, str(exc)))
            continue
        found.extend((location, part) for part in parts if isinstance(part, Reference))
    return found, problems


def resolve(
    value: Any,
    inputs: dict[str, Any],
    task_outputs: Mapping[str, Any],
    base_path: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Deep copy of `value` with every reference substituted.

    `base_path` only prefixes locations in error messages (e.g. "input" or "outputs").
    `extra` holds the scoped roots in scope here: `item` and `index` (a for_each item),
    `loop` ({"iteration": n, "previous": output or None}), `execution` ({"status": ...}); a
    scoped root missing from it fails to resolve.
    """
    return _resolve(value, base_path, _Scope(inputs, task_outputs, extra or {}))


@dataclass(frozen=True)
class _Scope:
    inputs: dict[str, Any]
    task_outputs: Mapping[str, Any]
    extra: Mapping[str, Any]


def _resolve(value: Any, location: str, scope: _Scope) -> Any:
    if isinstance(value, str):
        return _resolve_string(value, location, scope)
    if isinstance(value, dict):
        return {
            key: _resolve(item, join_path(location, str(key)), scope) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = [_resolve(item, f"{location}[{index}]", scope) for index, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    return copy.deepcopy(value)


def _resolve_string(text: str, location: str, scope: _Scope) -> Any:
    if "$" not in text:
        return text
    try:
        parts = parse_template(text)
    except ValueError as exc:
        raise ReferenceSyntaxError(location, str(exc)) from None
    values = [
        _lookup(part, location, scope) if isinstance(part, Reference) else part for part in parts
    ]
    # A lone reference keeps the referenced value's type; otherwise build a string.
    if len(parts) == 1 and isinstance(parts[0], Reference):
        return copy.deepcopy(values[0])
    return "".join(
        part if isinstance(part, str) else _render(value)
        for part, value in zip(parts, values, strict=True)
    )


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _lookup(ref: Reference, location: str, scope: _Scope) -> Any:
    if ref.root == "inputs":
        name = ref.path[0]
        if name not in scope.inputs:
            raise ReferenceResolutionError(location, ref, f"no workflow input '{name}'")
        value, where, rest = scope.inputs[str(name)], f"inputs.{name}", ref.path[1:]
    elif ref.root == "tasks":
        if ref.task_id not in scope.task_outputs:
            raise ReferenceResolutionError(location, ref, f"task '{ref.task_id}' has no output yet")
        value, where, rest = scope.task_outputs[str(ref.task_id)], "output", ref.path
    else:
        if ref.root not in scope.extra:
            raise ReferenceResolutionError(location, ref, f"'{ref.root}' is not available here")
        value, where, rest = scope.extra[ref.root], ref.root, ref.path
    for part in rest:
        try:
            value = _step(value, part, where)
        except LookupError as exc:
            raise ReferenceResolutionError(location, ref, str(exc.args[0])) from None
        where += f".{part}" if isinstance(part, str) else f"[{part}]"
    return value


def _step(value: Any, part: str | int, where: str) -> Any:
    if isinstance(part, str):
        if not isinstance(value, dict):
            raise LookupError(
                f"{where} is {_kind(value)}, not an object; cannot read field '{part}'"
            )
        if part not in value:
            raise LookupError(f"{where} has no field '{part}'")
        return value[part]
    if not isinstance(value, list | tuple):
        raise LookupError(f"{where} is {_kind(value)}, not a list; cannot read index {part}")
    if part >= len(value):
        raise LookupError(f"{where} has no index {part} (length {len(value)})")
    return value[part]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"
