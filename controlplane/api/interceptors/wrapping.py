"""Runs code around every RPC's handler, seeing the request message (which a plain
`grpc.aio.ServerInterceptor` does not): the interceptors that authenticate, limit and audit
calls are each a `CallAround` wrapped this way.

The wrapper runs in the handler's own task, so a context variable one `CallAround` sets (the
caller) is seen by the ones inside it and by the handler. A `CallAround` may also give the ones
inside it and the handler a context of its own (the audit's sees their aborts: grpc sends an
abort's status at once, before the code around the handler is left).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import grpc


@dataclass(frozen=True)
class Call:
    """One RPC as the interceptors see it."""

    method: str  # "/orchestrator.v1.AgentService/DeployAgent"
    request: Any | None  # None for a client stream (UploadPackage), read by the handler
    context: grpc.aio.ServicerContext

    @property
    def service(self) -> str:
        return self.method.strip("/").partition("/")[0]

    @property
    def rpc(self) -> str:
        """`AgentService/DeployAgent`, the name tables and audit records use."""
        service, _, name = self.method.strip("/").partition("/")
        return f"{service.rpartition('.')[2]}/{name}"


class CallAround(Protocol):
    def around(self, call: Call) -> AbstractAsyncContextManager[grpc.aio.ServicerContext | None]:
        """Entered before the handler runs (it may abort the call), left after its answer. What
        it gives (None: nothing) is the context the handler, and the ones inside, get instead
        of the call's."""
        ...


class AroundInterceptor(grpc.aio.ServerInterceptor):
    """Applies `around` to the handler of every RPC it `applies_to`."""

    def __init__(self, around: CallAround, applies_to: Callable[[str], bool]) -> None:
        self._around = around
        self._applies_to = applies_to

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._applies_to(method):
            return handler
        return wrap_handler(handler, method, self._around)


def wrap_handler(
    handler: grpc.RpcMethodHandler, method: str, around: CallAround
) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with around.around(Call(method, request, context)) as given:
                return await unary(request, context if given is None else given)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        streaming = handler.unary_stream

        async def unary_stream(
            request: Any, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[Any]:
            async with around.around(Call(method, request, context)) as given:
                async for item in _responses(
                    streaming(request, context if given is None else given)
                ):
                    yield item

        return grpc.unary_stream_rpc_method_handler(
            unary_stream, handler.request_deserializer, handler.response_serializer
        )
    if handler.stream_unary is not None:
        upload = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            async with around.around(Call(method, None, context)) as given:
                return await upload(requests, context if given is None else given)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary,
            handler.request_deserializer,
            handler.response_serializer,
        )
    if handler.stream_stream is not None:
        bidirectional = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            async with around.around(Call(method, None, context)) as given:
                async for item in _responses(
                    bidirectional(requests, context if given is None else given)
                ):
                    yield item

        return grpc.stream_stream_rpc_method_handler(
            stream_stream, handler.request_deserializer, handler.response_serializer
        )
    return handler


async def _responses(produced: Any) -> AsyncIterator[Any]:
    """A server-streaming handler's answers, whether it is an async generator or a coroutine
    that writes through the context (and returns None)."""
    if hasattr(produced, "__aiter__"):
        async with contextlib.aclosing(produced):
            async for item in produced:
                yield item
        return
    await produced
