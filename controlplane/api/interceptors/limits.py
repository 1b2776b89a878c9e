"""Per-caller request rate and open streams (`limits.requests_per_second`, `limits.burst`,
`limits.streams_per_caller`): a caller over either is refused with RESOURCE_EXHAUSTED naming
the setting, a rate refusal with the delay until its next request is let through
(`google.rpc.RetryInfo`).

A caller is its authenticated identity; without authentication it is the peer's host, without
the port, so that reconnecting does not give a client a fresh allowance. The state of at most
`tracked_callers` callers is kept: the least recently seen is forgotten first (its bucket is
full again when it returns), except while it holds streams open, so a flood of distinct peers
can neither grow memory without bound nor free a caller's streams. Health checks and reflection
are exempt: probes must always get through.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

import grpc
from google.protobuf.descriptor import FileDescriptor

from controlplane.api.caller import current_caller
from controlplane.api.interceptors.wrapping import AroundInterceptor, Call
from controlplane.api.status import to_status
from models.errors import ResourceExhausted
from models.limits import setting
from models.security import CallerKind

EXEMPT_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.")


@dataclass(frozen=True)
class CallLimits:
    requests_per_second: float
    burst: int
    streams_per_caller: int
    tracked_callers: int


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; a request takes one."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> float:
        """0 when a token was taken; otherwise the seconds until one is there."""
        elapsed = max(now - self._updated, 0.0)  # a clock that steps back refills nothing
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._rate


@dataclass
class CallerState:
    bucket: TokenBucket
    streams: int = 0


@dataclass
class CallerTable:
    """The state of recently seen callers, least recently seen first; callers with streams
    open are never forgotten (they move aside when the table is full)."""

    capacity: int
    recent: OrderedDict[str, CallerState] = field(default_factory=OrderedDict)
    streaming: dict[str, CallerState] = field(default_factory=dict)

    def get(self, key: str, make: Callable[[], CallerState]) -> CallerState:
        state = self.streaming.get(key)
        if state is not None:
            return state
        state = self.recent.get(key)
        if state is not None:
            self.recent.move_to_end(key)
            return state
        state = self.recent[key] = make()
        while len(self.recent) > self.capacity:
            oldest, dropped = self.recent.popitem(last=False)
            if dropped.streams:
                self.streaming[oldest] = dropped
        return state

    def stream_ended(self, key: str, state: CallerState) -> None:
        state.streams -= 1
        if not state.streams and self.streaming.get(key) is state:
            del self.streaming[key]  # set aside while streaming: forgotten now

    def __len__(self) -> int:
        return len(self.recent) + len(self.streaming)


def peer_host(peer: str) -> str:
    """`ipv4:10.0.0.7:53211` -> `10.0.0.7`, `ipv6:[::1]:53211` -> `::1`; other forms (unix
    sockets) whole."""
    kind, _, address = peer.partition(":")
    if kind == "ipv4":
        return address.rpartition(":")[0] or address
    if kind == "ipv6":
        host = address.rpartition(":")[0] if address.startswith("[") else address
        return host.strip("[]") or address
    return peer


def caller_key(context: grpc.aio.ServicerContext) -> str:
    caller = current_caller()
    if caller.kind is CallerKind.UNAUTHENTICATED:
        return f"peer:{peer_host(context.peer() or '')}"
    return f"{caller.kind.value}:{caller.identity}"


class CallerLimits:
    """The `CallAround` that enforces the limits; `streaming` says which methods hold a stream."""

    def __init__(
        self,
        limits: CallLimits,
        streaming: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._streaming = streaming
        self._clock = clock
        self._callers = CallerTable(limits.tracked_callers)

    @property
    def tracked(self) -> int:
        return len(self._callers)

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        key = caller_key(call.context)
        now = self._clock()
        limits = self._limits
        state = self._callers.get(
            key, lambda: CallerState(TokenBucket(limits.requests_per_second, limits.burst, now))
        )
        wait = state.bucket.take(now)
        if wait > 0:
            rate = setting("requests_per_second", limits.requests_per_second)
            burst = setting("burst", limits.burst)
            await _refuse(
                call,
                ResourceExhausted(
                    f"too many requests: over {rate} with {burst}; retry in {wait:.2f}s",
                    retry_after_s=wait,
                ),
            )
        if not self._streaming(call.method):
            yield
            return
        if state.streams >= limits.streams_per_caller:
            bound = setting("streams_per_caller", limits.streams_per_caller)
            await _refuse(
                call,
                ResourceExhausted(
                    f"too many open streams: {state.streams} already, at {bound}; close one first"
                ),
            )
        state.streams += 1
        try:
            yield
        finally:
            self._callers.stream_ended(key, state)


async def _refuse(call: Call, error: ResourceExhausted) -> None:
    await call.context.abort_with_status(to_status(error))


def streaming_methods(files: Iterable[FileDescriptor]) -> frozenset[str]:
    """The full names (`/pkg.Service/Method`) of every method with a stream either way."""
    return frozenset(
        f"/{service.full_name}/{method.name}"
        for descriptor in files
        for service in descriptor.services_by_name.values()
        for method in service.methods
        if method.server_streaming or method.client_streaming
    )


def limited(method: str) -> bool:
    return not method.lstrip("/").startswith(EXEMPT_SERVICES)


def limits_interceptor(
    limits: CallLimits,
    files: Iterable[FileDescriptor],
    clock: Callable[[], float] = time.monotonic,
) -> AroundInterceptor:
    """The interceptor over every method of the services in `files` (and any other service
    but health and reflection)."""
    streams = streaming_methods(files)
    return AroundInterceptor(CallerLimits(limits, streams.__contains__, clock), limited)
