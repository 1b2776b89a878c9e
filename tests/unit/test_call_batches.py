"""CallBatches on fake actor handles (pure scheduling logic; the real calls are covered by
tests/integration/test_ray_backend.py): what goes out alone, what goes out together, and how
answers, cancellations and failures reach each attempt."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ray_backend.call_batches import CallBatches


class _Method:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refs: list[asyncio.Future[Any]] = []

    def remote(self, *args: Any) -> asyncio.Future[Any]:
        ref: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.calls.append(args)
        self.refs.append(ref)
        return ref


class _Handle:
    def __init__(self, batches: bool = True) -> None:
        self.execute = _Method()
        self.cancel_attempts = _Method()
        if batches:
            self.execute_batch = _Method()


def _context(task_id: str) -> dict[str, Any]:
    return {"execution_id": "e", "task_id": task_id, "attempt": 1}


def test_the_first_of_a_turn_goes_alone_and_the_rest_together() -> None:
    async def body() -> None:
        batches, handle = CallBatches(), _Handle()
        calls = [batches.submit("r", handle, {"n": i}, _context(f"t{i}")) for i in range(3)]
        assert len(handle.execute.calls) == 1  # at once, before the turn ends
        assert calls[0].pending is handle.execute.refs[0]
        await asyncio.sleep(0)  # the turn ends: the other two go out in one call
        assert handle.execute_batch.calls == [
            ([({"n": 1}, _context("t1")), ({"n": 2}, _context("t2"))],)
        ]
        handle.execute_batch.refs[0].set_result([{"ok": True, "n": 1}, {"ok": True, "n": 2}])
        assert [await c.pending for c in calls[1:]] == [{"ok": True, "n": 1}, {"ok": True, "n": 2}]
        assert (batches.stats.calls, batches.stats.attempts) == (2, 3)

    asyncio.run(body())


def test_a_call_cancelled_while_queued_never_goes_out() -> None:
    async def body() -> None:
        batches, handle = CallBatches(), _Handle()
        calls = [batches.submit("r", handle, i, _context(f"t{i}")) for i in range(3)]
        calls[1].cancel()
        await asyncio.sleep(0)
        assert handle.execute_batch.calls == []  # one left: it goes alone
        assert [args[0] for args in handle.execute.calls] == [0, 2]
        assert handle.cancel_attempts.calls == []

    asyncio.run(body())


def test_a_batched_call_is_cancelled_on_the_replica_by_its_key() -> None:
    async def body() -> None:
        batches, handle = CallBatches(), _Handle()
        calls = [batches.submit("r", handle, i, _context(f"t{i}")) for i in range(3)]
        await asyncio.sleep(0)
        calls[2].cancel()
        assert handle.cancel_attempts.calls == [([("e", "t2", 1)],)]
        handle.execute_batch.refs[0].set_result([{"ok": True}, {"ok": False, "cancelled": True}])
        assert await calls[1].pending == {"ok": True}
        with pytest.raises(asyncio.CancelledError):
            await calls[2].pending

    asyncio.run(body())


def test_a_failed_batch_fails_each_of_its_attempts() -> None:
    async def body() -> None:
        batches, handle = CallBatches(), _Handle()
        calls = [batches.submit("r", handle, i, _context(f"t{i}")) for i in range(3)]
        await asyncio.sleep(0)
        handle.execute_batch.refs[0].set_exception(RuntimeError("replica died"))
        for call in calls[1:]:
            with pytest.raises(RuntimeError, match="replica died"):
                await call.pending

    asyncio.run(body())


def test_replicas_without_batches_and_other_replicas_get_their_own_calls() -> None:
    async def body() -> None:
        batches, old, other = CallBatches(), _Handle(batches=False), _Handle()
        for i in range(3):
            batches.submit("old", old, i, _context(f"o{i}"))
        batches.submit("other", other, 9, _context("x"))
        await asyncio.sleep(0)
        assert [args[0] for args in old.execute.calls] == [0, 1, 2]
        assert [args[0] for args in other.execute.calls] == [9]
        assert not hasattr(old, "execute_batch") and other.execute_batch.calls == []

    asyncio.run(body())
