"""API keys (salted hashes only), role bindings of certificate subjects and namespace
policies in the SQLite store. Small tables written rarely: one statement per change."""

from __future__ import annotations

import json
from typing import Any

from controlplane.store.codec import dump
from controlplane.store.sqlite_store import SqliteStore
from models.security import AccessPolicy, ApiKeyInfo, Role, RoleBinding

_KEY_COLUMNS = "key_id, name, role, namespace, create_time, created_by, revoke_time"


def _key_info(row: tuple[Any, ...]) -> ApiKeyInfo:
    key_id, name, role, namespace, create_time, created_by, revoke_time = row
    return ApiKeyInfo(
        key_id=str(key_id),
        name=str(name),
        role=Role.parse(str(role)),
        namespace=str(namespace),
        create_time=float(create_time),
        created_by=str(created_by),
        revoke_time=None if revoke_time is None else float(revoke_time),
    )


class CredentialStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    # -- API keys -----------------------------------------------------------------------------

    def insert_key(self, key: ApiKeyInfo, salt: bytes, digest: bytes) -> None:
        """Raises sqlite3.IntegrityError when a working key has that name."""
        self._store.execute(
            f"INSERT INTO api_keys ({_KEY_COLUMNS}, salt, digest) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                key.key_id,
                key.name,
                key.role.label,
                key.namespace,
                key.create_time,
                key.created_by,
                key.revoke_time,
                salt,
                digest,
            ),
        )

    def key_secret(self, key_id: str) -> tuple[ApiKeyInfo, bytes, bytes] | None:
        """The key with its salt and digest."""
        rows = self._store.query(
            f"SELECT {_KEY_COLUMNS}, salt, digest FROM api_keys WHERE key_id=?", (key_id,)
        )
        if not rows:
            return None
        *info, salt, digest = rows[0]
        return _key_info(tuple(info)), bytes(salt), bytes(digest)

    def keys(self, include_revoked: bool = False) -> list[ApiKeyInfo]:
        where = "" if include_revoked else "WHERE revoke_time IS NULL"
        rows = self._store.query(
            f"SELECT {_KEY_COLUMNS} FROM api_keys {where} ORDER BY create_time, key_id"
        )
        return [_key_info(row) for row in rows]

    def find_key(self, id_or_name: str) -> ApiKeyInfo | None:
        """The key with this id, else the working key with this name."""
        rows = self._store.query(
            f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id=? "
            "OR (name=? AND revoke_time IS NULL) ORDER BY key_id=? DESC LIMIT 1",
            (id_or_name, id_or_name, id_or_name),
        )
        return _key_info(rows[0]) if rows else None

    def revoke_key(self, key_id: str, time: float) -> None:
        self._store.execute(
            "UPDATE api_keys SET revoke_time=? WHERE key_id=? AND revoke_time IS NULL",
            (time, key_id),
        )

    # -- role bindings of certificate subjects -------------------------------------------------

    def grant(self, subject: str, binding: RoleBinding) -> None:
        self._store.execute(
            "INSERT INTO role_bindings VALUES (?,?,?) "
            "ON CONFLICT (subject, namespace) DO UPDATE SET role=excluded.role",
            (subject, binding.namespace, binding.role.label),
        )

    def revoke(self, subject: str, namespace: str) -> bool:
        """Whether there was such a binding."""
        existed = bool(
            self._store.query(
                "SELECT 1 FROM role_bindings WHERE subject=? AND namespace=?", (subject, namespace)
            )
        )
        self._store.execute(
            "DELETE FROM role_bindings WHERE subject=? AND namespace=?", (subject, namespace)
        )
        return existed

    def bindings_of(self, subject: str) -> tuple[RoleBinding, ...]:
        rows = self._store.query(
            "SELECT namespace, role FROM role_bindings WHERE subject=? ORDER BY namespace",
            (subject,),
        )
        return tuple(RoleBinding(str(ns), Role.parse(str(role))) for ns, role in rows)

    def all_bindings(self) -> list[tuple[str, RoleBinding]]:
        rows = self._store.query(
            "SELECT subject, namespace, role FROM role_bindings ORDER BY subject, namespace"
        )
        return [(str(s), RoleBinding(str(ns), Role.parse(str(role)))) for s, ns, role in rows]

    # -- namespace policies ------------------------------------------------------------------

    def put_policy(self, policy: AccessPolicy) -> None:
        body = dump(
            {
                "allowed_import_prefixes": list(policy.allowed_import_prefixes),
                "allowed_endpoint_hosts": list(policy.allowed_endpoint_hosts),
                "deny_package_installs": policy.deny_package_installs,
                "execution_retention_s": policy.execution_retention_s,
                "audit_retention_s": policy.audit_retention_s,
            }
        )
        self._store.execute(
            "INSERT INTO namespace_policies VALUES (?,?) "
            "ON CONFLICT (namespace) DO UPDATE SET body=excluded.body",
            (policy.namespace, body),
        )

    def policies(self) -> dict[str, AccessPolicy]:
        out = {}
        for namespace, body in self._store.query("SELECT namespace, body FROM namespace_policies"):
            data = json.loads(str(body))
            out[str(namespace)] = AccessPolicy(
                namespace=str(namespace),
                allowed_import_prefixes=tuple(data["allowed_import_prefixes"]),
                allowed_endpoint_hosts=tuple(data["allowed_endpoint_hosts"]),
                deny_package_installs=bool(data["deny_package_installs"]),
                execution_retention_s=float(data["execution_retention_s"]),
                audit_retention_s=float(data["audit_retention_s"]),
            )
        return out


def known_namespaces(store: SqliteStore) -> set[str]:
    """Every namespace something is stored in: executions, quotas, agents, workflows,
    schedules (keyed `namespace/name` outside `default`), policies."""
    found = {"default"}
    for (namespace,) in store.query(
        "SELECT DISTINCT namespace FROM executions UNION SELECT name FROM namespaces "
        "UNION SELECT namespace FROM namespace_policies"
    ):
        found.add(str(namespace))
    for table, column in (
        ("agents", "name"),
        ("workflow_revisions", "name"),
        ("schedules", "name"),
    ):
        for (key,) in store.query(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} LIKE '%/%'"
        ):
            found.add(str(key).partition("/")[0])
    return found
