"""AgentThreads: sync calls on worker threads, awaited from event loops."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from ray_backend.agent_threads import AgentThreads

REQUEST = contextvars.ContextVar("request", default="none")


def test_results_and_exceptions_reach_the_awaiting_coroutine() -> None:
    threads = AgentThreads(4)

    def fail() -> None:
        raise ValueError("bad input")

    async def main() -> None:
        assert await threads.run(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ValueError, match="bad input"):
            await threads.run(fail)
        answers = await asyncio.gather(*(threads.run(lambda i=i: i * i) for i in range(200)))
        assert answers == [i * i for i in range(200)]

    asyncio.run(main())


def test_stop_iteration_arrives_as_a_runtime_error() -> None:
    threads = AgentThreads(1)

    def stop() -> None:
        raise StopIteration("done")

    async def main() -> None:
        with pytest.raises(RuntimeError, match="StopIteration"):
            await threads.run(stop)

    asyncio.run(main())


def test_calls_overlap_up_to_size_and_not_beyond() -> None:
    size = 3
    threads = AgentThreads(size)
    lock = threading.Lock()
    running = peak = 0

    def busy() -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return threading.current_thread().name

    async def main() -> set[str]:
        return set(await asyncio.gather(*(threads.run(busy) for _ in range(12))))

    names = asyncio.run(main())
    assert peak == size
    assert len(names) == size


def test_call_runs_in_a_copy_of_the_callers_context() -> None:
    threads = AgentThreads(2)

    async def one(value: str) -> str:
        REQUEST.set(value)
        return str(await threads.run(REQUEST.get))

    async def main() -> list[str]:
        return list(await asyncio.gather(one("a"), one("b")))

    assert asyncio.run(main()) == ["a", "b"]


def test_a_call_cancelled_before_it_starts_never_runs() -> None:
    threads = AgentThreads(1)
    gate = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        first = asyncio.ensure_future(threads.run(gate.wait, 10))
        second = asyncio.ensure_future(threads.run(ran.append, "second"))
        await asyncio.sleep(0)
        second.cancel()
        gate.set()
        assert await first is True
        # The worker handed the cancelled call back without running it; a later call proves it
        # is past it.
        assert await threads.run(lambda: "third") == "third"

    asyncio.run(main())
    assert ran == []


def test_two_loops_get_their_own_results() -> None:
    threads = AgentThreads(2)
    results: dict[str, list[int]] = {}

    def loop_thread(name: str, base: int) -> None:
        async def main() -> list[int]:
            return list(
                await asyncio.gather(*(threads.run(lambda i=i: base + i) for i in range(50)))
            )

        results[name] = asyncio.run(main())

    workers = [
        threading.Thread(target=loop_thread, args=(name, base))
        for name, base in (("one", 0), ("two", 1000))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert results == {"one": list(range(50)), "two": list(range(1000, 1050))}
