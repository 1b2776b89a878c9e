"""Agents that heartbeat, imported by Ray workers in integration tests (the worktree is on their
PYTHONPATH)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any


class ResumableCrawler:
    """Crawls ``input["pages"]`` pages, reporting the page reached in each heartbeat. The first
    attempt heartbeats up to ``input["stall_at"]`` and then hangs without a word (async, so
    cancelling it on the replica interrupts it); a later attempt resumes from the page its
    ``context["last_heartbeat"]`` says and finishes."""

    async def execute(self, input: dict[str, Any], context: Any) -> dict[str, Any]:
        last = context["last_heartbeat"]
        start = int(last["page"]) if last else 0
        if context["attempt"] == 1:
            for page in range(start + 1, int(input["stall_at"]) + 1):
                context.heartbeat({"page": page})
                await asyncio.sleep(0.05)
            await asyncio.sleep(3600)  # stuck: no heartbeat, no answer
        for page in range(start + 1, int(input["pages"]) + 1):
            context.heartbeat({"page": page})
        return {"resumed_from": last, "pages": int(input["pages"]), "attempt": context["attempt"]}


class SyncProgress:
    """A sync agent (run in a worker thread) that heartbeats ``{"done": n}`` every 50 ms until
    the file ``input["until_file"]`` exists, then answers how far it got."""

    def execute(self, input: dict[str, Any], context: Any) -> dict[str, Any]:
        done = 0
        deadline = time.monotonic() + 120
        while not os.path.exists(str(input["until_file"])) and time.monotonic() < deadline:
            done += 1
            context.heartbeat({"done": done, "unit": "steps"})
            time.sleep(0.05)
        return {"done": done}


class Tireless:
    """A sync agent whose first attempt never ends by itself: it heartbeats (without details)
    forever, so only its task's `timeout` stops it, and its `heartbeat()` raising then frees the
    replica's only worker thread for the retry."""

    def execute(self, input: dict[str, Any], context: Any) -> dict[str, Any]:
        if context["attempt"] == 1:
            while True:
                context.heartbeat()
                time.sleep(0.02)
        return {"attempt": context["attempt"]}
