"""The control loops' driver: rounds keep coming after a failure, cancellation stops it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from controlplane.engine.periodic import run_every


def test_a_failed_round_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def round_once() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("boom")

    async def main() -> None:
        task = asyncio.create_task(run_every(0.001, round_once, logging.getLogger("t"), "tick"))
        while len(calls) < 3:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert len(calls) >= 3
    assert "tick failed" in caplog.text and "boom" in caplog.text


def test_first_wait_delays_the_first_round() -> None:
    calls: list[float] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def round_once() -> None:
            calls.append(loop.time() - started)

        task = asyncio.create_task(
            run_every(0.05, round_once, logging.getLogger("t"), "tick", first_wait=True)
        )
        while not calls:
            await asyncio.sleep(0.005)
        task.cancel()
        return calls[0]

    assert asyncio.run(main()) >= 0.05
