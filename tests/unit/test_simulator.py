"""The autoscaling simulator: queueing against known answers (M/M/c, M/D/1), the pool's
accounting, batching equivalence, and the four policies on a synthetic trace."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from models.forecasting import Forecast, ScalingDecision, Series
from scheduler.scaling.arrivals import arrival_counts
from scheduler.scaling.capacity import erlang_c, mmc_mean_wait, mmc_wait_exceeds
from scheduler.scaling.replica_pools import ExponentialPool, FixedPool
from scheduler.scaling.simulation_inputs import PoolObservation, SimulationConfig
from scheduler.scaling.simulation_results import SimulationResult
from scheduler.scaling.simulator import simulate
from scheduler.scaling.strategies import (
    POLICY_NAMES,
    PolicySettings,
    StaticController,
    make_controller,
    service_time_for_peak,
)


def constant_trace(rate: float, seconds: float, step: float = 600.0) -> Series:
    return Series(start=0.0, step_s=step, values=(rate * step,) * int(seconds / step))


class Scripted:
    """Replicas from a schedule {time: replicas} (the last entry at or before now)."""

    name = "scripted"

    def __init__(self, schedule: dict[float, int]) -> None:
        self.schedule = sorted(schedule.items())
        self.seen: list[PoolObservation] = []

    def initial_replicas(self) -> int:
        return self.schedule[0][1]

    def decide(self, pool: PoolObservation) -> tuple[int, ScalingDecision | None]:
        self.seen.append(pool)
        wanted = [r for t, r in self.schedule if t <= pool.time][-1]
        return wanted, None


def seasonal_naive(period: int, widen: float = 1.1) -> Callable[[Series, int], Forecast]:
    """A test forecaster: repeat the last season (or the last value), upper = mean x widen."""

    def forecast(series: Series, horizon: int) -> Forecast:
        values = series.values
        p = period if len(values) >= period else 1
        mean = tuple(values[len(values) - p + (i % p)] for i in range(horizon))
        start = series.end + series.step_s
        return Forecast(
            model=f"test-snaive({p})",
            period=p,
            timestamps=tuple(start + i * series.step_s for i in range(horizon)),
            mean=mean,
            lower=tuple(m / widen for m in mean),
            upper=tuple(m * widen for m in mean),
            level=0.9,
        )

    return forecast


# -- queueing against known answers ---------------------------------------------------------------


@pytest.mark.parametrize(("servers", "rate"), [(1, 0.6), (4, 3.0), (10, 8.0)])
def test_mmc_wait_matches_erlang_c(servers: int, rate: float) -> None:
    """Constant Poisson arrivals, exponential service of 1 s, a fixed pool: the simulated mean
    wait, P(wait > 0) and P(wait > t) agree with Erlang C."""
    trace = constant_trace(rate, 40_000.0)
    results = {}
    for slo in (0.0, 1.0):
        config = SimulationConfig(
            service_time_s=1.0, service_distribution="exponential", slo_wait_s=slo, seed=3
        )
        results[slo] = simulate(trace, StaticController("fixed", servers), config)
    load = rate * 1.0
    waited = results[0.0].slo_violation_rate
    assert waited == pytest.approx(erlang_c(servers, load), rel=0.06)
    assert results[1.0].slo_violation_rate == pytest.approx(
        mmc_wait_exceeds(servers, rate, 1.0, 1.0), rel=0.1
    )
    assert results[0.0].mean_wait_s == pytest.approx(mmc_mean_wait(servers, rate, 1.0), rel=0.1)
    assert results[0.0].requests == pytest.approx(rate * 40_000.0, rel=0.02)


def test_md1_mean_wait_matches_pollaczek_khinchine() -> None:
    """Deterministic service (the vectorised path): M/D/1 mean wait = rho s / (2 (1 - rho))."""
    rho = 0.7
    trace = constant_trace(rho, 100_000.0)
    result = simulate(trace, StaticController("fixed", 1), SimulationConfig(service_time_s=1.0))
    assert result.mean_wait_s == pytest.approx(rho / (2 * (1 - rho)), rel=0.06)


def test_vectorised_fixed_service_equals_event_by_event() -> None:
    """The Lindley-matrix pool gives the same start times as a heap of free times."""
    rng = np.random.default_rng(7)
    arrivals = np.sort(rng.uniform(0, 100, 3000))
    for servers in (1, 3, 17):
        # A reachable state: every replica is free within one service time of the others.
        free = np.sort(rng.uniform(0, 0.9, servers))
        fixed = FixedPool(0.9, 0, 0.0)
        fixed.free = free.copy()
        heap = ExponentialPool(0, 0.0)
        heap.heap = sorted(free.tolist())
        services = np.full(len(arrivals), 0.9)
        a = fixed.serve(arrivals, None, 80.0)
        b = heap.serve(arrivals, services, 80.0)
        assert len(a) == len(b) > 0
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
        np.testing.assert_allclose(np.sort(fixed.free), sorted(heap.heap), atol=1e-9)


def test_batches_give_the_same_answer_as_stepping_period_by_period() -> None:
    trace = Series(0.0, 3600.0, synthetic_trace(days=1).values[5:10])
    service = service_time_for_peak(trace, 12)
    for name in POLICY_NAMES:
        summaries = []
        for batch in (1, 64):
            config = SimulationConfig(service_time_s=service, max_batch_periods=batch, seed=1)
            controller = make_controller(
                name, trace, config, PolicySettings(refit_every_s=3 * 3600.0), seasonal_naive(24)
            )
            summaries.append(simulate(trace, controller, config).summary())
        assert summaries[0] == pytest.approx(summaries[1], rel=1e-9), name


# -- the pool ----------------------------------------------------------------------------------


def test_replica_hours_of_a_fixed_pool() -> None:
    trace = constant_trace(1.0, 7200.0)
    result = simulate(trace, StaticController("fixed", 5), SimulationConfig(service_time_s=1.0))
    assert result.replica_hours == pytest.approx(10.0)
    assert result.scale_events == 0
    assert result.replicas_per_bin == pytest.approx([5.0] * len(trace.values))


def test_startup_delay_and_billing_from_the_request() -> None:
    """Replicas asked for at 600 s serve from 900 s and are paid from 600 s."""
    trace = Series(start=0.0, step_s=300.0, values=(0.0,) * 2 + (3000.0,) * 4)
    scripted = Scripted({0.0: 1, 600.0: 30})
    config = SimulationConfig(service_time_s=1.0, startup_delay_s=300.0)
    result = simulate(trace, scripted, config)
    assert result.replicas_per_bin[:2] == [1.0, 1.0]
    assert result.replicas_per_bin[2:] == [30.0] * 4
    assert result.ready_per_bin[2] == pytest.approx(1.0)  # still starting
    assert result.ready_per_bin[3] == pytest.approx(30.0)
    assert result.violations_per_bin[2] > 0  # 10 requests/s on one replica for 300 s
    assert result.violations_per_bin[3] > 0  # the backlog drains at 20/s from 900 s
    assert result.violations_per_bin[4] == 0 and result.violations_per_bin[5] == 0
    ready = {round(p.time): p.ready for p in scripted.seen}
    assert ready[885] == 1 and ready[900] == 30
    assert result.scale_outs == 1


def test_scale_in_cancels_starting_replicas_first_then_drains() -> None:
    trace = constant_trace(0.0, 3600.0, step=600.0)
    scripted = Scripted({0.0: 2, 600.0: 6, 660.0: 2})  # 4 asked, cancelled after 60 s
    result = simulate(trace, scripted, SimulationConfig(service_time_s=1.0, startup_delay_s=120))
    assert result.replica_seconds == pytest.approx(2 * 3600 + 4 * 60)
    assert (result.scale_outs, result.scale_ins) == (1, 1)


def test_every_request_gets_a_wait_even_past_the_trace_end() -> None:
    trace = Series(start=0.0, step_s=60.0, values=(600.0,))  # 10/s on one 1 s replica
    result = simulate(trace, StaticController("one", 1), SimulationConfig(service_time_s=1.0))
    assert result.requests == int(arrival_counts(trace, 0)[0])
    assert result.max_wait_s > 400  # the backlog drains long after the trace ends
    assert result.wait_percentiles["p99"] > result.wait_percentiles["p50"] > 0


def test_same_seed_same_arrivals_for_every_policy() -> None:
    trace = Series(0.0, 3600.0, synthetic_trace(days=1).values[:6])
    counts = arrival_counts(trace, 5)
    assert counts.sum() == pytest.approx(sum(trace.values), rel=0.03)
    config = SimulationConfig(service_time_s=service_time_for_peak(trace, 10), seed=5)
    for name in ("reactive", "static-peak"):
        result = simulate(trace, make_controller(name, trace, config), config)
        assert result.arrivals == counts.astype(int).tolist()
    assert not np.array_equal(counts, arrival_counts(trace, 6))


# -- the four policies ---------------------------------------------------------------------------


def synthetic_trace(days: int) -> Series:
    """Hourly request counts: a quiet night and a steep morning ramp (x2 per hour), peaking at
    18/s (so a 12-replica peak pool serves requests of about 0.47 s)."""
    hourly = "16 12 12 12 12 16 32 64 96 104 104 100 100 96 96 92 88 80 64 48 36 28 24 20"
    values = [625.0 * float(v) for v in hourly.split()] * days
    return Series(start=0.0, step_s=3600.0, values=tuple(values))


@pytest.fixture(scope="module")
def four_policies() -> dict[str, SimulationResult]:
    trace = synthetic_trace(days=2)
    config = SimulationConfig(service_time_s=service_time_for_peak(trace, 12), seed=2)
    settings = PolicySettings(refit_every_s=3600.0)
    return {
        name: simulate(
            trace, make_controller(name, trace, config, settings, seasonal_naive(24)), config
        )
        for name in POLICY_NAMES
    }


def test_static_peak_has_no_startup_effect() -> None:
    trace = synthetic_trace(days=1)
    service = service_time_for_peak(trace, 12)
    results = []
    for delay in (0.0, 600.0):
        config = SimulationConfig(service_time_s=service, startup_delay_s=delay, seed=2)
        results.append(simulate(trace, make_controller("static-peak", trace, config), config))
    assert results[0].summary() == results[1].summary()
    assert results[0].scale_events == 0
    assert results[0].min_replicas == results[0].max_replicas == 12


def test_oracle_has_the_fewest_violations(four_policies: dict[str, SimulationResult]) -> None:
    rates = {n: r.slo_violation_rate for n, r in four_policies.items()}
    assert rates["oracle"] <= rates["reactive"]
    assert rates["oracle"] <= rates["predictive"]
    assert rates["oracle"] <= rates["static-peak"] + 1e-3  # a static peak pool barely waits
    assert rates["reactive"] > 0  # the morning ramp outruns the 120 s start-up


def test_predictive_beats_reactive_on_the_ramp(four_policies: dict[str, SimulationResult]) -> None:
    reactive, predictive, oracle, peak = (
        four_policies[n] for n in ("reactive", "predictive", "oracle", "static-peak")
    )
    assert predictive.violations <= 0.5 * reactive.violations
    # ...for less than the static pool, and the oracle pays least
    assert oracle.replica_hours < predictive.replica_hours < peak.replica_hours


def test_decisions_carry_reasons(four_policies: dict[str, SimulationResult]) -> None:
    decisions = four_policies["predictive"].decisions
    assert decisions
    assert all(d.desired != d.current for d in decisions)
    assert {d.policy for d in decisions} <= {"target", "predictive", "clamp", "none"}
    assert any(d.policy == "predictive" for d in decisions)
    assert all(d.reason and "recommendations" in d.inputs for d in decisions)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        SimulationConfig(service_time_s=0.0)
    with pytest.raises(ValueError):
        SimulationConfig(service_time_s=1.0, service_distribution="weibull")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gaps"):
        simulate(
            Series(0.0, 60.0, (1.0, math.nan)),
            StaticController("x", 1),
            SimulationConfig(service_time_s=1.0),
        )


def test_seasonal_naive_stand_in() -> None:
    from scheduler.scaling.baseline_forecast import choose_period, seasonal_naive

    assert choose_period(100, (24, 168)) == 24  # two weeks of hourly data are not there yet
    assert choose_period(400, (24, 168)) == 168
    assert choose_period(10, (24,)) == 1
    values = tuple(float(10 + (i % 24)) for i in range(24 * 7))
    forecast = seasonal_naive(Series(0.0, 3600.0, values), 30, level=0.8, period_hints=(24,))
    assert forecast.period == 24 and forecast.horizon == 30
    assert forecast.timestamps[0] == 24 * 7 * 3600.0
    assert forecast.mean[:24] == values[-24:]
    bounds = zip(forecast.lower, forecast.mean, forecast.upper, strict=True)
    assert all(lo <= m <= up for lo, m, up in bounds)
