"""The unary calls of AdminService as data (see `calls`): both clients run these."""

from __future__ import annotations

from controlplane.api.client.calls import Call, Page, Paged
from controlplane.api.codec.admin import audit_event_from_proto, audit_request
from models.audit import AuditFilter
from models.security import AuditEvent


def list_audit_events(query: AuditFilter, page_size: int) -> Paged[AuditEvent]:
    def page(token: str) -> Call[Page[AuditEvent]]:
        return Call(
            "admin.ListAuditEvents",
            audit_request(query, page_size, token),
            lambda r: Page([audit_event_from_proto(e) for e in r.events], r.next_page_token),
        )

    return page
