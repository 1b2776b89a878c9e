"""Code around every handler sees the request, its context variables reach the handler, and
it sees how the call ended (answered, aborted, streamed)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest

from controlplane.api.interceptors.wrapping import AroundInterceptor, Call

SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        if call.request == b"refuse":
            await call.context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")
        SEEN.set(f"{call.rpc}:{call.request!r}")
        outcome = "ok"
        try:
            yield
        except BaseException:
            outcome = "raised"
            raise
        finally:
            self.calls.append((call.rpc, call.request, outcome))


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"fail":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")
    return SEEN.get().encode()


async def _stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    for i in range(3):
        yield f"{SEEN.get()}#{i}".encode()


async def _upload(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
    parts = [r async for r in requests]
    return b"+".join(parts) + SEEN.get().encode()


def _serve(scenario: Callable[[grpc.aio.Channel], Awaitable[Any]]) -> tuple[Any, Recorder]:
    """Runs `scenario` against a real server with the recorder around every handler."""
    recorder = Recorder()

    async def run() -> Any:
        server = grpc.aio.server(
            interceptors=[AroundInterceptor(recorder, lambda m: m.startswith("/test.T/"))]
        )
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.T",
                    {
                        "Echo": grpc.unary_unary_rpc_method_handler(_echo),
                        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
                        "Upload": grpc.stream_unary_rpc_method_handler(_upload),
                    },
                ),
            )
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            return await scenario(channel)
        finally:
            await channel.close()
            await server.stop(0)

    return asyncio.run(run()), recorder


def test_unary_handler_sees_what_the_around_set() -> None:
    answer, recorder = _serve(lambda channel: channel.unary_unary("/test.T/Echo")(b"hi"))
    assert answer == b"T/Echo:b'hi'"
    assert recorder.calls == [("T/Echo", b"hi", "ok")]


def _code(method: str, request: bytes) -> tuple[grpc.StatusCode, Recorder]:
    async def call(channel: grpc.aio.Channel) -> grpc.StatusCode:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await channel.unary_unary(method)(request)
        return raised.value.code()

    return _serve(call)


def test_an_aborted_handler_is_seen_as_raised() -> None:
    code, recorder = _code("/test.T/Echo", b"fail")
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert recorder.calls == [("T/Echo", b"fail", "raised")]


def test_the_around_may_refuse_before_the_handler_runs() -> None:
    code, recorder = _code("/test.T/Echo", b"refuse")
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert recorder.calls == []


def test_streams_both_ways_are_wrapped() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"a", b"b"):
            yield part

    async def scenario(channel: grpc.aio.Channel) -> tuple[list[bytes], bytes]:
        items = [item async for item in channel.unary_stream("/test.T/Stream")(b"s")]
        return items, await channel.stream_unary("/test.T/Upload")(parts())

    (items, answer), recorder = _serve(scenario)
    assert items == [b"T/Stream:b's'#0", b"T/Stream:b's'#1", b"T/Stream:b's'#2"]
    assert answer == b"a+bT/Upload:None"
    assert recorder.calls == [("T/Stream", b"s", "ok"), ("T/Upload", None, "ok")]
