"""Agent events: the replica changes the backend reports and the steps and ends of rollouts,
each given the next global sequence, stored off the event loop and fanned out to watchers.

Recording never blocks and never raises, so neither the backend's callbacks nor a rollout can
be held up or failed by it. One flush task appends the events in sequence order (so commit
order is sequence order) and only then hands them to watchers: a watcher sees what the store
holds, never more. While the store refuses writes the events wait in memory, bounded; any event
given up is logged with how many, never dropped silently.

A watch subscribes before it reads the store, replays what was stored after its cursor, then
follows the published events, skipping any at or below its cursor: no gap and no duplicate at
the switch. A watcher too slow for its buffer is not cut off: it reads the store again from
its cursor.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from controlplane.engine import paging
from controlplane.store import SqliteStore, is_outage
from controlplane.store.agent_events import AgentEventStore
from models.agent_events import SOURCE_BACKEND, SOURCE_ROLLOUTS, AgentEvent, AgentEventType
from models.agents import RolloutRecord
from models.backend import ReplicaChange, ReplicaEvent
from models.errors import FieldViolation, NotFound, invalid

log = logging.getLogger(__name__)

# Each agent keeps its newest events; older ones are pruned in the same transaction as an
# append, once every PRUNE_EVERY of its events (so it holds at most 1% more meanwhile).
KEEP_PER_AGENT = 10_000
PRUNE_EVERY = 100
# Events held in memory while the store refuses writes (beyond: the oldest are given up).
MAX_PENDING = 10_000
# Events per transaction, and per page of a watch's replay.
BATCH = 500
REPLAY_PAGE = 500
# Published events a watcher may be behind before it reads the store instead.
WATCHER_BUFFER = 1_000
# How long stopping waits for the events not stored yet.
CLOSE_WAIT_S = 5.0

_REPLICA_TYPES = {
    ReplicaChange.HEALTH: AgentEventType.REPLICA_HEALTH_CHANGED,
    ReplicaChange.BREAKER: AgentEventType.REPLICA_BREAKER_CHANGED,
    ReplicaChange.STARTED: AgentEventType.REPLICA_STARTED,
    ReplicaChange.STOPPED: AgentEventType.REPLICA_STOPPED,
}


def replica_data(event: ReplicaEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"version": event.version}
    if event.change in (ReplicaChange.HEALTH, ReplicaChange.BREAKER):
        data.update(
            {"from": event.before, "to": event.after, "reason": event.reason},
            last_error=event.last_error,
        )
    elif event.change is ReplicaChange.STARTED:
        data["node_id"] = event.node_id
        if event.reason:
            data["reason"] = event.reason
    else:
        data["reason"] = event.reason
        if event.node_id:
            data["node_id"] = event.node_id
    return data


def rollout_event(record: RolloutRecord) -> tuple[AgentEventType, dict[str, Any]]:
    """A rollout in progress has taken a step; an ended one says how it ended."""
    data: dict[str, Any] = {
        "rollout_id": record.rollout_id,
        "stable_version": record.stable.version if record.stable is not None else "",
        "new_version": record.new.version,
        "message": record.message,
    }
    if record.active:
        data.update(step=record.step, steps=len(record.steps), new_weight=record.current.new_weight)
        return AgentEventType.ROLLOUT_STEP, data
    data["state"] = record.state.value
    if record.analysis is not None:
        data.update(verdict=record.analysis.verdict, analysis_reason=record.analysis.reason)
    return AgentEventType.ROLLOUT_ENDED, data


class _Subscription:
    """What one watcher has been handed and not yet taken."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.events: collections.deque[AgentEvent] = collections.deque()
        # Fell behind by more than its buffer: it reads the store again.
        self.overflowed = False
        self.closed = False
        self._wake = asyncio.Event()

    def push(self, events: Sequence[AgentEvent]) -> None:
        if len(self.events) + len(events) > WATCHER_BUFFER:
            self.events.clear()
            self.overflowed = True
        else:
            self.events.extend(events)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()


class AgentEvents:
    def __init__(
        self,
        store: SqliteStore,
        clock: Callable[[], float],
        *,
        keep_per_agent: int = KEEP_PER_AGENT,
        prune_every: int = PRUNE_EVERY,
        max_pending: int = MAX_PENDING,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
    ) -> None:
        self._store = store
        self._table = AgentEventStore(store)
        self._clock = clock
        self._keep = keep_per_agent
        self._prune_every = prune_every
        self._max_pending = max_pending
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._last_sequence = self._table.last_sequence()
        self._pending: collections.deque[AgentEvent] = collections.deque()
        self._since_prune: collections.Counter[str] = collections.Counter()
        self._flushing: asyncio.Task[None] | None = None
        self._watchers: dict[str, set[_Subscription]] = collections.defaultdict(set)
        self._given_up = 0  # events dropped since the last report of it
        self._in_flight: list[AgentEvent] = []  # the batch being written
        # After a batch failed for a reason of its own: its events are written one at a time,
        # so that one bad event takes no other with it.
        self._singly_until = 0
        self._watching = True

    # -- recording ------------------------------------------------------------------------

    def replica_event(self, event: ReplicaEvent) -> None:
        """The backend's listener of replica changes."""
        self.record(
            event.agent,
            _REPLICA_TYPES[event.change],
            SOURCE_BACKEND,
            replica_data(event),
            replica=event.replica,
            at=event.time,
        )

    def rollout_event(self, record: RolloutRecord) -> None:
        """The rollouts' hook: a step applied, or the rollout ended (each already stored)."""
        event_type, data = rollout_event(record)
        self.record(record.agent, event_type, SOURCE_ROLLOUTS, data, at=record.update_time)

    def record(
        self,
        agent: str,
        event_type: AgentEventType,
        source: str,
        data: dict[str, Any],
        *,
        replica: str = "",
        at: float | None = None,
    ) -> None:
        """Gives the event the next sequence and queues it to be stored; on the event loop,
        never blocks and never raises."""
        try:
            self._last_sequence += 1
            event = AgentEvent(
                sequence=self._last_sequence,
                time=self._clock() if at is None else at,
                agent=agent,
                type=event_type,
                source=source,
                replica=replica,
                data=data,
            )
            self._pending.append(event)
            if len(self._pending) > self._max_pending:
                dropped = self._pending.popleft()
                if not self._given_up:
                    log.error(
                        "more than %d agent events wait for the store: giving up the oldest "
                        "(first: #%d %s of %s)",
                        self._max_pending,
                        dropped.sequence,
                        dropped.type.value,
                        dropped.agent,
                    )
                self._given_up += 1
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.get_running_loop().create_task(self._flush())
        except Exception:
            log.exception("could not record agent event %s of %s", event_type.value, agent)

    async def _flush(self) -> None:
        """Stores the pending events in order, a batch per transaction, then publishes them."""
        delay = self._retry_initial_s
        refused_since: float | None = None
        while self._in_flight or self._pending:
            if not self._in_flight:
                alone = self._pending[0].sequence <= self._singly_until
                count = 1 if alone else min(BATCH, len(self._pending))
                self._in_flight = [self._pending.popleft() for _ in range(count)]
            batch = self._in_flight
            counts = collections.Counter(event.agent for event in batch)
            prune = [a for a, n in counts.items() if self._since_prune[a] + n >= self._prune_every]
            try:
                await asyncio.to_thread(self._table.append, batch, prune, self._keep)
            except Exception as exc:
                if is_outage(exc):
                    if refused_since is None:
                        refused_since = time.monotonic()
                        log.warning(
                            "the store refuses agent events (%s): %d held until it takes "
                            "writes again",
                            exc,
                            len(batch) + len(self._pending),
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
                    continue
                self._in_flight = []
                if len(batch) > 1:
                    self._singly_until = batch[-1].sequence
                    self._pending.extendleft(reversed(batch))
                    continue
                log.error(
                    "could not store agent event #%d (%s of %s), given up: %s: %s",
                    batch[0].sequence,
                    batch[0].type.value,
                    batch[0].agent,
                    type(exc).__name__,
                    exc,
                )
                continue
            if refused_since is not None:
                log.info(
                    "the store takes agent events again after %.1fs",
                    time.monotonic() - refused_since,
                )
                refused_since = None
            if self._given_up:
                log.error(
                    "%d agent events were given up while the store refused writes", self._given_up
                )
                self._given_up = 0
            delay = self._retry_initial_s
            for agent, count in counts.items():
                self._since_prune[agent] = 0 if agent in prune else self._since_prune[agent] + count
            self._in_flight = []
            self._publish(batch)

    def _publish(self, events: Sequence[AgentEvent]) -> None:
        by_agent: dict[str, list[AgentEvent]] = collections.defaultdict(list)
        for event in events:
            by_agent[event.agent].append(event)
        for agent, theirs in by_agent.items():
            for subscription in self._watchers.get(agent, ()):
                subscription.push(theirs)

    def end_watches(self) -> None:
        """Stopping: every watch ends once it has delivered what is stored by then (a new
        one, after its replay), so that no stream holds up the server's shutdown."""
        self._watching = False
        for subscriptions in self._watchers.values():
            for subscription in subscriptions:
                subscription.close()

    async def close(self) -> None:
        """Stopping: waits a little for the events not stored yet."""
        flushing = self._flushing
        if flushing is not None and not flushing.done():
            try:
                await asyncio.wait_for(asyncio.shield(flushing), CLOSE_WAIT_S)
            except TimeoutError:
                flushing.cancel()
                log.error(
                    "%d agent events were not stored before stopping (the store refuses writes)",
                    len(self._in_flight) + len(self._pending),
                )

    # -- reading --------------------------------------------------------------------------

    def list_events(
        self, agent: str, page_size: int, page_token: str
    ) -> tuple[list[AgentEvent], str]:
        """The agent's stored events, newest first."""
        size = paging.page_size(page_size)
        query = {"agent_events": agent}
        before = paging.decode(page_token, query)
        if before is not None and not isinstance(before, int):
            raise invalid("page_token", "is not a token this server issued")
        self._require_known(agent)
        events = self._table.newest(agent, before, size + 1)
        more = len(events) > size
        events = events[:size]
        return events, paging.encode(events[-1].sequence, query) if more else ""

    async def watch(self, agent: str, after: int) -> AsyncIterator[AgentEvent]:
        """The agent's stored events with a sequence above `after`, oldest first, then live
        ones as they are stored; ends only when the control plane stops (`end_watches`)."""
        if after < 0:
            raise invalid("from_sequence", "must not be negative")
        subscription = _Subscription(agent)
        if not self._watching:
            subscription.close()
        self._watchers[agent].add(subscription)  # before the store is read: nothing missed
        try:
            self._require_known(agent)
            cursor = after
            while True:
                subscription.overflowed = False
                subscription.events.clear()  # all stored already: the store is read next
                for event in self._stored_after(agent, cursor):
                    yield event
                    cursor = event.sequence
                if subscription.closed:
                    return  # with everything stored until now
                while not (subscription.overflowed or subscription.closed):
                    while subscription.events and not subscription.overflowed:
                        event = subscription.events.popleft()
                        if event.sequence > cursor:
                            yield event
                            cursor = event.sequence
                    if not (subscription.overflowed or subscription.closed):
                        await subscription.wait()
        finally:
            watchers = self._watchers.get(agent)
            if watchers is not None:
                watchers.discard(subscription)
                if not watchers:
                    del self._watchers[agent]

    def _stored_after(self, agent: str, cursor: int) -> Iterator[AgentEvent]:
        """The agent's stored events after `cursor`, oldest first, a page at a time."""
        while True:
            page = self._table.after(agent, cursor, REPLAY_PAGE)
            yield from page
            if len(page) < REPLAY_PAGE:
                return
            cursor = page[-1].sequence

    def _require_known(self, agent: str) -> None:
        """NotFound for an agent that is neither deployed nor has stored events."""
        if not agent:
            raise invalid("agent", "is required")
        if self._store.get_agent(agent) is None and not self._table.has_events(agent):
            raise NotFound(
                f"agent {agent!r} not found",
                [FieldViolation("agent", "no such agent, and no events of one")],
            )
