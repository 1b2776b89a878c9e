"""orchestrator.v1.AdminService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from controlplane.api.codec.admin import audit_event_to_proto, audit_filter_from_proto
from controlplane.api.gen.orchestrator.v1 import admin_pb2, admin_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.audit.log import AuditLog

Ctx: TypeAlias = grpc.aio.ServicerContext


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, audit_log: AuditLog) -> None:
        self._audit = audit_log

    @unary
    async def ListAuditEvents(
        self, request: admin_pb2.ListAuditEventsRequest, context: Ctx
    ) -> admin_pb2.ListAuditEventsResponse:
        events, token = self._audit.list(
            audit_filter_from_proto(request), request.page_size, request.page_token
        )
        return admin_pb2.ListAuditEventsResponse(
            events=[audit_event_to_proto(e) for e in events], next_page_token=token
        )
