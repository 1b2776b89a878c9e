"""Agents whose replicas fail, are sick or are slow on purpose, imported by Ray workers in
integration tests and the load-balancing benchmark (the worktree is on their PYTHONPATH).

Which replica misbehaves is chosen by the end of its name (``"/0"``: the first replica), so
the replicas of one agent share one config and still differ.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import ray


def _actor_name() -> str:
    return ray.get_runtime_context().get_actor_name() or ""


class BreakableAgent:
    """The replica named ``*{broken_suffix}`` raises on every call until ``healed_file``
    exists; every replica appends its name to ``calls_file`` on each call."""

    def __init__(self, calls_file: str, healed_file: str, broken_suffix: str = "/0") -> None:
        self._calls = Path(calls_file)
        self._healed = Path(healed_file)
        self._broken_suffix = broken_suffix

    def execute(self, input: Any, context: dict[str, Any]) -> Any:
        replica = str(context.get("replica", ""))
        # O_APPEND: one short line per write, so replicas in other processes do not interleave.
        fd = os.open(self._calls, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{replica}\n".encode())
        finally:
            os.close(fd)
        if replica.endswith(self._broken_suffix) and not self._healed.exists():
            raise RuntimeError(f"{replica} is broken")
        return {"replica": replica, "input": input}


class SicklyAgent:
    """The replica named ``*{sick_suffix}`` answers ``health()`` with ``ok: false`` while
    ``sick_file`` exists."""

    def __init__(self, sick_file: str, sick_suffix: str = "/0") -> None:
        self._sick = Path(sick_file)
        self._sick_suffix = sick_suffix

    def health(self) -> dict[str, Any]:
        if _actor_name().endswith(self._sick_suffix) and self._sick.exists():
            return {"ok": False, "error": "disk full"}
        return {"ok": True}

    def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return {"replica": context.get("replica", "")}


class UnevenAgent:
    """Sleeps ``seconds`` per call, ``slow_factor`` times longer on the replica named
    ``*{slow_suffix}``; answers which replica ran it."""

    def __init__(self, seconds: float, slow_factor: float = 5.0, slow_suffix: str = "/0") -> None:
        self._seconds = seconds
        self._slow_factor = slow_factor
        self._slow_suffix = slow_suffix

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        replica = str(context.get("replica", ""))
        factor = self._slow_factor if replica.endswith(self._slow_suffix) else 1.0
        await asyncio.sleep(self._seconds * factor)
        return {"replica": replica}
