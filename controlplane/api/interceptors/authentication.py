"""Authentication and authorisation of every call: who calls (an API key in `authorization:
Bearer` metadata, else a verified client certificate's subject), then whether its role allows
the RPC in the request's namespace (`permissions.PERMISSIONS`). The health service is always
open, for probes; reflection is open unless configured otherwise.

With authentication off every caller may do everything; the caller is then named by its key
(when it sends a valid one) or its peer address, for the audit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from controlplane.api.caller import set_caller
from controlplane.api.interceptors.wrapping import Call
from controlplane.api.permissions import PERMISSIONS, Permission, namespace_of
from controlplane.api.status import to_status
from controlplane.engine.security.authenticator import Authenticator
from models.errors import OrchestratorError, PermissionDenied, Unauthenticated
from models.security import ALL_NAMESPACES, Caller, CallerKind, Role, Scope

log = logging.getLogger(__name__)

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection."
BEARER = "bearer "


def _bearer_token(call: Call) -> str | None:
    for key, value in call.context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            if value[: len(BEARER)].lower() == BEARER:
                return value[len(BEARER) :].strip()
            return ""
    return None


def _certificate_subject(call: Call) -> str | None:
    subjects = call.context.auth_context().get("x509_subject") or []
    return subjects[0].decode(errors="replace") if subjects else None


def permission_problem(caller: Caller, permission: Permission, namespace: str) -> str | None:
    """Why `caller` may not make a call needing `permission` in `namespace`, or None."""
    if permission.scope is Scope.IDENTITY or permission.role is None:
        return None
    needed: Role = permission.role
    if permission.scope is Scope.CLUSTER or namespace == ALL_NAMESPACES:
        held, where = caller.cluster_role(), "every namespace ('*')"
    elif permission.scope is Scope.ANY_NAMESPACE:
        held, where = caller.best_role(), "some namespace"
    else:
        held, where = caller.role_in(namespace), f"namespace {namespace!r}"
    if held is not None and held >= needed:
        return None
    holds = f"holds {held.label}" if held is not None else "holds no role there"
    return f"{caller.identity} needs the {needed.label} role in {where} ({holds})"


class Authentication:
    def __init__(
        self, authenticator: Authenticator, required: bool, open_reflection: bool = True
    ) -> None:
        self._authenticator = authenticator
        self._required = required
        self._open_reflection = open_reflection

    @staticmethod
    def applies_to(method: str) -> bool:
        return not method.startswith(HEALTH_PREFIX)

    async def _identify(self, call: Call) -> Caller:
        token = _bearer_token(call)
        subject = _certificate_subject(call)
        if not self._required:
            identity = call.context.peer() or "unknown"
            if token:
                with contextlib.suppress(Unauthenticated):
                    identity = (await self._authenticator.by_key(token)).identity
            elif subject:
                identity = subject
            return Caller(identity=identity, kind=CallerKind.UNAUTHENTICATED)
        if token is not None:
            return await self._authenticator.by_key(token)
        if subject is not None:
            return self._authenticator.by_subject(subject)
        raise Unauthenticated(
            "no credentials: send `authorization: Bearer <API key>` metadata "
            "or connect with a client certificate"
        )

    async def _admit(self, call: Call) -> None:
        if call.method.startswith(REFLECTION_PREFIX):
            if self._open_reflection or not self._required:
                return
            set_caller(await self._identify(call))
            return
        caller = await self._identify(call)
        set_caller(caller)
        permission = PERMISSIONS.get(call.rpc)
        if permission is None:  # closed by default: an RPC nobody classified
            raise PermissionDenied(f"{call.rpc} has no permission entry; nobody may call it")
        if self._required:
            problem = permission_problem(caller, permission, namespace_of(call.request))
            if problem is not None:
                raise PermissionDenied(f"{call.rpc}: {problem}")

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        try:
            await self._admit(call)
        except OrchestratorError as exc:
            await call.context.abort_with_status(to_status(exc))
        yield
