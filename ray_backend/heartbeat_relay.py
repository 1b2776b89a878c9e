"""Heartbeats of attempts in flight, from their replicas to the engine's listeners.

A replica keeps the latest heartbeat of each attempt it runs (``attempt_context``); every
``interval_s`` this relay asks each replica with attempts in flight what is new, in one call per
replica (in its control concurrency group, so busy attempt slots do not delay it), and hands
each new heartbeat to its attempt's listener. The replicas never call the control plane, so
nothing needs to find a restarted one; a replica that does not answer within ``timeout_s`` is
skipped for that round (its attempts then look silent, which is what a heartbeat timeout is for).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ray

from models.backend import HeartbeatListener
from ray_backend.attempt_context import AttemptKey, HeardSince
from ray_backend.backend_state import BackendState

log = logging.getLogger(__name__)

T = TypeVar("T")
POLL_INTERVAL_S = 0.5
POLL_TIMEOUT_S = 5.0


@dataclass(eq=False)
class _Followed:
    replica: str
    handle: Any
    listener: HeartbeatListener
    sequence: int = 0


class HeartbeatRelay:
    def __init__(
        self,
        state: BackendState,
        interval_s: float = POLL_INTERVAL_S,
        timeout_s: float = POLL_TIMEOUT_S,
    ) -> None:
        self._state = state
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._followed: dict[AttemptKey, _Followed] = {}
        self._polling: asyncio.Task[None] | None = None

    async def relayed(
        self,
        ref: Any,
        key: AttemptKey,
        replica: str,
        handle: Any,
        listener: HeartbeatListener,
    ) -> Any:
        """Awaits the attempt's call (`ref`) while relaying its heartbeats to `listener`."""
        self._followed[key] = _Followed(replica, handle, listener)
        if self._polling is None or self._polling.done():
            self._polling = self._state.spawn(self._poll_while_followed())
        try:
            return await ref
        finally:
            self._followed.pop(key, None)

    def record(self, key: AttemptKey, details: dict[str, Any] | None) -> bool:
        """Hands a heartbeat that reached the backend by another way than a replica (such as
        progress reported in an HTTP agent's status answer) to its attempt's listener. False
        when no such attempt is in flight here."""
        followed = self._followed.get(key)
        if followed is None:
            return False
        _hand(key, followed.listener, details)
        return True

    async def _poll_while_followed(self) -> None:
        while self._followed:
            await asyncio.sleep(self._interval_s)
            await self.poll_once()

    async def poll_once(self) -> None:
        """One round: every replica with attempts in flight is asked what is new."""
        by_replica: dict[str, tuple[Any, dict[AttemptKey, int]]] = {}
        for key, each in self._followed.items():
            by_replica.setdefault(each.replica, (each.handle, {}))[1][key] = each.sequence
        answers = await asyncio.gather(
            *(self._ask(name, handle, known) for name, (handle, known) in by_replica.items())
        )
        for heard in answers:
            for key, (sequence, details_text) in heard.items():
                followed = self._followed.get(key)
                if followed is None or sequence <= followed.sequence:
                    continue  # the attempt ended meanwhile, or this is known already
                followed.sequence = sequence
                details = None if details_text is None else json.loads(details_text)
                _hand(key, followed.listener, details)

    async def _ask(
        self, replica: str, handle: Any, known: Mapping[AttemptKey, int]
    ) -> dict[AttemptKey, HeardSince]:
        try:
            ref = handle.heartbeats.remote(dict(known))
        except Exception:  # a replica of a version without heartbeats
            return {}
        try:
            heard: dict[AttemptKey, HeardSince] = await asyncio.wait_for(
                _awaited(ref), self._timeout_s
            )
            return heard
        except TimeoutError:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            log.debug("replica %s did not report heartbeats within %ss", replica, self._timeout_s)
        except Exception as exc:  # dead or restarting: the attempt's call reports it
            log.debug("replica %s did not report heartbeats: %s", replica, exc)
        return {}


async def _awaited(ref: Any) -> Any:
    return await ref


def _hand(key: AttemptKey, listener: HeartbeatListener, details: dict[str, Any] | None) -> None:
    try:
        listener(details)
    except Exception:
        log.exception("a heartbeat of %s could not be handed over", key)
