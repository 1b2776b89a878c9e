"""Turns domain errors raised inside a handler into gRPC statuses with details."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from controlplane.api.status import to_status
from controlplane.store.faults import is_outage
from models.errors import OrchestratorError, Unavailable

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def unary(
    handler: Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    @functools.wraps(handler)
    async def wrapped(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await handler(self, request, context)
        except OrchestratorError as exc:
            await context.abort_with_status(to_status(exc))
            raise  # unreachable: abort raises
        except sqlite3.OperationalError as exc:
            if not is_outage(exc):
                raise
            # A direct store write refused (disk full, read-only): worth retrying later.
            await context.abort_with_status(to_status(store_refused(exc)))
            raise

    return wrapped


def streaming(
    handler: Callable[[Any, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]]:
    @functools.wraps(handler)
    async def wrapped(
        self: Any, request: Req, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Resp]:
        try:
            async for item in handler(self, request, context):
                yield item
        except OrchestratorError as exc:
            await context.abort_with_status(to_status(exc))
        except sqlite3.OperationalError as exc:
            if not is_outage(exc):
                raise
            await context.abort_with_status(to_status(store_refused(exc)))

    return wrapped


def store_refused(exc: sqlite3.OperationalError) -> Unavailable:
    return Unavailable(f"the store refuses writes ({exc}); retry later")
