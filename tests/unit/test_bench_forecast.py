"""bench/forecast.py's series list, its worst-origin ratio and the reference rows' arithmetic
(no backtest is run)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.forecast import cases, parse_args, worst_origin_ratio
from bench.forecast_references import reference_report, subset
from scheduler.forecasting.backtest import ModelResult, OriginResult


def _result(name: str, mases: list[float], at: list[int] | None = None) -> ModelResult:
    points = at if at is not None else list(range(len(mases)))
    origins = tuple(
        OriginResult(i, m, math.nan, 0.9, None, None) for i, m in zip(points, mases, strict=True)
    )
    return ModelResult(name, origins)


def test_worst_origin_is_against_the_better_baseline_at_that_origin() -> None:
    by_model = {
        "naive": _result("naive", [1.0, 2.0, 1.0]),
        "snaive": _result("snaive", [2.0, 1.0, math.nan]),
        "auto": _result("auto", [0.9, 1.5, 1.2]),
    }
    assert math.isclose(worst_origin_ratio(by_model), 1.5)


def test_every_nab_trace_the_azure_traces_and_both_synthetic_halves(tmp_path: Path) -> None:
    for name in ("nab_nyc_taxi.csv", "nab_other.csv", "azure_llm_x.csv", "other.csv"):
        (tmp_path / name).write_text("timestamp,value\n")
    found = cases(parse_args(["--data", str(tmp_path), "--synthetic", "6"]))
    groups = {c.label: c.group for c in found}
    assert groups["nyc_taxi"] == "nab" and groups["other"] == "nab-extra"
    assert groups["x-per-minute"] == "azure"
    azure = next(c for c in found if c.group == "azure")
    assert azure.bin_s == 60 and azure.horizon == 10
    assert len(groups) == 3 + 6
    assert [c.seed for c in found if c.group == "synthetic-tune"] == [0, 1, 2]
    assert [c.seed for c in found if c.group == "synthetic-heldout"] == [3, 4, 5]
    only = cases(parse_args(["--data", str(tmp_path), "--only", "synthetic-tune"]))
    assert {c.group for c in only} == {"synthetic-tune"}


def test_reference_origins_are_spread_and_keep_the_last() -> None:
    origins = list(range(100, 116))
    assert subset(origins, 4) == (103, 107, 111, 115)
    assert subset(origins, 0) == tuple(origins)
    assert subset(origins[:3], 4) == (100, 101, 102)


def test_references_are_compared_with_auto_on_their_own_origins() -> None:
    case = cases(parse_args(["--synthetic", "2", "--only", "synthetic-heldout"]))[0]
    results = {
        case.label: {
            "naive": _result("naive", [1.0, 4.0, 2.0, 4.0]),
            "snaive": _result("snaive", [3.0, 1.0, 3.0, 1.0]),
            "auto": _result("auto", [0.5, 8.0, 1.0, 8.0]),
            "sf-autoets": _result("sf-autoets", [1.5, 3.0], at=[0, 2]),
        }
    }
    report = reference_report([case], results, ["sf-autoets"])
    (row,) = report["series"]
    # On origins 0 and 2 naive (mean 1.5) beats seasonal naive (3.0).
    assert row["origins"] == [0, 2]
    assert math.isclose(row["ratio"]["sf-autoets"], 1.5)
    assert math.isclose(row["ratio"]["auto"], 0.5)
    assert math.isclose(report["summary"]["synthetic-heldout"]["mean_ratio"]["auto"], 0.5)
