"""Which store errors are an outage (waited out) and which fail the write, with real SQLite
errors; and the writer's chains: a batch built on a failed one of its chain is not written."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from controlplane.store import (
    PrecedingWriteFailed,
    SqliteStore,
    StoreWriter,
    WriteBatch,
    is_outage,
)
from models.executions import Event, EventType


def raised(action: Any) -> BaseException:
    with pytest.raises(sqlite3.Error) as caught:
        action()
    return caught.value


def test_a_full_or_read_only_store_is_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (x TEXT)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    full = raised(lambda: conn.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,)))
    assert "full" in str(full) and is_outage(full)

    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    refused = raised(lambda: read_only.execute("INSERT INTO t VALUES ('x')"))
    assert "readonly" in str(refused) and is_outage(refused)


def test_errors_of_the_write_itself_are_not_an_outage() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO t VALUES ('a')")
    duplicate = raised(lambda: conn.execute("INSERT INTO t VALUES ('a')"))
    assert isinstance(duplicate, sqlite3.IntegrityError) and not is_outage(duplicate)
    # An OperationalError, but SQLITE_ERROR: retrying the same statement can never succeed.
    no_table = raised(lambda: conn.execute("INSERT INTO missing VALUES ('a')"))
    assert isinstance(no_table, sqlite3.OperationalError) and not is_outage(no_table)
    unbindable = raised(lambda: conn.execute("INSERT INTO t VALUES (?)", (object(),)))
    assert not is_outage(unbindable)
    assert not is_outage(TypeError("not JSON serializable"))


def event_batch(execution_id: str, sequence: int) -> WriteBatch:
    batch = WriteBatch()
    batch.add_event(Event(execution_id, sequence, EventType.TASK_SCHEDULED, 1.0, "t"))
    return batch


def stored_events(store: SqliteStore, execution_id: str) -> list[int]:
    return [e.sequence for e in store.read_events(execution_id, 1)]


def test_a_failed_batch_holds_back_the_rest_of_its_chain_until_mended(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    real_write = store.write

    def refuse_sequence_two(batch: WriteBatch) -> None:
        if any(e[0] == "x" and e[1] == 2 for e in batch.events):
            raise sqlite3.IntegrityError("refused")
        real_write(batch)

    store.write = refuse_sequence_two  # type: ignore[method-assign]
    writer = StoreWriter(store)

    async def scenario() -> list[BaseException | None]:
        # One group: x1, x2 (refused), x3 (built on x2), y1 (another chain).
        submitted = [
            writer.submit(event_batch("x", 1), "x"),
            writer.submit(event_batch("x", 2), "x"),
            writer.submit(event_batch("x", 3), "x"),
            writer.submit(event_batch("y", 1), "y"),
        ]
        outcomes = await asyncio.gather(*submitted, return_exceptions=True)
        assert writer.broken("x") and not writer.broken("y")
        with pytest.raises(PrecedingWriteFailed):
            await writer.commit(event_batch("x", 4), "x")
        writer.mend("x")
        await writer.commit(event_batch("x", 12), "x")
        return list(outcomes)

    outcomes = asyncio.run(scenario())
    assert outcomes[0] is None and outcomes[3] is None
    assert isinstance(outcomes[1], sqlite3.IntegrityError)
    assert isinstance(outcomes[2], PrecedingWriteFailed)
    assert stored_events(store, "x") == [1, 12]
    assert stored_events(store, "y") == [1]
    store.close()


class FillingDisk:
    """A store whose writes meet a full disk while `full` is set."""

    def __init__(self) -> None:
        self.full = True
        self.written: list[WriteBatch] = []

    def _check(self) -> None:
        if self.full:
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
            raise error

    def write(self, batch: WriteBatch) -> None:
        self._check()
        self.written.append(batch)

    def probe(self) -> None:
        self._check()


def test_a_write_that_will_not_wait_meets_the_outage_and_a_probe_sees_it_end() -> None:
    disk = FillingDisk()
    outages: list[bool] = []
    writer = StoreWriter(disk, on_outage=outages.append, retry_max_s=0.05)  # type: ignore[arg-type]

    async def scenario() -> None:
        with pytest.raises(sqlite3.OperationalError, match="full"):
            await asyncio.wait_for(
                writer.commit(event_batch("x", 1), wait_out_outage=False), timeout=5
            )
        assert outages == [True] and writer.unwritable_since is not None
        disk.full = False
        deadline = asyncio.get_running_loop().time() + 5
        while writer.unwritable_since is not None:
            assert asyncio.get_running_loop().time() < deadline, "the outage never ended"
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert outages == [True, False]
    assert disk.written == []  # the refused batch was not written later behind its caller's back
