"""Running test bodies against a real RayAgentBackend on a fresh event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from ray_backend import RayAgentBackend


async def until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    """Polls `predicate` on the event loop until true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.02)


def run(namespace: str, body: Callable[[RayAgentBackend], Awaitable[None]]) -> None:
    """Runs `body` with a started backend on a fresh event loop; kills its replicas after."""

    async def main() -> None:
        backend = RayAgentBackend(namespace=namespace, health_interval_s=0.5)
        await backend.start()
        try:
            await body(backend)
        finally:
            await backend.destroy_all()
            await backend.shutdown()

    asyncio.run(main())
