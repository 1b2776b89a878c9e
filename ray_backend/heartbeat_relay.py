"""Heartbeats of attempts in flight, from their replicas to the engine's listeners.

A replica keeps the latest heartbeat of each attempt it runs (``attempt_context``); every
``interval_s`` this relay asks each replica with attempts in flight what is new, in one call per
replica (in its control concurrency group, so busy attempt slots do not delay it), and hands
each new heartbeat to its attempt's listener; what an attempt sent after the last question
comes back with its result. The replicas never call the control plane, so nothing needs to
find a restarted one. A replica is asked again only once it has answered (or `timeout_s` has
passed), so a stuck one delays no other; its own attempts then look silent, which is what a
heartbeat timeout is for.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import ray

from models.backend import HeartbeatListener
from ray_backend.attempt_context import AttemptKey, HeardSince, ReplicaHeartbeats
from ray_backend.backend_state import BackendState
from ray_backend.replica_actor import HEARTBEATS

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
        # Replicas still answering a round, by name.
        self._asking: dict[str, asyncio.Task[None]] = {}

    async def relayed(
        self,
        ref: Any,
        key: AttemptKey,
        replica: str,
        handle: Any,
        listener: HeartbeatListener,
    ) -> Any:
        """Awaits the attempt's call (`ref`) while relaying its heartbeats to `listener`; the
        heartbeats it made since the last round come back in its envelope."""
        followed = _Followed(replica, handle, listener)
        self._followed[key] = followed
        if self._polling is None or self._polling.done():
            self._polling = self._state.spawn(self._poll_while_followed())
        try:
            envelope = await ref
        finally:
            self._followed.pop(key, None)
        final = envelope.get(HEARTBEATS) if isinstance(envelope, dict) else None
        if final is not None:
            heard = ReplicaHeartbeats.final_since(tuple(final), followed.sequence)
            if heard is not None:
                _deliver(key, followed, heard)
        return envelope

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
            self.poll_round()

    def poll_round(self) -> list[asyncio.Task[None]]:
        """Asks every replica with attempts in flight what is new, except those still busy
        answering an earlier round: each on its own, so a slow replica delays no other."""
        by_replica: dict[str, tuple[Any, dict[AttemptKey, int]]] = {}
        for key, each in self._followed.items():
            by_replica.setdefault(each.replica, (each.handle, {}))[1][key] = each.sequence
        asked = []
        for replica, (handle, known) in by_replica.items():
            if replica not in self._asking:
                ask = self._state.spawn(self._ask(replica, handle, known))
                self._asking[replica] = ask
                ask.add_done_callback(functools.partial(self._answered, replica))
                asked.append(ask)
        return asked

    def _answered(self, replica: str, ask: asyncio.Task[None]) -> None:
        if self._asking.get(replica) is ask:
            del self._asking[replica]

    async def _ask(self, replica: str, handle: Any, known: Mapping[AttemptKey, int]) -> None:
        try:
            ref = handle.heartbeats.remote(dict(known))
        except Exception:  # a replica of a version without heartbeats
            return
        try:
            answer: dict[AttemptKey, HeardSince] = await asyncio.wait_for(
                _awaited(ref), self._timeout_s
            )
        except TimeoutError:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
            log.debug("replica %s did not report heartbeats within %ss", replica, self._timeout_s)
            return
        except Exception as exc:  # dead or restarting: the attempt's call reports it
            log.debug("replica %s did not report heartbeats: %s", replica, exc)
            return
        for key, heard in answer.items():
            followed = self._followed.get(key)
            if followed is not None:  # (else the attempt ended meanwhile)
                _deliver(key, followed, heard)


async def _awaited(ref: Any) -> Any:
    return await ref


def _deliver(key: AttemptKey, followed: _Followed, heard: HeardSince) -> None:
    sequence, details_text = heard
    if sequence <= followed.sequence:
        return  # known already
    followed.sequence = sequence
    _hand(key, followed.listener, None if details_text is None else json.loads(details_text))


def _hand(key: AttemptKey, listener: HeartbeatListener, details: dict[str, Any] | None) -> None:
    try:
        listener(details)
    except Exception:
        log.exception("a heartbeat of %s could not be handed over", key)
