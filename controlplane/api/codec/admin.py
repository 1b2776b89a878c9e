"""orchestrator.v1 AdminService messages <-> models (AuditEvent, AuditFilter)."""

from __future__ import annotations

from controlplane.api.codec.wellknown import instant, optional_seconds, seconds, timestamp
from controlplane.api.gen.orchestrator.v1 import admin_pb2
from models.audit import AuditFilter
from models.security import AuditEvent


def audit_event_to_proto(event: AuditEvent) -> admin_pb2.AuditEvent:
    return admin_pb2.AuditEvent(
        sequence=event.sequence,
        time=instant(event.time),
        caller=event.caller,
        namespace=event.namespace,
        rpc=event.rpc,
        resource=event.resource,
        request_summary=event.request_summary,
        code=event.code,
    )


def audit_event_from_proto(message: admin_pb2.AuditEvent) -> AuditEvent:
    return AuditEvent(
        sequence=message.sequence,
        time=seconds(message.time),
        caller=message.caller,
        namespace=message.namespace,
        rpc=message.rpc,
        resource=message.resource,
        request_summary=message.request_summary,
        code=message.code,
    )


def audit_request(
    query: AuditFilter, page_size: int, page_token: str
) -> admin_pb2.ListAuditEventsRequest:
    request = admin_pb2.ListAuditEventsRequest(
        namespace=query.namespace,
        caller=query.caller,
        rpc=query.rpc,
        page_size=page_size,
        page_token=page_token,
    )
    for name in ("start_time", "end_time"):
        value = timestamp(getattr(query, name))
        if value is not None:
            getattr(request, name).CopyFrom(value)
    return request


def audit_filter_from_proto(request: admin_pb2.ListAuditEventsRequest) -> AuditFilter:
    return AuditFilter(
        namespace=request.namespace,
        caller=request.caller,
        rpc=request.rpc,
        start_time=optional_seconds(request, "start_time"),
        end_time=optional_seconds(request, "end_time"),
    )
