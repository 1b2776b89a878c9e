"""Group commit: batches submitted while a transaction is in flight share the next one.

Callers await `commit(batch)`; it returns once the batch is durable. One fsync then covers
every transition made by every execution in the meantime, which is what lets a durable engine
keep up with direct actor calls.
"""

from __future__ import annotations

import asyncio

from controlplane.store.sqlite_store import SqliteStore
from controlplane.store.write_batch import WriteBatch


class StoreWriter:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._pending: list[tuple[WriteBatch, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def commit(self, batch: WriteBatch) -> None:
        if not batch:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((batch, done))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush_all())
        # Shielded: a cancelled caller (e.g. a timed-out attempt) must not un-write its batch.
        await asyncio.shield(done)

    async def drain(self) -> None:
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                merged = WriteBatch()
                for batch, _ in group:
                    merged.extend(batch)
                try:
                    await asyncio.to_thread(self._store.write, merged)
                except Exception as exc:  # the whole group failed: every caller learns why
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._flushing = None
