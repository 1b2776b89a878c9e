"""The audit interceptor around handlers on a real gRPC server and a real store: the caller
an interceptor inside it names, the code of each way a call ends, a refusal recorded before
its status is sent, and UNAVAILABLE instead of an unaudited answer when the store refuses
writes."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from controlplane.api.caller import set_caller
from controlplane.api.interceptors.audit import AuditCalls
from controlplane.api.interceptors.wrapping import AroundInterceptor, Call
from controlplane.engine.audit.log import AuditLog
from controlplane.store import SqliteStore, StoreWriter
from controlplane.store.audit_events import AuditEventStore
from models.audit import AuditFilter
from models.errors import NotFound
from models.security import AuditEvent, Caller, CallerKind

# Served as orchestrator.v1.AgentService's methods, so the table classifies them.
SERVICE = "orchestrator.v1.AgentService"


class FakeAuthentication:
    """Names the caller from the `x-caller` metadata; refuses a call without it."""

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        metadata = dict(call.context.invocation_metadata() or ())
        if "x-caller" not in metadata:
            await call.context.abort(grpc.StatusCode.UNAUTHENTICATED, "who are you?")
        set_caller(Caller(str(metadata["x-caller"]), CallerKind.API_KEY))
        yield


async def _handler(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"abort":
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not now")
    if request == b"raise":
        raise NotFound("no such agent")
    if request == b"crash":
        raise RuntimeError("bug")
    if request == b"peer":
        return str(context.peer()).encode()
    return b"done"


def _serve(
    tmp_path: Path,
    scenario: Callable[[grpc.aio.Channel, SqliteStore], Awaitable[Any]],
) -> tuple[Any, list[AuditEvent]]:
    async def run() -> tuple[Any, list[AuditEvent]]:
        store = SqliteStore(tmp_path / "db.sqlite")
        writer = StoreWriter(store)
        events = AuditEventStore(store)
        audit = AuditCalls(AuditLog(events, writer), clock=lambda: 1000.0)
        server = grpc.aio.server(
            interceptors=[
                audit.interceptor(),
                AroundInterceptor(FakeAuthentication(), lambda m: m.startswith(f"/{SERVICE}/")),
            ]
        )
        handler = grpc.unary_unary_rpc_method_handler(_handler)
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE, {"DeleteAgent": handler, "GetAgent": handler}
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            return await scenario(channel, store), events.newest(AuditFilter(), None, 100)
        finally:
            await channel.close()
            await server.stop(0)
            await writer.drain()
            store.close()

    return asyncio.run(run())


async def _code(channel: grpc.aio.Channel, request: bytes, caller: str = "key:ci") -> str:
    metadata = (("x-caller", caller),) if caller else ()
    try:
        await channel.unary_unary(f"/{SERVICE}/DeleteAgent")(request, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        return str(exc.code().name)
    return "OK"


def test_each_way_a_call_ends_is_recorded_with_the_caller_named_inside(tmp_path: Path) -> None:
    async def scenario(channel: grpc.aio.Channel, store: SqliteStore) -> list[str]:
        codes = [await _code(channel, request) for request in (b"ok", b"abort", b"raise", b"crash")]
        codes.append(await _code(channel, b"ok", caller=""))
        await channel.unary_unary(f"/{SERVICE}/GetAgent")(b"ok", metadata=(("x-caller", "x"),))
        return codes

    codes, events = _serve(tmp_path, scenario)
    assert codes == ["OK", "FAILED_PRECONDITION", "NOT_FOUND", "INTERNAL", "UNAUTHENTICATED"]
    recorded = [(e.caller, e.rpc, e.code) for e in reversed(events)]
    assert recorded[:4] == [
        ("key:ci", "AgentService/DeleteAgent", "OK"),
        ("key:ci", "AgentService/DeleteAgent", "FAILED_PRECONDITION"),
        ("key:ci", "AgentService/DeleteAgent", "NOT_FOUND"),
        ("key:ci", "AgentService/DeleteAgent", "INTERNAL"),
    ]
    # Refused before anyone named the caller: the peer.
    caller, _, code = recorded[4]
    assert caller.startswith("ipv4:127.0.0.1:") and code == "UNAUTHENTICATED"
    assert len(events) == 5  # the read left none
    assert all(e.time == 1000.0 for e in events)


def test_a_refusal_is_in_the_store_before_its_status_is_sent(tmp_path: Path) -> None:
    async def scenario(channel: grpc.aio.Channel, store: SqliteStore) -> list[Any]:
        seen = []
        for request, caller in ((b"abort", "key:ci"), (b"ok", "")):
            await _code(channel, request, caller)
            with sqlite3.connect(store.path) as other:  # only what is committed
                seen.append(other.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0])
        return seen

    seen, _ = _serve(tmp_path, scenario)
    assert seen == [1, 2]


def test_an_accepted_call_the_store_cannot_record_is_answered_unavailable(
    tmp_path: Path,
) -> None:
    async def scenario(channel: grpc.aio.Channel, store: SqliteStore) -> list[str]:
        with store._write_lock:
            store._writer.execute("PRAGMA query_only=1")  # writes refused: SQLITE_READONLY
        try:
            codes = [await _code(channel, b"ok"), await _code(channel, b"abort")]
        finally:
            with store._write_lock:
                store._writer.execute("PRAGMA query_only=0")
        # The writer sees the store take writes again (it probes), then calls are answered.
        deadline = asyncio.get_running_loop().time() + 20
        while (code := await _code(channel, b"ok")) == "UNAVAILABLE":
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        codes.append(code)
        return codes

    codes, events = _serve(tmp_path, scenario)
    # The refusal keeps its own code; the accepted call is not acknowledged unaudited.
    assert codes == ["UNAVAILABLE", "FAILED_PRECONDITION", "OK"]
    assert [e.code for e in events] == ["OK"]


def test_the_handler_reads_its_call_through_the_recording_context(tmp_path: Path) -> None:
    async def scenario(channel: grpc.aio.Channel, store: SqliteStore) -> bytes:
        answer: bytes = await channel.unary_unary(f"/{SERVICE}/DeleteAgent")(
            b"peer", metadata=(("x-caller", "key:ci"),)
        )
        return answer

    answer, events = _serve(tmp_path, scenario)
    assert answer.startswith(b"ipv4:127.0.0.1:") and len(events) == 1
