"""Backtest several models on one series by name (what the `forecast backtest` command and the
benchmark run): the same rolling origins, the same MASE scale, and each model's MASE relative
to the better of the two baselines (naive and seasonal naive)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.forecasting import Series
from scheduler.forecasting.api import make_forecaster
from scheduler.forecasting.backtest import (
    Fits,
    ModelResult,
    OriginResult,
    evaluate,
    head,
    rolling_origins,
)
from scheduler.forecasting.base import DEFAULT_LEVEL, ForecastError, prepare, single_threaded

BASELINES = ("naive", "snaive")
DEFAULT_ORIGINS = 16
DEFAULT_START_FRACTION = 0.6


@dataclass(frozen=True)
class Plan:
    """What a backtest of one series evaluates."""

    horizon: int
    origins: tuple[int, ...]
    scale_period: int | None  # lag of the MASE scale (the main period before the first origin)
    level: float
    period_hints: tuple[int, ...]


def plan(
    series: Series,
    horizon: int,
    *,
    origins: int = DEFAULT_ORIGINS,
    start_fraction: float = DEFAULT_START_FRACTION,
    level: float = DEFAULT_LEVEL,
    period_hints: Sequence[int] = (),
) -> Plan:
    points = rolling_origins(len(series), horizon, origins, start_fraction)
    if not points:
        raise ForecastError(
            f"{series.name or 'series'}: {len(series)} values leave no origin after "
            f"{start_fraction:.0%} of it with {horizon} steps to score"
        )
    first = prepare(head(series, points[0]), period_hints)
    return Plan(horizon, tuple(points), first.main_period, level, tuple(period_hints))


def evaluate_model(
    series: Series,
    model: str,
    the_plan: Plan,
    *,
    clock: Callable[[], float] | None = None,
    on_origin: Callable[[OriginResult], None] | None = None,
) -> ModelResult:
    forecaster = make_forecaster(
        model, the_plan.horizon, level=the_plan.level, period_hints=the_plan.period_hints
    )
    result = evaluate_forecaster(series, forecaster, the_plan, clock=clock, on_origin=on_origin)
    return ModelResult(model, result.origins, result.chosen)


def evaluate_forecaster(
    series: Series,
    forecaster: Fits,
    the_plan: Plan,
    *,
    clock: Callable[[], float] | None = None,
    on_origin: Callable[[OriginResult], None] | None = None,
) -> ModelResult:
    """`evaluate_model` for a forecaster object (one not in the catalog, e.g. a reference)."""
    with single_threaded():
        return evaluate(
            series,
            forecaster,
            the_plan.horizon,
            the_plan.origins,
            level=the_plan.level,
            scale_period=the_plan.scale_period,
            period_hints=the_plan.period_hints,
            clock=clock,
            on_origin=on_origin,
        )


def ratios(results: Mapping[str, ModelResult]) -> dict[str, float]:
    """Each model's mean MASE over the lower mean MASE of naive and seasonal naive."""
    baselines = [results[b].mase for b in BASELINES if b in results]
    best = min((m for m in baselines if math.isfinite(m)), default=math.nan)
    out: dict[str, float] = {}
    for name, result in results.items():
        if math.isfinite(best) and best > 0 and math.isfinite(result.mase):
            out[name] = result.mase / best
        else:
            out[name] = math.nan
    return out


def summary_json(
    series: Series, the_plan: Plan, results: Mapping[str, ModelResult]
) -> dict[str, Any]:
    rel = ratios(results)
    return {
        "series": series.name,
        "points": len(series),
        "step_s": series.step_s,
        "horizon": the_plan.horizon,
        "level": the_plan.level,
        "origins": list(the_plan.origins),
        "mase_scale_period": the_plan.scale_period,
        "best_baseline": min(
            (b for b in BASELINES if b in results and math.isfinite(results[b].mase)),
            key=lambda b: results[b].mase,
            default=None,
        ),
        "ratio_vs_best_baseline": {
            k: (round(v, 4) if math.isfinite(v) else None) for k, v in rel.items()
        },
        "models": {name: result.to_json() for name, result in results.items()},
    }
