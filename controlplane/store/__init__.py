"""Durable state: SQLite in WAL mode, written through one group-committing writer."""

from controlplane.store.faults import PrecedingWriteFailed, is_outage
from controlplane.store.sqlite_store import SqliteStore
from controlplane.store.write_batch import WriteBatch
from controlplane.store.writer import StoreWriter

__all__ = ["PrecedingWriteFailed", "SqliteStore", "StoreWriter", "WriteBatch", "is_outage"]
