"""What an agent's ``execute(input, context)`` receives, and the heartbeats it sends with it.

``AttemptContext`` is the plain dict agents always got (``execution_id``, ``task_id``,
``attempt``, ``agent_version``, ``replica``, ``last_heartbeat``) with one method more,
``heartbeat(details=None)``, callable from sync agents (in their worker thread) and async ones
alike. It never blocks: the replica keeps the latest heartbeat of each attempt it runs
(``ReplicaHeartbeats``) until the control plane asks for it.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models.heartbeats import details_text

log = logging.getLogger(__name__)

# (execution_id, task_id, attempt number)
AttemptKey = tuple[str, str, int]
# (sequence of the latest heartbeat, JSON text of details new since the sequence asked about)
HeardSince = tuple[int, str | None]
# An attempt's heartbeats when it ended: (sequence of the latest heartbeat, sequence of the
# latest details, their JSON text); sent back with its result, so that heartbeats made since
# the control plane last asked are not lost.
FinalBeats = tuple[int, int, str | None]


class AttemptCancelled(Exception):
    """Raised by ``heartbeat`` once the attempt has ended without the agent (cancelled, timed
    out or preempted): a sync agent's thread cannot be stopped from outside, so this is how
    it learns to stop."""


class AttemptContext(dict[str, Any]):
    """The attempt's facts as the plain dict they always were, plus ``heartbeat``."""

    def __init__(
        self, facts: Mapping[str, Any], beat: Callable[[dict[str, Any] | None], None]
    ) -> None:
        super().__init__(facts)
        self._beat = beat

    def heartbeat(self, details: dict[str, Any] | None = None) -> None:
        """Says the attempt is alive; `details` (a JSON object of at most 64 KiB) replace the
        progress reported so far, None keeps it. Details that are not a value are dropped
        with a logged reason; the heartbeat still counts."""
        self._beat(details)

    def __reduce__(self) -> tuple[Any, ...]:
        # Returned or copied, it is the plain dict: the heartbeat stays with the replica.
        return (dict, (dict(self),))


@dataclass
class _Beats:
    sequence: int = 0
    details: str | None = None
    details_sequence: int = 0
    open: bool = True


class ReplicaHeartbeats:
    """The latest heartbeat of each attempt a replica runs, until the control plane asks.

    Agents heartbeat from their worker threads or the actor's event loop; the control plane
    asks from the control concurrency group's thread: a lock keeps them apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[AttemptKey, _Beats] = {}

    def open(self, key: AttemptKey) -> Callable[[dict[str, Any] | None], None]:
        """Starts following an attempt; returns its heartbeat function."""
        beats = _Beats()
        with self._lock:
            self._attempts[key] = beats
        return functools.partial(self._beat, key, beats)

    def close(self, key: AttemptKey) -> FinalBeats | None:
        """Stops following the attempt; returns its heartbeats (None if it sent none)."""
        with self._lock:
            beats = self._attempts.pop(key, None)
            if beats is None:
                return None
            beats.open = False
        if not beats.sequence:
            return None
        return (beats.sequence, beats.details_sequence, beats.details)

    def _beat(self, key: AttemptKey, beats: _Beats, details: dict[str, Any] | None) -> None:
        text = None
        if details is not None:
            try:
                text = details_text(details)  # a copy: the agent may change its dict later
            except ValueError as exc:
                log.warning("%s attempt %d: heartbeat details dropped: %s", key[1], key[2], exc)
        with self._lock:
            if not beats.open:
                raise AttemptCancelled(f"attempt {key[2]} of task {key[1]} has ended")
            beats.sequence += 1
            if text is not None:
                beats.details, beats.details_sequence = text, beats.sequence

    @staticmethod
    def final_since(final: FinalBeats, seen: int) -> HeardSince | None:
        """What of an ended attempt's heartbeats is new beyond sequence `seen` (as `since`)."""
        sequence, details_sequence, details = final
        if sequence <= seen:
            return None
        return (sequence, details if details_sequence > seen else None)

    def since(self, known: Mapping[AttemptKey, int]) -> dict[AttemptKey, HeardSince]:
        """For each attempt asked about (with the sequence of its last heartbeat seen) that
        has heartbeated since: its latest sequence, and its details if they are newer."""
        heard: dict[AttemptKey, HeardSince] = {}
        with self._lock:
            for key, seen in known.items():
                beats = self._attempts.get(key)
                if beats is not None and beats.sequence > seen:
                    newer = beats.details if beats.details_sequence > seen else None
                    heard[key] = (beats.sequence, newer)
        return heard
