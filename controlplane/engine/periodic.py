"""The control loops' common driver: one round every interval until cancelled, a failed round
logged and the next one still run (a loop that dies silently would stop healing, scaling or
recording without anyone noticing)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any


async def run_every(
    interval_s: float,
    round_once: Callable[[], Awaitable[Any]],
    log: logging.Logger,
    what: str,
    *,
    first_wait: bool = False,
) -> None:
    """Await `round_once()` every `interval_s` (after one interval first with `first_wait`)."""
    if first_wait:
        await asyncio.sleep(interval_s)
    while True:
        try:
            await round_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", what)
        await asyncio.sleep(interval_s)
