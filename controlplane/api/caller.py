"""The caller of the RPC being handled, for everything below the interceptors (audit,
limits, the engine's `modified_by`). The authentication interceptor sets it for each call."""

from __future__ import annotations

from contextvars import ContextVar

from models.security import Caller, CallerKind

_CURRENT: ContextVar[Caller | None] = ContextVar("orchestrator_caller", default=None)


def set_caller(caller: Caller) -> None:
    _CURRENT.set(caller)


def current_caller(peer: str = "") -> Caller:
    """The call's caller; without one (authentication off and no interceptor ran), the peer."""
    caller = _CURRENT.get()
    if caller is not None:
        return caller
    return Caller(identity=peer or "unknown", kind=CallerKind.UNAUTHENTICATED)
