"""The writes of one execution: one chain in the group commit, counted while in flight, with a
failed one reported as a fault of the change that made it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from controlplane.store import StoreWriter, WriteBatch, is_outage
from controlplane.store.codec import dump
from models.executions import ExecutionRecord


async def nothing_to_commit() -> None:
    """What there is to await for a change that wrote nothing."""


class ExecutionWrites:
    def __init__(
        self,
        writer: StoreWriter,
        execution_id: str,
        on_fault: Callable[[str, BaseException], None],
    ) -> None:
        """`on_fault(task_id, error)` hears of every write that failed for a reason other than
        an outage ("" for a change of the whole execution)."""
        self._writer = writer
        self._chain = execution_id
        self._on_fault = on_fault
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._inputs: tuple[object, str] | None = None

    def inputs_text(self, record: ExecutionRecord) -> str:
        """The execution's inputs as stored, encoded once per inputs object rather than with
        every change (a large input would cost each step). A change to the inputs (a runtime
        modification) replaces the object with a changed copy, never edits it in place."""
        if self._inputs is None or self._inputs[0] is not record.inputs:
            self._inputs = (record.inputs, dump(record.inputs))
        return self._inputs[1]

    def submit(self, task_id: str, batch: WriteBatch) -> asyncio.Future[None]:
        done = self._writer.submit(batch, self._chain)
        self._in_flight += 1
        self._idle.clear()
        # Reported from the future itself, so a fault is known even when the change's caller
        # was cancelled meanwhile, and before anything that waited on it runs again.
        done.add_done_callback(functools.partial(self._settled, task_id))
        return done

    def _settled(self, task_id: str, done: asyncio.Future[None]) -> None:
        self._in_flight -= 1
        if not self._in_flight:
            self._idle.set()
        error = None if done.cancelled() else done.exception()
        if error is not None and not is_outage(error):
            self._on_fault(task_id, error)

    async def settled(self) -> None:
        """Returns once no write of the execution is in flight (so the store holds all that
        will be held of them)."""
        while self._in_flight:
            await self._idle.wait()

    @property
    def broken(self) -> bool:
        """A write failed and later ones are held back until `mend()`."""
        return self._writer.broken(self._chain)

    def mend(self) -> None:
        self._writer.mend(self._chain)
