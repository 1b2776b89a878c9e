"""Group commit: batches submitted while a transaction is in flight share the next one.

Callers await `commit(batch)`; it returns once the batch is durable. One fsync then covers
every transition made by every execution in the meantime, which is what lets a durable engine
keep up with direct actor calls.

A store that cannot be written (`faults.is_outage`: disk full, read-only, I/O error) is an
outage, not a failure of the work: the group is retried with backoff, callers wait, and
`on_outage` says when it starts and ends (health goes NOT_SERVING meanwhile), so in-flight
executions continue by themselves once writes succeed again. Any other error fails each batch of
the group on its own, so one bad batch cannot fail the executions that shared its transaction.

A batch may belong to a chain (one execution's changes, each built on the ones before it). Once
a batch of a chain fails, the later batches of that chain fail with `PrecedingWriteFailed`
instead of being written, until the chain's owner has reconciled with the store and `mend`s it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.store.faults import PrecedingWriteFailed, is_outage
from controlplane.store.sqlite_store import SqliteStore
from controlplane.store.write_batch import WriteBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Submitted:
    batch: WriteBatch
    done: asyncio.Future[None]
    chain: str | None
    # False: the caller would rather hear of an outage than wait it out (nothing acknowledged).
    wait_out_outage: bool = True


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
        self._pending: list[_Submitted] = []
        self._flushing: asyncio.Task[None] | None = None
        self._probing: asyncio.Task[None] | None = None
        self._closing = False
        self._broken: set[str] = set()
        # When the current outage began (None: the store takes writes).
        self.unwritable_since: float | None = None

    async def commit(
        self, batch: WriteBatch, chain: str | None = None, *, wait_out_outage: bool = True
    ) -> None:
        # Shielded: a cancelled caller (e.g. a timed-out attempt) must not un-write its batch.
        await asyncio.shield(self.submit(batch, chain, wait_out_outage=wait_out_outage))

    def submit(
        self, batch: WriteBatch, chain: str | None = None, *, wait_out_outage: bool = True
    ) -> asyncio.Future[None]:
        """Queues `batch`; the future resolves once it is durable (or fails with why not).
        Without `wait_out_outage` it fails with the store's error as soon as an outage shows,
        instead of waiting for the store to take writes again."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if chain is not None and chain in self._broken:
            done.set_exception(PrecedingWriteFailed(chain))
            return done
        if not batch:
            done.set_result(None)
            return done
        self._pending.append(_Submitted(batch, done, chain, wait_out_outage))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush_all())
        return done

    def broken(self, chain: str) -> bool:
        """True while the chain has a failed batch its owner has not reconciled."""
        return chain in self._broken

    def mend(self, chain: str) -> None:
        self._broken.discard(chain)

    async def drain(self) -> None:
        """Waits for every submitted batch; during an outage it stops retrying (the batches'
        callers learn why), so a shutdown never waits for disk space."""
        self._closing = True
        if self._probing is not None:
            self._probing.cancel()
        try:
            while self._flushing is not None:
                await asyncio.shield(self._flushing)
        finally:
            self._closing = False

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                group = [s for s in group if not self._refused_after_failure(s)]
                try:
                    await self._write_through_outages(group)
                except Exception as exc:
                    if is_outage(exc):  # still unwritable, and closing
                        _settle(group, exc)
                    else:
                        await self._write_one_by_one(group)
                else:
                    _settle(group, None)
        finally:
            self._flushing = None

    async def _write_through_outages(self, group: list[_Submitted]) -> None:
        """Writes the group's batches in one transaction, retrying while the store is
        unwritable; a batch that is not to wait out an outage leaves the group with its error."""
        delay = self._retry_initial_s
        while group:
            merged = WriteBatch()
            for submitted in group:
                merged.extend(submitted.batch)
            try:
                await asyncio.to_thread(self._store.write, merged)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._outage_began(exc)
                impatient = [s for s in group if not s.wait_out_outage]
                _settle(impatient, exc)
                group[:] = [s for s in group if s.wait_out_outage]
                if not group:
                    self._probe_later()  # nothing left to retry: something must see it end
                    return
                if self._closing:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            self._outage_ended()
            return

    def _outage_began(self, exc: Exception) -> None:
        if self.unwritable_since is not None:
            return
        self.unwritable_since = time.time()
        log.error("the store refuses writes; retrying until it takes them: %s", exc)
        if self._on_outage is not None:
            self._on_outage(True)

    def _outage_ended(self) -> None:
        if self.unwritable_since is None:
            return
        log.warning(
            "the store takes writes again after %.1f s", time.time() - self.unwritable_since
        )
        self.unwritable_since = None
        if self._on_outage is not None:
            self._on_outage(False)

    def _probe_later(self) -> None:
        if self._probing is None:
            self._probing = asyncio.get_running_loop().create_task(self._probe_until_writable())

    async def _probe_until_writable(self) -> None:
        """While the store is unwritable and no batch is being retried, tries a small write with
        backoff, so the outage (and NOT_SERVING) ends when the store takes writes again."""
        delay = self._retry_initial_s
        try:
            while self.unwritable_since is not None and not self._closing:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                if self._flushing is not None:
                    continue  # a retried batch will tell
                try:
                    await asyncio.to_thread(self._store.probe)
                except Exception as exc:
                    if not is_outage(exc):
                        log.error("probing the store failed: %s", exc)
                        return
                    continue
                self._outage_ended()
        finally:
            self._probing = None

    async def _write_one_by_one(self, group: list[_Submitted]) -> None:
        for submitted in group:
            if self._refused_after_failure(submitted):
                continue
            try:
                # Through outages too: the disk may have filled since the group was tried.
                await self._write_through_outages([submitted])
            except Exception as exc:
                if submitted.chain is not None and not is_outage(exc):
                    self._broken.add(submitted.chain)
                _settle([submitted], exc)
            else:
                _settle([submitted], None)

    def _refused_after_failure(self, submitted: _Submitted) -> bool:
        """Fails a batch whose chain broke after it was queued; True if it did."""
        if submitted.chain is None or submitted.chain not in self._broken:
            return False
        _settle([submitted], PrecedingWriteFailed(submitted.chain))
        return True


def _settle(group: list[_Submitted], error: Exception | None) -> None:
    for submitted in group:
        if submitted.done.done():
            continue
        if error is None:
            submitted.done.set_result(None)
        else:
            submitted.done.set_exception(error)
