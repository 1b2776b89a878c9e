"""Group commit: batches submitted while a transaction is in flight share the next one.

Callers await `commit(batch)`; it returns once the batch is durable. One fsync then covers
every transition made by every execution in the meantime, which is what lets a durable engine
keep up with direct actor calls.

A store that cannot be written (disk full, read-only file, I/O error) is an outage, not a
failure of the work: the group is retried with backoff, callers wait, and `on_outage` says when
it starts and ends (health goes NOT_SERVING meanwhile), so in-flight executions continue by
themselves once writes succeed again. Any other error fails each batch of the group on its own,
so one bad batch cannot fail the executions that shared its transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from controlplane.store.sqlite_store import SqliteStore
from controlplane.store.write_batch import WriteBatch

log = logging.getLogger(__name__)


class StoreWriter:
    def __init__(
        self,
        store: SqliteStore,
        on_outage: Callable[[bool], None] | None = None,
        retry_initial_s: float = 0.05,
        retry_max_s: float = 5.0,
    ) -> None:
        self._store = store
        self._on_outage = on_outage
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._pending: list[tuple[WriteBatch, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._closing = False
        # When the current outage began (None: the store takes writes).
        self.unwritable_since: float | None = None

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
        """Waits for every submitted batch; during an outage it stops retrying (the batches'
        callers learn why), so a shutdown never waits for disk space."""
        self._closing = True
        try:
            while self._flushing is not None:
                await asyncio.shield(self._flushing)
        finally:
            self._closing = False

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                merged = WriteBatch()
                for batch, _ in group:
                    merged.extend(batch)
                try:
                    await self._write_through_outages(merged)
                except sqlite3.OperationalError as exc:  # still unwritable, and closing
                    _settle(group, exc)
                except Exception:
                    await self._write_one_by_one(group)
                else:
                    _settle(group, None)
        finally:
            self._flushing = None

    async def _write_through_outages(self, batch: WriteBatch) -> None:
        delay = self._retry_initial_s
        while True:
            try:
                await asyncio.to_thread(self._store.write, batch)
            except sqlite3.OperationalError as exc:
                if self.unwritable_since is None:
                    self.unwritable_since = time.time()
                    log.error("the store refuses writes; retrying until it takes them: %s", exc)
                    if self._on_outage is not None:
                        self._on_outage(True)
                if self._closing:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            if self.unwritable_since is not None:
                log.warning(
                    "the store takes writes again after %.1f s",
                    time.time() - self.unwritable_since,
                )
                self.unwritable_since = None
                if self._on_outage is not None:
                    self._on_outage(False)
            return

    async def _write_one_by_one(self, group: list[tuple[WriteBatch, asyncio.Future[None]]]) -> None:
        for batch, done in group:
            try:
                await asyncio.to_thread(self._store.write, batch)
            except Exception as exc:
                _settle([(batch, done)], exc)
            else:
                _settle([(batch, done)], None)


def _settle(group: list[tuple[WriteBatch, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
