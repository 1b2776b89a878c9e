"""Agents for rollout tests, imported by Ray workers in integration tests."""

from __future__ import annotations

import time
from typing import Any


class Release:
    """Answers which version served the attempt; with ``fail_every=2`` every second attempt
    on a replica raises (a release that starts fine but fails half its work)."""

    def __init__(self, version: str, fail_every: int = 0, delay_s: float = 0.01) -> None:
        self.version = version
        self.fail_every = int(fail_every)
        self.delay_s = float(delay_s)
        self.calls = 0

    def execute(self, input: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls += 1
        time.sleep(self.delay_s)
        if self.fail_every and self.calls % self.fail_every == 0:
            raise RuntimeError(f"release {self.version} broke on call {self.calls}")
        return {"version": self.version, "n": input.get("n")}
