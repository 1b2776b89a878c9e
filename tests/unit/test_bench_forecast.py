"""bench/forecast.py's series list and its worst-origin ratio (no backtest is run)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.forecast import cases, parse_args, worst_origin_ratio
from scheduler.forecasting.backtest import ModelResult, OriginResult


def _result(name: str, mases: list[float]) -> ModelResult:
    origins = tuple(OriginResult(i, m, math.nan, math.nan, None, None) for i, m in enumerate(mases))
    return ModelResult(name, origins)


def test_worst_origin_is_against_the_better_baseline_at_that_origin() -> None:
    by_model = {
        "naive": _result("naive", [1.0, 2.0, 1.0]),
        "snaive": _result("snaive", [2.0, 1.0, math.nan]),
        "auto": _result("auto", [0.9, 1.5, 1.2]),
    }
    assert math.isclose(worst_origin_ratio(by_model), 1.5)


def test_every_nab_trace_and_both_synthetic_halves(tmp_path: Path) -> None:
    for name in ("nab_nyc_taxi.csv", "nab_other.csv", "azure_x.csv"):
        (tmp_path / name).write_text("timestamp,value\n")
    found = cases(parse_args(["--data", str(tmp_path), "--synthetic", "6"]))
    groups = {c.label: c.group for c in found}
    assert groups["nyc_taxi"] == "nab" and groups["other"] == "nab-extra"
    assert "azure_x" not in groups
    assert [c.seed for c in found if c.group == "synthetic-tune"] == [0, 1, 2]
    assert [c.seed for c in found if c.group == "synthetic-heldout"] == [3, 4, 5]
    only = cases(parse_args(["--data", str(tmp_path), "--only", "synthetic-tune"]))
    assert {c.group for c in only} == {"synthetic-tune"}
