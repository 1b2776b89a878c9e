"""Forecasters on synthetic series with known seasonality, period detection, cleaning, the
Box-Cox choice, short-history fallbacks, interval coverage and the backtest metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from models.forecasting import Forecast, Series
from scheduler.forecasting import (
    MODEL_NAMES,
    ForecastError,
    calendar_periods,
    detect_periods,
    forecast,
    make_forecaster,
)
from scheduler.forecasting.auto import Combination
from scheduler.forecasting.backtest import (
    coverage,
    evaluate,
    head,
    mase,
    mase_scale,
    rolling_origins,
    smape,
)
from scheduler.forecasting.base import prepare
from scheduler.forecasting.cleaning import clean, fill_gaps, hampel
from scheduler.forecasting.evaluation import evaluate_model, plan, ratios
from scheduler.forecasting.sarimax import Fourier
from scheduler.forecasting.transform import BoxCox, choose_boxcox

HOUR = 3600.0
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces"
NO_DATA = "public benchmark data not found at ../shared/data (absent in a fresh clone)"


def seasonal(
    n: int,
    period: int = 24,
    *,
    amplitude: float = 10.0,
    noise: float = 1.0,
    level: float = 50.0,
    seed: int = 0,
    weekly: float = 0.0,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = level + amplitude * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, n)
    if weekly:
        y += weekly * np.sin(2 * np.pi * t / (7 * period))
    return np.asarray(y)


def series(values: np.ndarray | list[float], step_s: float = HOUR, name: str = "s") -> Series:
    return Series(start=1_700_000_000.0, step_s=step_s, values=tuple(values), name=name)


def holdout_mase(model: str, values: np.ndarray, horizon: int, period: int | None) -> float:
    train, test = values[:-horizon], values[-horizon:]
    result = forecast(series(train), horizon, model=model)
    return mase(test, result.mean, mase_scale(train, period))


# -- period detection ---------------------------------------------------------------------


def test_calendar_periods_follow_the_step() -> None:
    assert calendar_periods(300) == (12, 288, 2016)
    assert calendar_periods(1800) == (48, 336)
    assert calendar_periods(HOUR) == (24, 168)
    assert calendar_periods(7 * 86400) == ()


def test_detects_the_daily_cycle_of_hourly_data() -> None:
    report = detect_periods(seasonal(24 * 12), HOUR)
    assert report.main == 24
    assert report.periods == (24,)  # the weekly lag correlates too, but adds nothing


def test_detects_daily_and_weekly_cycles() -> None:
    values = seasonal(24 * 7 * 4, amplitude=10, weekly=8, noise=0.5)
    report = detect_periods(values, HOUR)
    assert report.periods == (24, 168)


def test_detects_an_uncalendared_period_by_periodogram() -> None:
    report = detect_periods(seasonal(17 * 20, period=17), step_s=None)
    assert report.main == 17
    assert report.sources[17] == "periodogram"


def test_a_hint_is_checked_not_trusted() -> None:
    values = seasonal(40 * 12, period=40)
    assert detect_periods(values, step_s=None, hints=(40,), use_periodogram=False).main == 40
    noise = np.random.default_rng(1).normal(size=400)
    assert detect_periods(noise, step_s=None, hints=(40,)).periods == ()


def test_noise_trend_and_level_shifts_are_not_cycles() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(size=600)
    shifts = np.repeat([10.0, 30.0, 15.0], 200) + rng.normal(size=600)
    trend = np.linspace(0, 50, 600) + rng.normal(size=600)
    for values in (noise, shifts, trend):
        assert detect_periods(values, 300.0).periods == ()


# -- cleaning -------------------------------------------------------------------------------


def test_fill_gaps_interpolates_and_follows_the_cycle() -> None:
    assert list(fill_gaps(np.array([1.0, math.nan, 3.0, math.nan]))) == [1.0, 2.0, 3.0, 3.0]
    values = seasonal(24 * 6, noise=0.0)
    gappy = values.copy()
    gappy[100:106] = math.nan  # six hours, a quarter of the cycle
    filled = fill_gaps(gappy, period=24)
    assert np.max(np.abs(filled[100:106] - values[100:106])) < 1.0


def test_hampel_flags_spikes_not_level_shifts() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([np.full(100, 10.0), np.full(100, 30.0)]) + rng.normal(0, 1, 200)
    values[50] += 25.0
    values[150:153] -= 40.0
    mask, _ = hampel(values)
    assert set(np.flatnonzero(mask)) == {50, 150, 151, 152}


def test_clean_replaces_outliers_and_reports() -> None:
    values = seasonal(24 * 8, noise=0.5)
    dirty = values.copy()
    dirty[[30, 90]] += 60.0
    dirty[120:124] = math.nan
    result = clean(dirty, period=24)
    assert result.notes == {"gaps_filled": 4, "outliers_replaced": 2}
    assert list(np.flatnonzero(result.outliers)) == [30, 90]
    assert np.max(np.abs(result.values - values)) < 4.0
    assert np.isfinite(result.values).all()


# -- Box-Cox --------------------------------------------------------------------------------


def test_boxcox_for_spread_that_grows_with_the_level() -> None:
    rng = np.random.default_rng(4)
    level = 20 + 15 * np.sin(2 * np.pi * np.arange(24 * 10) / 24)
    multiplicative = level * np.exp(rng.normal(0, 0.3, level.size))
    chosen = choose_boxcox(multiplicative, 24)
    assert chosen is not None and chosen.lmbda <= 0.25
    additive = level + rng.normal(0, 2.0, level.size)
    assert choose_boxcox(additive, 24) is None


@pytest.mark.parametrize("lmbda", [0.0, 0.25, 0.5])
def test_boxcox_round_trip(lmbda: float) -> None:
    values = np.array([0.0, 1.0, 5.0, 80.0])
    transform = BoxCox(lmbda, shift=1.0)
    assert np.allclose(transform.inverse(transform.forward(values)), values)


# -- every forecaster on known seasonality --------------------------------------------------


@pytest.mark.parametrize("model", ["snaive", "ets", "hw", "sarima", "sarimax", "mstl", "auto"])
def test_forecaster_recovers_the_period_and_beats_naive(model: str) -> None:
    values = seasonal(24 * 14, noise=1.0, seed=5)
    horizon = 24
    result = forecast(series(values[:-horizon]), horizon, model=model)
    assert result.period == 24, result.model
    assert result.horizon == horizon
    score = holdout_mase(model, values, horizon, 24)
    naive = holdout_mase("naive", values, horizon, 24)
    assert score < 0.5 * naive, (result.model, score, naive)
    assert all(
        lo <= m <= hi for lo, m, hi in zip(result.lower, result.mean, result.upper, strict=True)
    )


def test_mstl_uses_both_cycles() -> None:
    values = seasonal(24 * 7 * 5, amplitude=10, weekly=8, noise=0.5, seed=6)
    horizon = 24
    result = forecast(series(values[:-horizon]), horizon, model="mstl")
    assert result.model.startswith("mstl(24,168)")
    assert result.period == 168  # the main (strongest) period
    assert holdout_mase("mstl", values, horizon, 168) < holdout_mase("snaive", values, 24, 168)


def test_sarima_short_period_is_a_true_seasonal_arima() -> None:
    values = seasonal(12 * 20, period=12, seed=7)
    result = forecast(series(values, step_s=300.0), 12, model="sarima")
    assert result.model.startswith("sarima(1,") and result.model.endswith("(0,1,1,12)")


def test_sarimax_carries_daily_and_weekly_cycles() -> None:
    values = seasonal(24 * 7 * 5, amplitude=10, weekly=8, noise=0.5, seed=6)
    horizon = 24
    result = forecast(series(values[:-horizon]), horizon, model="sarimax")
    assert result.model.startswith("sarimax(") and "+fourier(24:" in result.model
    assert ",168:" in result.model  # Fourier terms for both periods
    assert result.period == 168
    score = holdout_mase("sarimax", values, horizon, 168)
    assert score < 0.2 * holdout_mase("naive", values, horizon, 168)


def test_sarimax_future_regressors_continue_the_phase() -> None:
    """A pure sinusoid (plus a trace of noise), its training part ending mid-cycle."""
    t = np.arange(24 * 10 + 7 + 48)
    values = 50 + 10 * np.sin(2 * np.pi * t / 24 + 0.7)
    values += np.random.default_rng(13).normal(0, 0.01, t.size)
    result = forecast(series(values[:-48]), 48, model="sarimax", period_hints=(24,))
    assert result.model.startswith("sarimax(")
    assert np.max(np.abs(np.array(result.mean) - values[-48:])) < 0.1


def test_sarimax_intervals_cover_about_their_level() -> None:
    """A daily sine plus AR(1) noise: 90% intervals should cover roughly 90% of what follows."""
    inside = total = 0
    n, horizon = 24 * 13, 24
    for seed in range(8):
        rng = np.random.default_rng(200 + seed)
        shocks, noise = rng.normal(0, 1, n), np.zeros(n)
        for i in range(1, n):
            noise[i] = 0.6 * noise[i - 1] + shocks[i]
        values = 50 + 10 * np.sin(2 * np.pi * np.arange(n) / 24) + noise
        result = forecast(series(values[:-horizon]), horizon, model="sarimax", level=0.9)
        assert result.period == 24, result.model
        inside += round(coverage(values[-horizon:], result.lower, result.upper) * horizon)
        total += horizon
    assert 0.78 <= inside / total <= 0.99


def test_sarimax_without_a_period_is_arima_and_says_so() -> None:
    noise = np.random.default_rng(14).normal(50, 1, 400)
    result = forecast(series(noise, step_s=300.0), 12, model="sarimax")
    assert result.model.startswith("arima(") and result.period is None
    assert "no seasonal period" in result.notes["sarimax"]
    with pytest.raises(ForecastError, match="sarimax needs at least 16 points"):
        make_forecaster("sarimax", 3).fit(series(noise[:10]), ())


def test_fourier_terms_skip_repeated_and_degenerate_frequencies() -> None:
    terms = Fourier((24, 168), (11, 64)).terms
    assert [k for p, k in terms if p == 24] == list(range(1, 12))
    weekly = [k for p, k in terms if p == 168]
    assert 7 not in weekly and 14 not in weekly and 77 not in weekly  # daily harmonics 1, 2, 11
    assert 84 not in weekly and len(weekly) == 64 - 9  # 7, 14, ..., 63 repeat daily ones
    assert Fourier((4,), (2,)).terms == ((4, 1),)  # k = 2 = 4/2: the sine is zero


def test_every_model_name_forecasts_a_gappy_series() -> None:
    values = seasonal(24 * 10, seed=8)
    values[[5, 50, 51, 52, 200]] = math.nan
    s = series(values)
    for model in MODEL_NAMES:
        result = forecast(s, 6, model=model, level=0.8)
        assert result.timestamps == tuple(s.end + (i + 1) * HOUR for i in range(6))
        assert result.level == 0.8
        assert all(math.isfinite(v) for v in result.mean + result.lower + result.upper)


def test_forecast_is_deterministic() -> None:
    s = series(seasonal(24 * 10, seed=9))
    assert forecast(s, 12) == forecast(s, 12)


def test_fitted_model_forecasts_many_times_without_refitting() -> None:
    fitted = make_forecaster("ets", 12).fit(series(seasonal(24 * 10)), ())
    short, long = fitted.forecast(6, 0.5), fitted.forecast(12, 0.95)
    assert short.mean == long.mean[:6]
    assert long.upper[0] - long.lower[0] > short.upper[0] - short.lower[0]


def test_bad_requests_raise_forecast_error() -> None:
    s = series(seasonal(100))
    with pytest.raises(ForecastError):
        forecast(s, 0)
    with pytest.raises(ForecastError):
        forecast(s, 5, level=1.5)
    with pytest.raises(ForecastError):
        forecast(s, 5, model="prophet")
    with pytest.raises(ForecastError):
        forecast(series([]), 5)
    with pytest.raises(ForecastError):
        forecast(series([math.nan, math.nan]), 5)


# -- auto: selection and short histories ----------------------------------------------------


def test_auto_explains_its_choice() -> None:
    result = forecast(series(seasonal(24 * 12, seed=10)), 24)
    info = result.notes["auto"]
    assert result.model.startswith("auto:")
    assert set(info["backtest_mase"]) >= {"snaive", "ets", "sarima", "mstl"}
    assert info["chosen"] in info["backtest_mase"]
    assert "rolling origins" in info["reason"]
    assert result.notes["periods"]["main"] == 24


def test_auto_falls_back_on_short_histories_and_says_so() -> None:
    tiny = forecast(series([5.0, 6.0, 5.5, 6.5]), 3)
    assert tiny.model == "auto:naive"
    assert "short history" in tiny.notes["auto"]["reason"]
    short = forecast(series(seasonal(30)), 24)
    assert "too few to backtest" in short.notes["auto"]["reason"]
    assert short.model == "auto:ets(A,N,N)"
    # Enough to backtest, but not two daily cycles: no seasonal candidate, and why.
    one_cycle = forecast(series(seasonal(40)), 6)
    assert "mstl" in one_cycle.notes["auto"]["skipped"]


def test_combination_averages_its_members() -> None:
    prepared = prepare(series(seasonal(24 * 8)))
    naive = make_forecaster("naive", 6).fit_prepared(prepared)
    snaive = make_forecaster("snaive", 6).fit_prepared(prepared)
    combo = Combination([naive, snaive], prepared).forecast(6, 0.9)
    a, b = naive.forecast(6, 0.9), snaive.forecast(6, 0.9)
    assert np.allclose(combo.mean, (np.array(a.mean) + np.array(b.mean)) / 2)
    assert np.allclose(combo.upper, (np.array(a.upper) + np.array(b.upper)) / 2)


# -- interval coverage ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["naive", "ets", "sarima"])
def test_intervals_cover_about_their_level_on_noise(model: str) -> None:
    """A random walk plus noise: 90% intervals should cover roughly 90% of what follows."""
    inside = total = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        values = 100 + np.cumsum(rng.normal(0, 1, 300)) + rng.normal(0, 1, 300)
        train, test = values[:-12], values[-12:]
        result = forecast(series(train, step_s=7.0), 12, model=model, level=0.9)
        inside += int(coverage(test, result.lower, result.upper) * len(test))
        total += len(test)
    assert 0.78 <= inside / total <= 0.99


# -- backtest metrics -----------------------------------------------------------------------


def test_metrics_match_hand_computed_values() -> None:
    assert mase_scale([1.0, 2.0, 4.0, 7.0]) == 2.0  # mean(|1|, |2|, |3|)
    assert mase_scale([1.0, 5.0, 2.0, 6.0, 3.0], period=2) == 1.0  # mean(|1|, |1|, |1|)
    assert mase([8.0, 9.0], [7.0, 7.0], 2.0) == 0.75
    assert mase([8.0, math.nan], [7.0, 0.0], 2.0) == 0.5  # gaps are skipped
    assert smape([100.0, 0.0], [110.0, 0.0]) == pytest.approx((200 * 10 / 210) / 2)
    assert coverage([1.0, 2.0, 3.0], [0.0, 2.5, 2.0], [2.0, 3.0, 4.0]) == pytest.approx(2 / 3)
    assert rolling_origins(100, 10, 4, 0.6) == [60, 70, 80, 90]
    assert rolling_origins(100, 50, 3, 0.6) == []


def test_evaluate_scores_every_origin_and_records_failures() -> None:
    s = series(seasonal(24 * 10, seed=11))
    result = evaluate(s, make_forecaster("snaive", 12), 12, [200, 212, 228], scale_period=24)
    assert [o.origin for o in result.origins] == [200, 212, 228]
    assert result.mase == pytest.approx(np.mean([o.mase for o in result.origins]))
    assert result.chosen == {"snaive(24)": 3}

    class Broken:
        name = "broken"

        def fit(self, series: Series, period_hints: object = ()) -> Forecast:
            raise ValueError("no fit")

    broken = evaluate(s, Broken(), 12, [200, 212])
    assert broken.failures == 2 and math.isnan(broken.mase)


def test_evaluation_ratio_to_the_better_baseline() -> None:
    s = series(seasonal(24 * 12, seed=12))
    the_plan = plan(s, 12, origins=3)
    assert the_plan.scale_period == 24
    results = {m: evaluate_model(s, m, the_plan) for m in ("naive", "snaive", "ets")}
    rel = ratios(results)
    assert rel["snaive"] == pytest.approx(1.0)  # seasonal naive is the better baseline here
    assert rel["ets"] < 1.0


def test_head_keeps_the_first_values() -> None:
    s = series([1.0, 2.0, 3.0])
    assert head(s, 2) == Series(s.start, s.step_s, (1.0, 2.0), "s")


# -- real traces ----------------------------------------------------------------------------


@pytest.mark.skipif(not DATA.is_dir(), reason=NO_DATA)
def test_nyc_taxi_has_daily_and_weekly_cycles() -> None:
    from controlplane.experiments.forecast_io import load_series

    s = load_series(DATA / "nab_nyc_taxi.csv")
    assert s.step_s == 1800.0
    report = detect_periods(np.asarray(s.values[:2016]), s.step_s)
    assert report.periods == (48, 336)
