"""Agents that cannot start, imported by Ray workers in integration tests (the worktree is on
their PYTHONPATH)."""

from __future__ import annotations

from typing import Any


class NeedsKey:
    """Its constructor raises unless given an ``api_key``."""

    def __init__(self, api_key: str = "", **config: Any) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self.api_key = api_key

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input
