"""Appends audit events through the group-commit writer (durable when `record` returns) and
lists them newest first, a page at a time."""

from __future__ import annotations

import asyncio

from controlplane.engine import paging
from controlplane.store import StoreWriter, WriteBatch
from controlplane.store.audit_events import AuditEventStore, AuditPageKey, insert_statement
from models.audit import AuditFilter
from models.errors import Unavailable, invalid
from models.security import AuditEvent

# How long a call's answer waits for its record at most.
MAX_WAIT_S = 10.0


class AuditLog:
    def __init__(
        self, events: AuditEventStore, writer: StoreWriter, max_wait_s: float = MAX_WAIT_S
    ) -> None:
        self._events = events
        self._writer = writer
        self._max_wait_s = max_wait_s

    async def record(self, event: AuditEvent) -> None:
        """Returns once `event` is durable. A store that refuses writes raises Unavailable
        (at once when the writer knows it, at the latest after `max_wait_s`): the call's
        answer must neither wait for the disk nor go out unrecorded."""
        if self._writer.unwritable_since is not None:
            raise Unavailable("the store refuses writes")
        batch = WriteBatch()
        batch.statements.append(insert_statement(event))
        try:
            await asyncio.wait_for(
                self._writer.commit(batch, wait_out_outage=False), self._max_wait_s
            )
        except TimeoutError:
            # Queued behind writes that wait out an outage; it is written when they are.
            raise Unavailable(f"the store took no write for {self._max_wait_s:g} s") from None

    def list(
        self, query: AuditFilter, page_size: int, page_token: str
    ) -> tuple[list[AuditEvent], str]:
        """A page of the events `query` matches, newest first, and the next page's token."""
        if (
            query.start_time is not None
            and query.end_time is not None
            and query.end_time < query.start_time
        ):
            raise invalid("end_time", "must not be before start_time")
        size = paging.page_size(page_size)
        fingerprint = [
            query.namespace,
            query.caller,
            query.rpc,
            query.start_time,
            query.end_time,
        ]
        position = paging.decode(page_token, fingerprint)
        after = None
        if position is not None:
            try:
                after = AuditPageKey(float(position[0]), int(position[1]))
            except (TypeError, ValueError, IndexError) as exc:
                raise invalid("page_token", "is not a token this server issued") from exc
        events = self._events.newest(query, after, size + 1)
        token = ""
        if len(events) > size:
            events = events[:size]
            last = events[-1]
            token = paging.encode([last.time, last.sequence], fingerprint)
        return events, token
