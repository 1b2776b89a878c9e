"""Appends audit events through the group-commit writer (durable when `record` returns) and
lists them newest first, a page at a time."""

from __future__ import annotations

from controlplane.engine import paging
from controlplane.store import StoreWriter, WriteBatch
from controlplane.store.audit_events import AuditEventStore, AuditPageKey, insert_statement
from models.audit import AuditFilter
from models.errors import invalid
from models.security import AuditEvent


class AuditLog:
    def __init__(self, events: AuditEventStore, writer: StoreWriter) -> None:
        self._events = events
        self._writer = writer

    async def record(self, event: AuditEvent) -> None:
        """Returns once `event` is durable. A store that refuses writes raises at once (the
        caller's answer must not wait for the disk, nor go out unrecorded)."""
        batch = WriteBatch()
        batch.statements.append(insert_statement(event))
        await self._writer.commit(batch, wait_out_outage=False)

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
