"""A replica's first answers (``info`` and ``health``), bounded by the readiness deadline.

Replicas are created with ``max_restarts=-1`` so that Ray brings back a process that crashes
later on. A process that dies while the constructor runs (``os._exit``, a segfault in a native
library, the OOM killer) is therefore restarted over and over, and its first call would only
end with the deadline. While a replica this control plane created has not answered yet, Ray's
actor table is read every ``RESTART_POLL_S``: a restart means the start crashed, which is
reported at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import ray

from models.backend import ReplicaStartError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RESTART_POLL_S = 0.5


async def ray_result(ref: Awaitable[T]) -> T:
    """A coroutine awaiting ``ref``, so that ``asyncio.wait_for`` can bound it."""
    return await ref


def restarts(handle: Any) -> int:
    """How often Ray has restarted the actor (0 when its table cannot be read). Blocking."""
    try:
        # DeveloperAPI: the GCS actor table, readable without the dashboard.
        entry = ray._private.state.actors(actor_id=handle._actor_id.hex())
        return int(entry.get("NumRestarts", 0))
    except Exception:
        logger.debug("could not read the actor table", exc_info=True)
        return 0


async def _crash_loop(handle: Any) -> None:
    """Returns once Ray has restarted the actor (never, while it has not)."""
    while True:
        await asyncio.sleep(RESTART_POLL_S)
        count = await asyncio.to_thread(restarts, handle)
        if count > 0:
            return


async def _answers(handle: Any, timeout_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    info = await asyncio.wait_for(ray_result(handle.info.remote()), timeout_s)
    health = await asyncio.wait_for(
        ray_result(handle.health.remote()), max(deadline - loop.time(), 0.001)
    )
    return info, health


async def first_answers(
    handle: Any, timeout_s: float, watch_restarts: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``info()`` and ``health()`` of the replica, within `timeout_s` (TimeoutError after).
    With `watch_restarts`, a restart before the first answer raises ReplicaStartError."""
    answers = asyncio.ensure_future(_answers(handle, timeout_s))
    if not watch_restarts:
        return await answers
    crashed = asyncio.ensure_future(_crash_loop(handle))
    try:
        await asyncio.wait({answers, crashed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (answers, crashed):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
    if answers.done() and not answers.cancelled():
        return answers.result()
    raise ReplicaStartError(
        "its process died while the agent was being built, and Ray restarted it: a crash in "
        "the constructor or its imports (os._exit, a segfault, the out-of-memory killer); the "
        "Ray worker logs of the node tell which"
    )
