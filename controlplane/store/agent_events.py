"""Agent events in the SQLite store (the `agent_events` table of `sqlite_store.SCHEMA`).

Events come with their sequence (the engine hands sequences out, one writer appends them in
order, so commit order is sequence order). An append may prune agents in the same
transaction: each keeps its newest `keep` events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from controlplane.store.codec import dump
from controlplane.store.sqlite_store import SqliteStore
from models.agent_events import AgentEvent, AgentEventType

_COLUMNS = "sequence, time, type, source, agent, replica, data"
_INSERT = f"INSERT INTO agent_events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
# Deletes all but the newest `keep` events of an agent (nothing when it has fewer).
_PRUNE = (
    "DELETE FROM agent_events WHERE agent=? AND sequence < ("
    "SELECT sequence FROM agent_events WHERE agent=? ORDER BY sequence DESC LIMIT 1 OFFSET ?)"
)


def _row(event: AgentEvent) -> tuple[Any, ...]:
    return (
        event.sequence,
        event.time,
        event.type.value,
        event.source,
        event.agent,
        event.replica,
        dump(event.data),
    )


def _event(row: tuple[Any, ...]) -> AgentEvent | None:
    """None for a type this version does not know (written by a newer one)."""
    sequence, time, kind, source, agent, replica, data = row
    try:
        event_type = AgentEventType(kind)
    except ValueError:
        return None
    return AgentEvent(
        sequence=int(sequence),
        time=float(time),
        agent=str(agent),
        type=event_type,
        source=str(source),
        replica=str(replica),
        data=json.loads(data),
    )


def _events(rows: Iterable[tuple[Any, ...]]) -> list[AgentEvent]:
    return [event for event in map(_event, rows) if event is not None]


class AgentEventStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def last_sequence(self) -> int:
        """The highest sequence ever stored (pruned or not); 0 before the first event."""
        rows = self._store.query(
            "SELECT MAX(n) FROM (SELECT seq AS n FROM sqlite_sequence WHERE name='agent_events' "
            "UNION ALL SELECT MAX(sequence) FROM agent_events)"
        )
        return int(rows[0][0] or 0) if rows else 0

    def append(
        self, events: Sequence[AgentEvent], prune: Iterable[str] = (), keep: int = 0
    ) -> None:
        """Stores `events` and prunes each agent of `prune` to its newest `keep` events, in
        one transaction."""
        statements: list[tuple[str, Sequence[Any]]] = [(_INSERT, _row(e)) for e in events]
        if keep > 0:
            statements.extend((_PRUNE, (agent, agent, keep - 1)) for agent in prune)
        self._store.execute_all(statements)

    def newest(self, agent: str, before: int | None, limit: int) -> list[AgentEvent]:
        """The agent's events with a sequence below `before` (None: all), newest first."""
        bound = before if before is not None else 2**63 - 1
        return _events(
            self._store.query(
                f"SELECT {_COLUMNS} FROM agent_events WHERE agent=? AND sequence<? "
                "ORDER BY sequence DESC LIMIT ?",
                (agent, bound, limit),
            )
        )

    def after(self, agent: str, sequence: int, limit: int) -> list[AgentEvent]:
        """The agent's events with a sequence above `sequence`, oldest first."""
        return _events(
            self._store.query(
                f"SELECT {_COLUMNS} FROM agent_events WHERE agent=? AND sequence>? "
                "ORDER BY sequence LIMIT ?",
                (agent, sequence, limit),
            )
        )

    def has_events(self, agent: str) -> bool:
        return bool(self._store.query("SELECT 1 FROM agent_events WHERE agent=? LIMIT 1", (agent,)))

    def count(self, agent: str) -> int:
        rows = self._store.query("SELECT COUNT(*) FROM agent_events WHERE agent=?", (agent,))
        return int(rows[0][0])
