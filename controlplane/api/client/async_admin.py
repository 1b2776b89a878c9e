"""The asyncio client's AdminService methods, kept apart from the rest of
AsyncOrchestratorClient, which provides `_items`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from controlplane.api.client import admin_calls
from controlplane.api.client.calls import Paged
from models.audit import AuditFilter
from models.security import AuditEvent

T = TypeVar("T")


class AsyncAdminMethods:
    page_size: int

    def _items(self, paged: Paged[T], limit: int | None = None) -> AsyncIterator[T]:
        raise NotImplementedError

    def iter_audit_events(
        self, query: AuditFilter | None = None, limit: int | None = None
    ) -> AsyncIterator[AuditEvent]:
        """As `OrchestratorClient.iter_audit_events`, at most `limit` (None: all)."""
        size = self.page_size if limit is None else min(limit, self.page_size)
        paged = admin_calls.list_audit_events(query or AuditFilter(), size)
        return self._items(paged, limit)

    async def list_audit_events(
        self, query: AuditFilter | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        return [event async for event in self.iter_audit_events(query, limit)]
