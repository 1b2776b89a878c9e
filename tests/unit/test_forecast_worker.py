"""The forecast worker: the arrival-rate series it builds from load samples, fitting in its own
thread (never on the event loop), keeping the last fitted model when a refit fails, refitting
when a policy changes, and GetForecast answering from the last fit or fitting once."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.engine.scaling.forecasts import (
    ForecastSettings,
    ForecastUnavailable,
    ForecastWorker,
    arrival_rate_series,
    fit_forecast,
)
from controlplane.store import SqliteStore
from controlplane.store.load_history import LoadHistoryStore
from models.errors import InvalidArgument
from models.forecasting import Forecast, Series
from models.load import RAW, LoadSample
from models.scaling import PredictiveScaling, ScalingPolicy

T0 = 1_700_000_000.0


def sample(t: float, arrivals: float) -> LoadSample:
    return LoadSample("a", t, RAW, arrivals=arrivals)


def test_series_spreads_unaligned_samples_over_steps_and_marks_gaps() -> None:
    # Samples every ~10 s but not on the 10 s grid: 10 arrivals each = 1/s throughout.
    samples = [sample(T0 + 5 + 10 * i, 10.0) for i in range(6)]
    series = arrival_rate_series(samples, 10.0, 10.0, until=T0 + 100)
    assert series is not None and series.start == T0 and series.step_s == 10.0
    # Step 0 is half covered (from T0 + 5); the last sample ends at T0 + 65: six steps.
    assert series.values == pytest.approx((1.0,) * 6)
    # A missing sample (the recorder was down) leaves a gap, not a longer interval.
    aligned = [sample(T0 + 10 * i, 10.0) for i in range(6) if i != 2]
    series = arrival_rate_series(aligned, 10.0, 10.0, until=T0 + 100)
    assert series is not None and len(series) == 6
    assert math.isnan(series.values[2])
    assert [v for i, v in enumerate(series.values) if i != 2] == pytest.approx([1.0] * 5)
    # 20 s steps from 10 s samples; the step still in progress at `until` is left out.
    series = arrival_rate_series(samples, 10.0, 20.0, until=T0 + 50)
    assert series is not None and series.values == pytest.approx((1.0, 1.0))
    assert arrival_rate_series([], 10.0, 10.0, until=T0) is None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


POLICY = ScalingPolicy(agent="a", predictive=PredictiveScaling(lead_time_s=60.0, level=0.8))


@pytest.fixture
def history(tmp_path: Path) -> Iterator[LoadHistoryStore]:
    store = SqliteStore(tmp_path / "db.sqlite")
    history = LoadHistoryStore(store)
    history.append([sample(T0 + 10 * i, 10.0 + i) for i in range(30)])
    yield history
    store.close()


def worker(
    history: LoadHistoryStore,
    clock: Clock,
    fit: object,
    policies: dict[str, ScalingPolicy] | None = None,
) -> ForecastWorker:
    return ForecastWorker(
        history,
        lambda: dict({"a": POLICY} if policies is None else policies),
        clock,
        ForecastSettings(
            refit_interval_s=60.0,
            step_s=10.0,
            history_s=3600.0,
            model="naive",
            evaluation_period_s=15.0,
            load_interval_s=10.0,
        ),
        fit=fit,  # type: ignore[arg-type]
    )


def test_fits_run_in_the_worker_thread_while_the_event_loop_keeps_running(
    history: LoadHistoryStore,
) -> None:
    threads: list[str] = []

    def slow_fit(
        series: Series, horizon: int, model: str, level: float, hints: tuple[int, ...]
    ) -> Forecast:
        threads.append(threading.current_thread().name)
        time.sleep(0.3)  # a fit holding its thread
        return fit_forecast(series, horizon, model, level, hints)

    async def main() -> None:
        clock = Clock(T0 + 300)
        w = worker(history, clock, slow_fit)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        try:
            assert await w.run_once() == ["a"]
        finally:
            task.cancel()
        w.close()
        assert threads and threads[0].startswith("forecast")
        assert threads[0] != threading.current_thread().name
        assert ticks >= 10  # the loop ran on while the fit slept in its thread
        fitted = w.latest("a")
        assert fitted is not None
        assert fitted.forecast.level == 0.8 and fitted.requested_model == "naive"
        # It covers the decisions until the next refit plus the policy's lead time.
        assert fitted.end() >= clock.now + 60 + 60
        assert fitted.history_points == 30 and fitted.history_end == T0 + 290

    asyncio.run(main())


def test_a_failed_refit_keeps_the_last_model_and_a_policy_change_refits_at_once(
    history: LoadHistoryStore,
) -> None:
    calls = []

    def flaky(
        series: Series, horizon: int, model: str, level: float, hints: tuple[int, ...]
    ) -> Forecast:
        calls.append(series.end)
        if len(calls) > 1:
            raise ValueError("did not converge")
        return fit_forecast(series, horizon, model, level, hints)

    async def main() -> None:
        clock = Clock(T0 + 300)
        w = worker(history, clock, flaky)
        assert await w.run_once() == ["a"]
        first = w.latest("a")
        clock.now += 30
        assert await w.run_once() == []  # not due yet
        w.policy_changed("a")
        assert await w.run_once() == []  # due at once, but the fit failed
        assert len(calls) == 2
        assert w.latest("a") is first  # the last fitted model stays in use
        assert "did not converge" in w.error("a")
        w.close()

    asyncio.run(main())


def test_get_forecast_answers_from_the_last_fit_or_fits_once(history: LoadHistoryStore) -> None:
    async def main() -> None:
        clock = Clock(T0 + 300)
        w = worker(history, clock, fit_forecast)
        await w.run_once()
        assert w.fits == 1
        same = await w.get("a")
        assert same is w.latest("a") and w.fits == 1
        shorter = await w.get("a", horizon_s=30.0)
        assert w.fits == 1 and all(t < clock.now + 30 for t in shorter.forecast.timestamps)
        # Another model: fitted once in the worker, then served from that fit.
        other = await w.get("a", model="ets", level=0.5)
        assert w.fits == 2 and other.requested_model == "ets"
        again = await w.get("a", model="ets", level=0.5)
        assert w.fits == 2 and again is other
        # Concurrent identical requests share one fit.
        both = await asyncio.gather(w.get("a", model="snaive"), w.get("a", model="snaive"))
        assert w.fits == 3 and both[0] is both[1]
        with pytest.raises(ForecastUnavailable):
            await w.get("nobody")
        with pytest.raises(InvalidArgument) as bad:
            await w.get("a", model="prophet")
        assert bad.value.violations[0].field == "model"
        w.close()

    asyncio.run(main())


def test_short_history_is_reported_not_fitted(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "db.sqlite")
        history = LoadHistoryStore(store)
        history.append([sample(T0, 5.0), sample(T0 + 10, 5.0)])
        w = worker(history, Clock(T0 + 30), fit_forecast)
        assert await w.run_once() == []
        assert "not enough load history" in w.error("a")
        assert w.latest("a") is None and w.fits == 0
        w.close()
        store.close()

    asyncio.run(main())


def test_a_policy_changed_to_one_without_forecasts_lets_the_loop_wait(
    history: LoadHistoryStore,
) -> None:
    async def main() -> None:
        w = worker(history, Clock(T0 + 300), fit_forecast, {"a": ScalingPolicy(agent="a")})
        runner = asyncio.create_task(w.run())
        w.policy_changed("a")
        w.policy_changed("gone")  # deleted since
        ticks = 0
        for _ in range(20):  # the loop gets its turns: `run` waits instead of spinning
            await asyncio.sleep(0.01)
            ticks += 1
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        assert ticks == 20 and w.fits == 0
        w.close()

    asyncio.run(asyncio.wait_for(main(), 10))
