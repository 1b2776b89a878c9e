"""Bounds on what one workflow and one execution may hold, as the engine receives them from the
`limits` settings; every refusal names its setting (`limits.tasks_per_workflow (10,000)`)."""

from __future__ import annotations

from dataclasses import dataclass

from models.values import MAX_DEPTH


@dataclass(frozen=True)
class WorkflowLimits:
    # A definition's text, in UTF-8 bytes.
    definition_bytes: int = 1 << 20
    # Tasks of one definition, finally tasks included.
    tasks_per_workflow: int = 10_000
    # Nesting of every value: inputs, defaults, task inputs, agent outputs, outputs.
    value_depth: int = MAX_DEPTH
    # Items one for_each fans out to.
    for_each_items: int = 100_000
    # Events one execution records before it is failed.
    events_per_execution: int = 1_000_000


def setting(name: str, value: int | float | str) -> str:
    """`limits.NAME (VALUE)`, how a refusal names the bound it met."""
    if isinstance(value, str):
        shown = value
    elif isinstance(value, int):
        shown = f"{value:,}"
    else:
        shown = f"{value:g}"
    return f"limits.{name} ({shown})"


def byte_size(size: int) -> str:
    """A size for people: `512 bytes`, `1 MiB`, `2.1 MiB`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            whole = size % scale == 0
            return f"{size // scale} {unit}" if whole else f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


DEFAULT_LIMITS = WorkflowLimits()
