"""The first admin key of a data directory, made without a server (there is no key yet to
call one with)."""

from __future__ import annotations

import time
from pathlib import Path

from controlplane.engine.security import keys
from controlplane.store.credentials import CredentialStore
from controlplane.store.sqlite_store import SqliteStore
from models.errors import FailedPrecondition
from models.security import ALL_NAMESPACES, ApiKeyInfo, Role


def create_first_admin_key(database: Path, name: str = "admin") -> tuple[ApiKeyInfo, str]:
    """An admin key on every namespace, and its token; FailedPrecondition when the store
    already has a working key (make more with that one)."""
    store = SqliteStore(database)
    try:
        credentials = CredentialStore(store)
        if credentials.keys():
            raise FailedPrecondition(
                f"{database} already has API keys: create more with "
                "`orchestrator auth keys create` using an admin key"
            )
        made = keys.new_key()
        info = ApiKeyInfo(
            key_id=made.key_id,
            name=name,
            role=Role.ADMIN,
            namespace=ALL_NAMESPACES,
            create_time=time.time(),
            created_by="auth init",
        )
        credentials.insert_key(info, made.salt, made.digest)
        return info, made.token
    finally:
        store.close()
