"""Reference rows for the forecast benchmark: statsforecast's AutoETS, AutoARIMA and MSTL.

They answer "how does a maintained automatic-forecasting library do on the same backtest?".
statsforecast is an optional dependency (`pip install -e '.[bench]'`); without it the benchmark
prints a note and skips these rows.

Both see what our models see: the history before the origin with gaps filled and outliers
replaced (`prepare`), on its last `WINDOW` values, with the detected main period as the season
length. AutoARIMA is seasonal only up to `MAX_ARIMA_SEASON`: a seasonal ARIMA search with a
period of 48 took 279 s for one fit of 600 values on a 2-core machine, so longer periods
(the 5-minute traces' daily 288) are fitted non-seasonal. `sf-mstl` is what that library
suggests for long and multiple seasons: MSTL over every detected period that fits twice in the
window, with AutoETS (no seasonal term) on the seasonally adjusted part.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from models.forecasting import Series
from scheduler.forecasting.backtest import ModelResult
from scheduler.forecasting.base import Fitted, Prepared, prepare, quiet

REFERENCES = ("sf-autoets", "sf-autoarima", "sf-mstl")
WINDOW = 1000
MAX_ARIMA_SEASON = 24


def unavailable_reason() -> str | None:
    """None when statsforecast imports, else why the reference rows are skipped."""
    try:
        import statsforecast.models  # noqa: F401
    except ImportError as exc:
        return f"statsforecast is not installed ({exc}); pip install -e '.[bench]'"
    return None


class ReferenceFitted(Fitted):
    """A statsforecast model's forecast from one history (computed on demand)."""

    def __init__(self, name: str, prepared: Prepared, period: int | None, model: Any) -> None:
        super().__init__(name, prepared, period)
        self.model = model
        self.values = prepared.values[-WINDOW:]

    def predict(self, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        percent = round(100 * level)
        with quiet():
            out = self.model.forecast(y=self.values, h=horizon, level=[percent])
        return (
            np.asarray(out["mean"], dtype=float),
            np.asarray(out[f"lo-{percent}"], dtype=float),
            np.asarray(out[f"hi-{percent}"], dtype=float),
        )


class ReferenceForecaster:
    """`sf-autoets` or `sf-autoarima` behind the benchmark's forecaster interface."""

    def __init__(self, name: str) -> None:
        if name not in REFERENCES:
            raise ValueError(f"unknown reference model {name!r}; one of {', '.join(REFERENCES)}")
        self.name = name

    def fit(self, series: Series, period_hints: Sequence[int] = ()) -> ReferenceFitted:
        from statsforecast.models import MSTL, AutoARIMA, AutoETS

        prepared = prepare(series, period_hints, transform=False)
        span = min(len(prepared), WINDOW)
        periods = [p for p in prepared.periods if 2 * p <= span]
        period = prepared.main_period
        usable = period if period in periods else None
        if self.name == "sf-autoets":
            model: Any = AutoETS(season_length=usable or 1)
        elif self.name == "sf-autoarima":
            seasonal = usable if usable and usable <= MAX_ARIMA_SEASON else None
            model = AutoARIMA(season_length=seasonal or 1)
        elif periods:
            model = MSTL(season_length=periods, trend_forecaster=AutoETS(model="ZZN"))
        else:
            model = AutoETS(model="ZZN")
        return ReferenceFitted(self.name, prepared, usable, model)


def subset(origins: Sequence[int], count: int) -> tuple[int, ...]:
    """`count` of the origins, evenly spread and including the last (references are slow)."""
    if count <= 0 or count >= len(origins):
        return tuple(origins)
    stride = len(origins) / count
    picked = {origins[len(origins) - 1 - math.floor(i * stride)] for i in range(count)}
    return tuple(sorted(picked))


def _mean_at(result: ModelResult, origins: set[int], attribute: str = "mase") -> float:
    values = [
        getattr(o, attribute)
        for o in result.origins
        if o.origin in origins and not o.error and math.isfinite(getattr(o, attribute))
    ]
    return float(np.mean(values)) if values else math.nan


def reference_report(
    cases: Sequence[Any], results: Mapping[str, Mapping[str, ModelResult]], references: list[str]
) -> dict[str, Any]:
    """Per series and group: each reference's and auto's MASE ratio to the better baseline,
    all on the references' origins, and the references' 90% coverage."""
    rows = []
    for case in cases:
        by_model = results[case.label]
        present = [m for m in references if m in by_model]
        if not present:
            continue
        origins = {o.origin for o in by_model[present[0]].origins}
        best = min(_mean_at(by_model[b], origins) for b in ("naive", "snaive"))
        ratio = {
            m: _mean_at(by_model[m], origins) / best if best > 0 else math.nan
            for m in [*present, "auto"]
            if m in by_model
        }
        coverage = {m: _mean_at(by_model[m], origins, "coverage") for m in present}
        seconds = {m: by_model[m].fit_seconds for m in present}
        rows.append(
            {
                "series": case.label,
                "group": case.group,
                "origins": sorted(origins),
                "ratio": ratio,
                "coverage": coverage,
                "fit_seconds": seconds,
            }
        )
    groups: dict[str, Any] = {}
    for group in dict.fromkeys(r["group"] for r in rows):
        members = [r for r in rows if r["group"] == group]
        names = [*references, "auto"]
        groups[group] = {
            "series": len(members),
            "mean_ratio": {
                m: _finite_mean([r["ratio"].get(m, math.nan) for r in members]) for m in names
            },
            "mean_coverage": {
                m: _finite_mean([r["coverage"].get(m, math.nan) for r in members])
                for m in references
            },
        }
    return {"models": references, "series": rows, "summary": groups}


def _finite_mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def print_references(console: Console, report: Mapping[str, Any]) -> None:
    if not report["series"]:
        return
    names = [*report["models"], "auto"]
    table = Table(title="reference rows: MASE ratio to the better baseline on the same origins")
    table.add_column("series")
    table.add_column("group")
    for name in names:
        table.add_column(name, justify="right")
    for name in report["models"]:
        table.add_column(f"{name} cov", justify="right")
    for row in report["series"]:
        table.add_row(
            row["series"],
            row["group"],
            *(f"{row['ratio'].get(m, math.nan):.2f}" for m in names),
            *(f"{row['coverage'].get(m, math.nan):.3f}" for m in report["models"]),
        )
    console.print(table)
    for group, s in report["summary"].items():
        means = ", ".join(f"{m} {s['mean_ratio'][m]:.3f}" for m in names)
        console.print(f"references, {group} ({s['series']} series): mean ratio {means}")
