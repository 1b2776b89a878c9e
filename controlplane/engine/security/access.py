"""The access service the API calls: API keys, role bindings of certificate subjects and
namespace policies, each stored before it is answered."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections.abc import Callable, Iterable

from controlplane.engine.security import keys
from controlplane.engine.security.authenticator import Authenticator
from controlplane.engine.security.deploy_policy import deployment_problems
from controlplane.store.credentials import CredentialStore
from models.agents import AgentSpec
from models.errors import AlreadyExists, NotFound, PermissionDenied, invalid
from models.namespaces import namespace_problem
from models.security import (
    ALL_NAMESPACES,
    AccessPolicy,
    ApiKeyInfo,
    Caller,
    Role,
    RoleBinding,
)

_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
MAX_SUBJECT = 1024
MAX_POLICY_ENTRIES = 100
MAX_POLICY_ENTRY = 253
MAX_RETENTION_S = 100 * 365 * 86400.0


def check_binding_namespace(field: str, namespace: str) -> None:
    problem = namespace_problem(namespace, allow_all=True)
    if problem is not None:
        raise invalid(field, problem)


class AccessService:
    def __init__(
        self,
        credentials: CredentialStore,
        authenticator: Authenticator,
        known_namespaces: Callable[[], Iterable[str]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._authenticator = authenticator
        self._known_namespaces = known_namespaces
        self._clock = clock
        self._policies = credentials.policies()

    # -- API keys -----------------------------------------------------------------------------

    async def create_key(
        self, name: str, role: Role, namespace: str, created_by: str
    ) -> tuple[ApiKeyInfo, str]:
        """The new key and its token (shown once)."""
        if not _KEY_NAME.match(name):
            raise invalid("name", "must be 1-63 letters, digits, '.', '_' or '-'")
        check_binding_namespace("namespace", namespace)
        made = await asyncio.to_thread(keys.new_key)
        info = ApiKeyInfo(
            key_id=made.key_id,
            name=name,
            role=role,
            namespace=namespace,
            create_time=self._clock(),
            created_by=created_by,
        )
        try:
            await asyncio.to_thread(self._credentials.insert_key, info, made.salt, made.digest)
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"a working API key is named {name!r}") from None
        return info, made.token

    def list_keys(self, include_revoked: bool) -> list[ApiKeyInfo]:
        return self._credentials.keys(include_revoked)

    async def revoke_key(self, id_or_name: str) -> ApiKeyInfo:
        found = self._credentials.find_key(id_or_name)
        if found is None:
            raise NotFound(f"no API key has the id or name {id_or_name!r}")
        if found.revoke_time is None:
            await asyncio.to_thread(self._credentials.revoke_key, found.key_id, self._clock())
        self._authenticator.forget_key(found.key_id)
        return self._credentials.find_key(found.key_id) or found

    # -- role bindings -----------------------------------------------------------------------

    @staticmethod
    def _check_subject(subject: str) -> None:
        if not subject.strip() or len(subject) > MAX_SUBJECT:
            raise invalid("subject", f"must be a certificate subject of 1-{MAX_SUBJECT} chars")

    async def grant(self, subject: str, binding: RoleBinding) -> None:
        self._check_subject(subject)
        check_binding_namespace("binding.namespace", binding.namespace)
        await asyncio.to_thread(self._credentials.grant, subject, binding)
        self._authenticator.bindings_changed()

    async def revoke(self, subject: str, namespace: str) -> None:
        self._check_subject(subject)
        if not await asyncio.to_thread(self._credentials.revoke, subject, namespace):
            raise NotFound(f"{subject!r} holds no role in namespace {namespace!r}")
        self._authenticator.bindings_changed()

    def bindings(self) -> list[tuple[str, RoleBinding]]:
        return self._credentials.all_bindings()

    # -- namespaces and their policies -----------------------------------------------------

    def namespaces_of(self, caller: Caller) -> list[str]:
        """The namespaces the caller holds a role in; every known one for a `*` binding."""
        if caller.cluster_role() is not None:
            return sorted({*self._known_namespaces(), *self._policies})
        return sorted({b.namespace for b in caller.bindings if b.namespace != ALL_NAMESPACES})

    async def set_policy(self, policy: AccessPolicy) -> AccessPolicy:
        problem = namespace_problem(policy.namespace)
        if problem is not None:
            raise invalid("policy.namespace", problem)
        for name in ("allowed_import_prefixes", "allowed_endpoint_hosts"):
            entries: tuple[str, ...] = getattr(policy, name)
            if len(entries) > MAX_POLICY_ENTRIES:
                raise invalid(f"policy.{name}", f"at most {MAX_POLICY_ENTRIES} entries")
            for i, entry in enumerate(entries):
                if not entry.strip() or len(entry) > MAX_POLICY_ENTRY or entry != entry.strip():
                    raise invalid(f"policy.{name}[{i}]", "must be a non-empty name, no spaces")
        for name in ("execution_retention_s", "audit_retention_s"):
            value = getattr(policy, name)
            if not 0 <= value <= MAX_RETENTION_S:
                raise invalid(f"policy.{name.removesuffix('_s')}", "must be 0 to 100 years")
        await asyncio.to_thread(self._credentials.put_policy, policy)
        self._policies[policy.namespace] = policy
        return policy

    def policy(self, namespace: str) -> AccessPolicy:
        """The namespace's policy (everything allowed, server retention, when none is set)."""
        return self._policies.get(namespace) or AccessPolicy(namespace)

    def check_deployment(self, namespace: str, spec: AgentSpec) -> None:
        problems = deployment_problems(self.policy(namespace), spec)
        if problems:
            raise PermissionDenied(f"{problems[0].field}: {problems[0].description}", problems)
