"""Records every mutating call in the audit log before its answer goes out: who (read when
the call ends, so the authentication inside this interceptor has named the caller), which
namespace, RPC and resource, a redacted summary of the request, and how the call ended (OK,
or the status code of a refusal or failure).

grpc sends an abort's status at once, so the handler and the interceptors inside this one get a
context whose `abort` records the call first. An accepted call whose record the store cannot
take is answered UNAVAILABLE rather than acknowledged unaudited (its change may stand: the
client retries or looks). A refused call keeps its own code; a record that cannot be written
then is only logged. An error that escapes every handler and interceptor inside is answered
with the code recorded: a domain error's, INTERNAL for anything else (not grpc's UNKNOWN).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn, cast

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


class RecordingContext:
    """The call's context, except that an abort is recorded (once) before it is sent."""

    def __init__(
        self, context: grpc.aio.ServicerContext, record: Callable[[str], Awaitable[None]]
    ) -> None:
        self._context = context
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    async def abort(self, code: grpc.StatusCode, *args: Any, **kwargs: Any) -> NoReturn:
        await self._record(grpc.StatusCode(code).name)
        await self._context.abort(code, *args, **kwargs)
        raise AssertionError("abort returned")  # (it raises)

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self._record(grpc.StatusCode(status.code).name)
        await self._context.abort_with_status(status)
        raise AssertionError("abort returned")


class AuditCalls:
    """The `CallAround` of the audit interceptor (see `interceptor`)."""

    def __init__(self, audit_log: AuditLog, clock: Callable[[], float] = time.time) -> None:
        self._log = audit_log
        self._clock = clock

    def interceptor(self) -> AroundInterceptor:
        return AroundInterceptor(self, applies_to)

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[grpc.aio.ServicerContext | None]:
        kind = kind_of(call.rpc)
        if not _changes_something(kind, call):
            yield None
            return
        received = self._clock()
        recorded = False

        async def refused(code: str) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            try:
                await self._log.record(self._event(call, kind, received, code))
            except Exception:
                log.exception("could not record the refused call %s (%s)", call.rpc, code)

        try:
            yield cast(grpc.aio.ServicerContext, RecordingContext(call.context, refused))
        except BaseException as exc:
            await refused(ended_with(exc, call.context))  # (recorded already if aborted)
            if isinstance(exc, Exception) and call.context.code() is None:
                await _answer(call.context, exc)  # as recorded, not grpc's UNKNOWN
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


async def _answer(context: grpc.aio.ServicerContext, error: Exception) -> None:
    """Aborts with the status of an error raised past every handler's own conversion: a domain
    error's (an interceptor inside may refuse by raising), INTERNAL for anything else."""
    if isinstance(error, OrchestratorError):
        await context.abort_with_status(to_status(error))
    log.error("internal error in a call", exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error (see the server's log)")


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
