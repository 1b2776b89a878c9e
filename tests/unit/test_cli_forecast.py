"""`orchestrator forecast predict|backtest` on small synthetic CSV files, the CSV readers, and
bad input (exit status 2)."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from controlplane.cli.main import main
from controlplane.experiments.forecast_io import (
    SeriesFileError,
    load_series,
    parse_series_csv,
    parse_time,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "traces"
NO_DATA = "public benchmark data not found at ../shared/data (absent in a fresh clone)"
START = datetime(2014, 7, 1, tzinfo=UTC)
FORMAT = "%Y-%m-%d %H:%M:%S"


def write_series(path: Path, n: int = 24 * 12, step_minutes: int = 60, seed: int = 0) -> Path:
    """A NAB-style `timestamp,value` file with a daily cycle."""
    rng = np.random.default_rng(seed)
    per_day = 24 * 60 // step_minutes
    lines = ["timestamp,value"]
    for i in range(n):
        value = 100 + 30 * math.sin(2 * math.pi * i / per_day) + rng.normal(0, 3)
        when = START + timedelta(minutes=step_minutes * i)
        lines.append(f"{when.strftime(FORMAT)},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


# -- CSV readers ----------------------------------------------------------------------------


def test_value_csv_becomes_a_regular_series_with_gaps() -> None:
    text = (
        "timestamp,value\n"
        "2014-07-01 00:00:00,10\n"
        "2014-07-01 00:30:00,12\n"
        "2014-07-01 01:30:00,16\n"  # 01:00 is missing
        "2014-07-01 02:00:00,18\n"
    )
    series = parse_series_csv(text, name="taxi")
    assert series.step_s == 1800.0
    assert series.start == START.timestamp()
    assert series.values[:2] == (10.0, 12.0) and math.isnan(series.values[2])
    assert series.values[3:] == (16.0, 18.0)
    assert series.name == "taxi"


def test_request_log_is_binned_to_a_rate() -> None:
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    base = datetime(2023, 11, 16, 18, 0, 0)
    # 2 requests in the first minute, 3 in the second, 1 in the third (at 30 s: kept).
    for seconds in (1.5, 40.25, 61, 70, 119.9, 150):
        rows.append(f"{(base + timedelta(seconds=seconds)).isoformat(' ')},100,10")
    series = parse_series_csv("\n".join(rows), name="log", bin_s=60.0)
    assert series.step_s == 60.0
    assert series.values == (2.0, 3.0, 1.0)
    halves = parse_series_csv("\n".join(rows), bin_s=30.0)
    assert halves.values[0] == 1.0 and sum(halves.values) <= 6


def test_binning_a_value_series_averages() -> None:
    text = "time,value\n0,1\n60,3\n120,5\n180,7\n"
    series = parse_series_csv(text, bin_s=120.0)
    assert series.values == (2.0, 6.0)
    assert series.step_s == 120.0


def test_times_are_iso_or_epoch() -> None:
    assert parse_time("2014-07-01 00:00:00") == START.timestamp()
    assert parse_time("2014-07-01T02:00:00+02:00") == START.timestamp()
    assert parse_time("2014-07-01T00:00:00Z") == START.timestamp()
    assert parse_time("1404172800") == START.timestamp()
    with pytest.raises(SeriesFileError):
        parse_time("yesterday")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "timestamp,value\n",
        "timestamp,value\nnot a time,3\n2014-07-01 00:00:00,4\n",
        "timestamp,value\n2014-07-01 00:00:00,abc\n2014-07-01 00:30:00,4\n",
        "timestamp,value\n2014-07-01 00:00:00,3\n",
    ],
)
def test_unreadable_csv_is_a_series_file_error(text: str) -> None:
    with pytest.raises(SeriesFileError):
        parse_series_csv(text, name="bad")


def test_load_series_reports_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SeriesFileError, match="no such file"):
        load_series(tmp_path / "absent.csv")
    with pytest.raises(SeriesFileError, match="directory"):
        load_series(tmp_path)


# -- predict --------------------------------------------------------------------------------


def test_predict_writes_the_next_h_steps(tmp_path: Path) -> None:
    trace = write_series(tmp_path / "load.csv")
    out = tmp_path / "out" / "forecast.json"
    code = main(
        ["forecast", "predict", "--trace", str(trace), "--horizon", "24", "--out", str(out)]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert {"model", "period", "timestamps", "mean", "lower", "upper", "level"} <= set(result)
    assert result["model"].startswith("auto:")
    assert result["period"] == 24
    assert result["level"] == 0.9
    last = START + timedelta(hours=24 * 12 - 1)
    assert result["last_timestamp"] == last.strftime(FORMAT)
    expected = [(last + timedelta(hours=i + 1)).strftime(FORMAT) for i in range(24)]
    assert result["timestamps"] == expected
    assert len(result["mean"]) == len(result["lower"]) == len(result["upper"]) == 24
    assert all(
        lo <= m <= hi
        for lo, m, hi in zip(result["lower"], result["mean"], result["upper"], strict=True)
    )
    assert "reason" in result["notes"]["auto"]


def test_predict_with_a_named_model_level_and_hint(tmp_path: Path) -> None:
    trace = write_series(tmp_path / "load.csv")
    out = tmp_path / "f.json"
    argv = ["forecast", "predict", "--trace", str(trace), "--horizon", "6", "--out", str(out)]
    assert main([*argv, "--model", "snaive", "--level", "0.5", "--period", "24"]) == 0
    result = json.loads(out.read_text())
    assert result["model"] == "snaive(24)" and result["level"] == 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--horizon", "0"], "must be at least 1"),
        (["--horizon", "ten"], "whole number"),
        (["--horizon", "5", "--model", "prophet"], "invalid choice"),
        (["--horizon", "5", "--level", "90"], "between 0 and 1"),
        (["--horizon", "5", "--bin", "soon"], "invalid duration"),
    ],
)
def test_predict_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    trace = write_series(tmp_path / "load.csv", n=48)
    argv = ["forecast", "predict", "--trace", str(trace), "--out", str(tmp_path / "f.json")]
    assert main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "f.json").exists()


def test_predict_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "f.json")
    missing = ["forecast", "predict", "--trace", str(tmp_path / "nope.csv"), "--horizon", "3"]
    assert main([*missing, "--out", out]) == 2
    assert "no such file" in capsys.readouterr().err
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00binary\x00")
    assert (
        main(["forecast", "predict", "--trace", str(garbage), "--horizon", "3", "--out", out]) == 2
    )
    assert "error:" in capsys.readouterr().err
    text = tmp_path / "text.csv"
    text.write_text("timestamp,value\nmonday,3\ntuesday,4\n")
    assert main(["forecast", "predict", "--trace", str(text), "--horizon", "3", "--out", out]) == 2
    assert "not a timestamp" in capsys.readouterr().err


# -- backtest -------------------------------------------------------------------------------


def test_backtest_writes_results_and_a_plot(tmp_path: Path) -> None:
    trace = write_series(tmp_path / "load.csv", n=24 * 10)
    out = tmp_path / "bt"
    argv = ["forecast", "backtest", "--trace", str(trace), "--horizon", "12", "--out", str(out)]
    code = main([*argv, "--models", "ets,auto", "--origins", "3", "--jobs", "1"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["models"]) == {"naive", "snaive", "ets", "auto"}
    assert len(results["origins"]) == 3
    for model in results["models"].values():
        assert {"mase", "smape", "coverage", "fit_seconds", "origins"} <= set(model)
        assert len(model["origins"]) == 3
    ratios = results["ratio_vs_best_baseline"]
    assert min(ratios["naive"], ratios["snaive"]) == pytest.approx(1.0)
    assert ratios["auto"] < 1.0
    assert results["command"].startswith("orchestrator forecast backtest")
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["model"] for r in rows] == ["naive", "snaive", "ets", "auto"]
    png = (out / "backtest.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_backtest_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write_series(tmp_path / "load.csv", n=40)
    out = str(tmp_path / "bt")
    argv = ["forecast", "backtest", "--trace", str(trace), "--out", out]
    assert main([*argv, "--horizon", "5", "--models", "ets,magic"]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main([*argv, "--horizon", "30"]) == 2  # nothing left to score after 60%
    assert "no origin" in capsys.readouterr().err
    assert main([*argv, "--horizon", "5", "--origins", "0"]) == 2
    assert not Path(out).exists()


# -- real traces ----------------------------------------------------------------------------


@pytest.mark.skipif(not DATA.is_dir(), reason=NO_DATA)
def test_predict_on_the_azure_request_log(tmp_path: Path) -> None:
    out = tmp_path / "azure.json"
    trace = DATA / "azure_llm_inference_code.csv"
    argv = ["forecast", "predict", "--trace", str(trace), "--bin", "1m", "--horizon", "5"]
    assert main([*argv, "--model", "ets", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["timestamps"]) == 5 and result["step_s"] == 60.0
    assert all(v > 0 for v in result["mean"])
