"""auto's robustness: naive and drift as candidates, median selection over several origins,
the naive fallback when backtests disagree, level-shift detection and the fit after a shift,
and the seeded synthetic series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.forecasting import Series
from scheduler.forecasting import forecast, make_forecaster
from scheduler.forecasting.auto import DEFAULT_CANDIDATES, Auto, _Trial
from scheduler.forecasting.shifts import detect_level_shift
from scheduler.forecasting.synthetic import seed_halves, synthetic_series

STEP = 300.0


def series(values: np.ndarray) -> Series:
    return Series(0.0, STEP, tuple(float(v) for v in values), "s")


def test_naive_and_drift_are_candidates() -> None:
    assert {"naive", "drift"} <= set(DEFAULT_CANDIDATES)
    rng = np.random.default_rng(3)
    walk = 100 + np.cumsum(rng.normal(0, 1, 600))
    info = forecast(series(walk), 12).notes["auto"]
    assert {"naive", "drift"} <= set(info["backtest_mase"])
    members = [set(label.split("+")) for label in info["backtest_mase"] if "+" in label]
    assert members and not any(m & {"naive", "drift"} for m in members)


def test_drift_extends_the_average_step() -> None:
    line = 5.0 + 2.0 * np.arange(50)
    result = make_forecaster("drift", 3).fit(series(line)).forecast(3, 0.9)
    assert np.allclose(result.mean, [105.0, 107.0, 109.0])
    assert np.all(np.asarray(result.lower) <= result.mean)
    assert np.all(np.asarray(result.upper) >= result.mean)


def test_selection_ranks_by_median_so_one_bad_origin_does_not_decide() -> None:
    steady = _Trial(("ets",), mase=[0.8, 0.8, 0.8, 0.8, 0.8])
    lucky = _Trial(("sarima",), mase=[0.5, 0.5, 0.5, 0.5, 9.0])
    assert lucky.score == 0.5 and steady.score == 0.8
    auto = Auto(6, combination_bias=0.0)
    assert min([steady, lucky], key=auto._rank) is lucky  # the one bad origin is ignored


def test_intervals_are_calibrated_on_origins_that_did_not_choose_the_model() -> None:
    # Each origin is scored with the entry the other two origins choose: without origin 0 (or
    # 1) sarima's median is 0.5 against ets's 1.25; without origin 2, ets wins (0.5 vs 0.9).
    ets = _Trial(("ets",), mase=[0.5, 0.5, 2.0], residuals=[[(1.0, 0.0, 1.0)]] * 3)
    sarima = _Trial(("sarima",), mase=[0.9, 0.9, 0.1], residuals=[[(5.0, 0.0, 1.0)]] * 3)
    auto = Auto(6, combination_bias=0.0)
    held_out = auto._held_out_residuals([ets, sarima], ets)
    assert held_out == [(5.0, 0.0, 1.0), (5.0, 0.0, 1.0), (1.0, 0.0, 1.0)]
    single = _Trial(("ets",), mase=[0.5], residuals=[[(2.0, 0.0, 1.0)]])
    assert auto._held_out_residuals([single], single) == [(2.0, 0.0, 1.0)]


def test_more_origins_where_the_history_allows() -> None:
    auto = Auto(10)
    assert len(auto.inner_origin_list(40)) == 2  # only two leave 20 training values
    assert len(auto.inner_origin_list(1000)) == 6
    assert auto.inner_origin_list(1000)[-1] == 990


def test_naive_is_the_fallback_when_backtests_disagree() -> None:
    naive = _Trial(("naive",), mase=[1.0, 1.0, 1.0])
    erratic = _Trial(("snaive",), mase=[0.9, 0.9, 3.0])
    clearly_better = _Trial(("ets",), mase=[0.5, 0.5, 2.0])
    assert Auto._disagreeing_baseline(erratic, [naive, erratic]) is naive
    assert Auto._disagreeing_baseline(clearly_better, [naive, clearly_better]) is None
    assert Auto._disagreeing_baseline(naive, [naive]) is None


def test_changepoint_test_finds_a_known_shift() -> None:
    rng = np.random.default_rng(1)
    shifted = np.r_[rng.normal(10, 1, 600), rng.normal(20, 1, 200)]
    shift = detect_level_shift(shifted, 400, min_segment=50)
    assert shift is not None and abs(shift.index - 600) <= 3
    assert math.isclose(shift.after, 20, abs_tol=0.5)


def test_changepoint_test_is_quiet_without_a_shift() -> None:
    rng = np.random.default_rng(2)
    assert detect_level_shift(rng.normal(10, 1, 800), 400, min_segment=50) is None
    t = np.arange(800)
    cycle = 10 + 5 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.5, 800)
    assert detect_level_shift(cycle, 432, min_segment=144) is None
    # A shift too close to the end to fit on is not reported.
    late = np.r_[rng.normal(10, 1, 780), rng.normal(20, 1, 20)]
    assert detect_level_shift(late, 400, min_segment=50) is None
    recent = detect_level_shift(late, 400, min_segment=50, min_after=12)
    assert recent is not None and abs(recent.index - 780) <= 2


@pytest.mark.parametrize("after_points", [42, 200])
def test_flat_series_after_a_shift_is_forecast_from_its_new_level(after_points: int) -> None:
    rng = np.random.default_rng(4)
    t = np.arange(1000)
    before = 40 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, 1000)
    after = 5 + rng.normal(0, 0.2, after_points)
    result = forecast(series(np.r_[before, after]), 36)
    info = result.notes["auto"]
    assert abs(info["level_shift"]["index"] - 1000) <= 3
    assert np.allclose(result.mean, 5.0, atol=0.5)


def test_synthetic_series_are_deterministic_per_seed() -> None:
    a, b, c = synthetic_series(7), synthetic_series(7), synthetic_series(8)
    assert np.array_equal(np.asarray(a.values), np.asarray(b.values), equal_nan=True)
    assert not np.array_equal(np.asarray(a.values), np.asarray(c.values), equal_nan=True)
    assert a.step_s == STEP and len(a) == 14 * 288 and a.name == "synthetic-7"
    assert np.nanmin(np.asarray(a.values)) >= 0


def test_seed_halves_split_tuning_from_held_out() -> None:
    tune, held_out = seed_halves(40)
    assert tune == tuple(range(20)) and held_out == tuple(range(20, 40))
