"""Both clients' AuthService methods, kept apart from the rest of each client, which provides
`_run` (blocking in OrchestratorClient, awaitable in AsyncOrchestratorClient)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from controlplane.api.client import auth_calls
from controlplane.api.client.calls import Call
from models.security import AccessPolicy, ApiKeyInfo, Caller, Role, RoleBinding

T = TypeVar("T")


class AuthMethods:
    def _run(self, call: Call[T]) -> T:
        raise NotImplementedError

    def who_am_i(self) -> tuple[Caller, bool]:
        """The caller as the server sees it, and whether the server requires credentials."""
        return self._run(auth_calls.who_am_i())

    def list_namespaces(self) -> list[str]:
        return self._run(auth_calls.list_namespaces())

    def create_api_key(
        self, name: str, role: Role, namespace: str = "default"
    ) -> tuple[ApiKeyInfo, str]:
        """The key and its secret, which the server shows this once."""
        return self._run(auth_calls.create_api_key(name, role, namespace))

    def list_api_keys(self, include_revoked: bool = False) -> list[ApiKeyInfo]:
        return self._run(auth_calls.list_api_keys(include_revoked))

    def revoke_api_key(self, key: str) -> ApiKeyInfo:
        """`key`: its id or name."""
        return self._run(auth_calls.revoke_api_key(key))

    def grant_role(self, subject: str, binding: RoleBinding) -> None:
        self._run(auth_calls.grant_role(subject, binding))

    def revoke_role(self, subject: str, namespace: str) -> None:
        self._run(auth_calls.revoke_role(subject, namespace))

    def list_role_bindings(self) -> list[tuple[str, RoleBinding]]:
        return self._run(auth_calls.list_role_bindings())

    def set_namespace_policy(self, policy: AccessPolicy) -> AccessPolicy:
        return self._run(auth_calls.set_namespace_policy(policy))

    def get_namespace_policy(self, namespace: str) -> AccessPolicy:
        return self._run(auth_calls.get_namespace_policy(namespace))


class AsyncAuthMethods:
    def _run(self, call: Call[T]) -> Awaitable[T]:
        raise NotImplementedError

    async def who_am_i(self) -> tuple[Caller, bool]:
        return await self._run(auth_calls.who_am_i())

    async def list_namespaces(self) -> list[str]:
        return await self._run(auth_calls.list_namespaces())

    async def create_api_key(
        self, name: str, role: Role, namespace: str = "default"
    ) -> tuple[ApiKeyInfo, str]:
        return await self._run(auth_calls.create_api_key(name, role, namespace))

    async def list_api_keys(self, include_revoked: bool = False) -> list[ApiKeyInfo]:
        return await self._run(auth_calls.list_api_keys(include_revoked))

    async def revoke_api_key(self, key: str) -> ApiKeyInfo:
        return await self._run(auth_calls.revoke_api_key(key))

    async def grant_role(self, subject: str, binding: RoleBinding) -> None:
        await self._run(auth_calls.grant_role(subject, binding))

    async def revoke_role(self, subject: str, namespace: str) -> None:
        await self._run(auth_calls.revoke_role(subject, namespace))

    async def list_role_bindings(self) -> list[tuple[str, RoleBinding]]:
        return await self._run(auth_calls.list_role_bindings())

    async def set_namespace_policy(self, policy: AccessPolicy) -> AccessPolicy:
        return await self._run(auth_calls.set_namespace_policy(policy))

    async def get_namespace_policy(self, namespace: str) -> AccessPolicy:
        return await self._run(auth_calls.get_namespace_policy(namespace))
