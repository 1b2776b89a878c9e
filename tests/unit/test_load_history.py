"""Load history: raw samples with minute and hour roll-ups, retention, and the recorder reading
the dispatcher and the replicas (real SQLite, in-process backend)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from controlplane.app import ControlPlane
from controlplane.config import GrpcConfig, LoopConfig, ServerConfig, StoreConfig
from controlplane.store import SqliteStore
from controlplane.store.load_history import LoadHistoryStore
from models.agents import AgentSpec
from models.backend import AttemptRequest
from models.load import HOUR, MINUTE, RAW, LoadSample
from tests.unit.fake_backend import FakeBackend


def test_roll_ups_sum_counts_average_gauges_and_weight_service_time(tmp_path: Path) -> None:
    history = LoadHistoryStore(SqliteStore(tmp_path / "db.sqlite"))
    t0 = 3600.0 * 10
    history.append(
        [
            LoadSample("a", t0, RAW, arrivals=4, completions=2, queue_depth=1, service_time_s=1.0),
            LoadSample("a", t0 + 10, RAW, arrivals=6, completions=6, queue_depth=3, replicas=2),
        ]
    )
    history.append([LoadSample("a", t0 + 70, RAW, arrivals=1, completions=1, service_time_s=3)])
    history.append([LoadSample("a", t0 + 20, RAW, arrivals=1, completions=2, service_time_s=2.0)])
    minutes = history.read("a", MINUTE, t0, t0 + HOUR)
    assert [m.time for m in minutes] == [t0, t0 + 60]
    first = minutes[0]
    assert (first.arrivals, first.completions) == (11, 10)
    assert first.queue_depth == pytest.approx(4 / 3)
    # (2 x 1.0 + 6 x 0 + 2 x 2.0) / 10 completions
    assert first.service_time_s == pytest.approx(0.6)
    (hour,) = history.read("a", HOUR, t0, t0 + HOUR)
    assert (hour.arrivals, hour.completions) == (12, 11)
    assert len(history.read("a", RAW, t0, t0 + HOUR)) == 4
    history.prune(t0 + 2 * 86400)  # raw rows older than a day go; roll-ups stay
    assert history.read("a", RAW, t0, t0 + HOUR) == []
    assert len(history.read("a", MINUTE, t0, t0 + HOUR)) == 2


def test_recorder_samples_arrivals_queue_and_service_time(tmp_path: Path) -> None:
    async def main() -> None:
        backend = FakeBackend()
        gate = asyncio.Event()

        async def slow(value: Any, request: AttemptRequest) -> Any:
            if value == "block":
                await gate.wait()
            return value

        backend.behaviours["work"] = slow
        config = ServerConfig(
            store=StoreConfig(data_dir=tmp_path),
            grpc=GrpcConfig(host="127.0.0.1", port=0),
            loops=LoopConfig(load_interval_s=0),
        )
        cp = ControlPlane(config, backend)
        await cp.start()
        try:
            await cp.agents.deploy(AgentSpec("work", "v1", "m:W", replicas=2))
            await cp.catalog.create(
                "name: w\ntasks:\n"
                "  - {id: a, agent: work, input: fast}\n"
                "  - {id: b, agent: work, input: block}\n"
            )
            record, _ = await cp.executions.start("w", 0, {}, "")

            def a_released() -> bool:  # a finished and gave its grant back; b holds one
                a = cp.executions.get(record.execution_id).tasks["a"]
                return a.status.terminal and cp.dispatcher.agent_queue("work") == (0, 1)

            for _ in range(500):
                if len(backend.calls) == 2 and a_released():
                    break
                await asyncio.sleep(0.01)
            samples = {s.agent: s for s in await cp.load.run_once()}
            work = samples["work"]
            assert (work.arrivals, work.completions) == (2, 1)
            assert work.replicas == 2
            assert work.service_time_s >= 0
            assert work.in_flight == 0  # the fake backend does not report outstanding attempts
            assert work.queue_depth == 1  # b holds a grant and has not finished
        finally:
            gate.set()
            await cp.stop()

    asyncio.run(main())
