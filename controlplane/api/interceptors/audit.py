"""Records every mutating call in the audit log before its answer goes out: who (read after
the handler, so the authentication inside this interceptor has named the caller), which
namespace, RPC and resource, a redacted summary of the request, and how the call ended (OK,
or the status code of a refusal or failure).

An accepted call whose record the store cannot take is answered UNAVAILABLE rather than
acknowledged unaudited (its change may stand: the client retries or looks). A refused call
keeps its own code; a record that cannot be written then is only logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import grpc

from controlplane.api.caller import current_caller
from controlplane.api.interceptors.audit_summary import namespace_of, resource_of, summarize
from controlplane.api.interceptors.mutations import RpcKind, kind_of
from controlplane.api.interceptors.wrapping import AroundInterceptor, Call
from controlplane.api.status import to_status
from controlplane.engine.audit.log import AuditLog
from models.errors import OrchestratorError
from models.security import AuditEvent

log = logging.getLogger(__name__)

SERVICE_PREFIX = "/orchestrator.v1."


def ended_with(error: BaseException, context: grpc.aio.ServicerContext) -> str:
    """The status code name a call that raised `error` ends with."""
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED.name
    if isinstance(error, OrchestratorError):
        return grpc.StatusCode(to_status(error).code).name
    code = context.code()
    if isinstance(error, grpc.aio.AbortError) and code is not None:
        return grpc.StatusCode(code).name
    return grpc.StatusCode.INTERNAL.name


def answered_with(context: grpc.aio.ServicerContext) -> str:
    """The status code name of a call whose handler returned (OK unless it set another)."""
    code = context.code()
    return grpc.StatusCode.OK.name if code is None else grpc.StatusCode(code).name


class AuditCalls:
    """The `CallAround` of the audit interceptor (see `interceptor`)."""

    def __init__(self, audit_log: AuditLog, clock: Callable[[], float] = time.time) -> None:
        self._log = audit_log
        self._clock = clock

    def interceptor(self) -> AroundInterceptor:
        return AroundInterceptor(self, applies_to)

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        kind = kind_of(call.rpc)
        if not _changes_something(kind, call):
            yield
            return
        received = self._clock()
        try:
            yield
        except BaseException as exc:
            code = ended_with(exc, call.context)
            try:
                await self._log.record(self._event(call, kind, received, code))
            except Exception:
                log.exception("could not record the refused call %s (%s)", call.rpc, code)
            raise
        try:
            await self._log.record(self._event(call, kind, received, answered_with(call.context)))
        except Exception as exc:
            log.error("could not record the call %s; answering UNAVAILABLE: %s", call.rpc, exc)
            await call.context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "the audit log cannot be written now; the call may have taken effect: "
                "check, or retry later",
            )

    def _event(self, call: Call, kind: RpcKind, received: float, code: str) -> AuditEvent:
        return AuditEvent(
            sequence=0,  # the store's to give
            time=received,
            caller=current_caller(call.context.peer()).identity,
            namespace=namespace_of(call.request, kind),
            rpc=call.rpc,
            resource=resource_of(call.request, kind),
            request_summary=summarize(call.request),
            code=code,
        )


def applies_to(method: str) -> bool:
    """Every orchestrator RPC that may change something (health and reflection are neither)."""
    if not method.startswith(SERVICE_PREFIX):
        return False
    service, _, name = method.strip("/").partition("/")
    return kind_of(f"{service.rpartition('.')[2]}/{name}").mutating


def _changes_something(kind: RpcKind, call: Call) -> bool:
    if not kind.mutating:
        return False
    if kind.only_if and call.request is not None:
        return bool(getattr(call.request, kind.only_if, True))
    return True
