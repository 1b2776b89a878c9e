"""The synchronous client's AdminService methods, kept apart from the rest of
OrchestratorClient, which provides `_run` and `_items`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TypeVar

from controlplane.api.client import admin_calls
from controlplane.api.client.calls import Paged
from models.audit import AuditFilter
from models.security import AuditEvent

T = TypeVar("T")


class AdminMethods:
    page_size: int

    def _items(self, paged: Paged[T]) -> Iterator[T]:
        raise NotImplementedError

    def iter_audit_events(self, query: AuditFilter | None = None) -> Iterator[AuditEvent]:
        """The audit events `query` matches (default: all), newest first, each page fetched
        when reached."""
        paged = admin_calls.list_audit_events(query or AuditFilter(), self.page_size)
        return self._items(paged)

    def list_audit_events(
        self, query: AuditFilter | None = None, limit: int | None = None
    ) -> list[AuditEvent]:
        """The newest `limit` (None: all) events `query` matches, newest first."""
        size = self.page_size if limit is None else min(limit, self.page_size)
        paged = admin_calls.list_audit_events(query or AuditFilter(), size)
        return list(itertools.islice(self._items(paged), limit))
