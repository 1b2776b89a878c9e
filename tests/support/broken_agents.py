"""Agents that cannot start, imported by Ray workers in integration tests (the worktree is on
their PYTHONPATH)."""

from __future__ import annotations

import os
from typing import Any


class NeedsKey:
    """Its constructor raises unless given an ``api_key``."""

    def __init__(self, api_key: str = "", **config: Any) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.api_key = api_key

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input


class DiesAtStart:
    """Its constructor ends the process (as a segfault or the OOM killer would)."""

    def __init__(self, **config: Any) -> None:
        os._exit(3)

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input
