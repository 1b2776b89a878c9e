"""`orchestrator scaling simulate` end to end on a small synthetic CSV, and its bad inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from controlplane.cli.main import main
from controlplane.experiments.scaling_io import TraceError, load_trace

METRICS = ("slo_violation_rate", "p95_wait_s", "p99_wait_s", "replica_hours", "scale_events")


def write_trace(path: Path, values: list[float], column: str = "value", skip: int = -1) -> Path:
    lines = [f"timestamp,{column}"]
    for i, value in enumerate(values):
        if i == skip:
            continue
        minutes = 5 * i
        lines.append(f"2024-05-06 {minutes // 60:02d}:{minutes % 60:02d}:00,{value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def ramp() -> list[float]:
    """5-minute request counts over 4 hours: quiet, a steep ramp, a plateau, a fall."""
    return [300.0] * 12 + [600.0, 1200.0, 2400.0, 3000.0] + [3000.0] * 20 + [900.0] * 12


def simulate(tmp_path: Path, *extra: str, values: list[float] | None = None) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    trace = write_trace(tmp_path / "trace.csv", values or ramp())
    out = tmp_path / "out"
    code = main(
        [
            "scaling",
            "simulate",
            "--trace",
            str(trace),
            "--out",
            str(out),
            "--forecast-model",
            "snaive",
            "--refit-every",
            "30m",
            *extra,
        ]
    )
    assert code == 0
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    return results


def test_simulate_end_to_end(tmp_path: Path) -> None:
    results = simulate(tmp_path)
    assert list(results["policies"]) == ["reactive", "predictive", "static-peak", "oracle"]
    for metrics in results["policies"].values():
        for key in METRICS:
            assert key in metrics
        assert metrics["requests"] > 40_000
    defaults = results["defaults"]
    assert defaults["startup_delay_s"] == 120
    assert defaults["slo_wait_s"] == 2
    assert defaults["target_utilization"] == 0.7
    assert defaults["reactive"]["evaluation_period_s"] == 15
    assert defaults["reactive"]["tolerance"] == 0.1
    assert defaults["reactive"]["scale_up_stabilization_s"] == 0
    assert defaults["reactive"]["scale_down_stabilization_s"] == 300
    assert defaults["static_peak_replicas"] == 20  # the automatic service time
    assert results["policies"]["static-peak"]["max_replicas"] == 20
    assert results["experiment"]["intervals"] == 48
    comparison = results["comparison"]
    assert {"predictive_vs_reactive", "predictive_vs_oracle"} <= set(comparison)
    assert isinstance(comparison["predictive_vs_reactive"]["target_met"], bool)
    png = (tmp_path / "out" / "simulation.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_given_service_time_rate_column_gaps_and_decisions(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.csv", ramp(), column="requests", skip=20)
    out = tmp_path / "o"
    argv = [
        "scaling",
        "simulate",
        "--trace",
        str(trace),
        "--rate-column",
        "requests",
        "--service-time",
        "0.5",
        "--startup-delay",
        "1m",
        "--slo-wait",
        "500ms",
        "--policies",
        "reactive,static-peak",
        "--out",
        str(out),
        "--decisions",
        "--no-plot",
    ]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"]["gaps_filled"] == 1
    assert results["defaults"]["service_time_s"] == 0.5
    assert results["defaults"]["service_time_source"] == "given"
    assert results["defaults"]["startup_delay_s"] == 60
    assert results["defaults"]["slo_wait_s"] == 0.5
    assert list(results["policies"]) == ["reactive", "static-peak"]
    assert not (out / "simulation.png").exists()
    lines = (out / "decisions.jsonl").read_text().splitlines()
    assert lines
    first = json.loads(lines[0])
    assert (
        first["policy"] == "reactive" and first["reason"] and "recommendations" in first["inputs"]
    )


def test_slo_sizing_off_and_level_are_recorded(tmp_path: Path) -> None:
    results = simulate(tmp_path, "--policies", "oracle", "--slo-sizing", "off", "--level", "0.8")
    predictive = results["defaults"]["predictive"]
    assert predictive["slo_max_violation"] is None and predictive["level"] == 0.8
    assert results["defaults"]["predictive"]["lead_time_s"] == 135


def test_parallel_jobs_give_the_same_figures(tmp_path: Path) -> None:
    short = ramp()[8:24]
    serial = simulate(tmp_path / "a", "--policies", "reactive,oracle", values=short)
    parallel = simulate(
        tmp_path / "b", "--policies", "reactive,oracle", "--jobs", "2", values=short
    )
    for name in ("reactive", "oracle"):
        for key in METRICS:
            assert serial["policies"][name][key] == parallel["policies"][name][key]


def test_falls_back_without_scheduler_forecasting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "scheduler.forecasting", None)  # import raises
    results = simulate(tmp_path, "--policies", "predictive")
    assert "seasonal-naive" in capsys.readouterr().err
    assert "fallback" in results["policies"]["predictive"]["forecaster"]


def expect_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> None:
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty file"),
        ("timestamp,other\n2024-05-06 00:00:00,1\n", "no column 'value'"),
        ("when,value\n2024-05-06 00:00:00,1\n", "no time column"),
        ("timestamp,value\n2024-05-06 00:00:00,abc\n2024-05-06 00:05:00,1\n", "not a number"),
        ("timestamp,value\nyesterday,1\n2024-05-06 00:05:00,1\n", "not a time"),
        ("timestamp,value\n2024-05-06 00:00:00,-4\n", ">= 0"),
        ("timestamp,value\n2024-05-06 00:00:00,1\n", "at least two rows"),
        (
            "timestamp,value\n2024-05-06 00:00:00,1\n2024-05-06 00:05:00,1\n"
            "2024-05-06 00:07:00,1\n2024-05-06 00:12:00,1\n",
            "irregular",
        ),
        ("timestamp,value\n2024-05-06 00:05:00,1\n2024-05-06 00:00:00,1\n", "increase"),
        ("timestamp,value\n2024-05-06 00:00:00,0\n2024-05-06 00:05:00,0\n", "no requests"),
    ],
)
def test_bad_traces_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    trace = tmp_path / "bad.csv"
    trace.write_text(content)
    argv = ["scaling", "simulate", "--trace", str(trace), "--out", str(tmp_path / "o")]
    expect_usage_error(argv, capsys, needle)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--policies", "reactive,magic"], "unknown policy magic"),
        (["--slo-wait", "soon"], "--slo-wait"),
        (["--level", "1.5"], "--level"),
        (["--service-time", "0"], "--service-time"),
        (["--target-utilization", "0"], "--target-utilization"),
        (["--forecast-model", "crystal-ball"], "crystal-ball"),
        (["--min-replicas", "500"], "--min-replicas"),
    ],
)
def test_bad_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], needle: str
) -> None:
    trace = write_trace(tmp_path / "t.csv", ramp())
    argv = ["scaling", "simulate", "--trace", str(trace), "--out", str(tmp_path / "o"), *flags]
    expect_usage_error(argv, capsys, needle)


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scaling", "simulate", "--trace", str(tmp_path / "none.csv"), "--out", str(tmp_path)]
    expect_usage_error(argv, capsys, "cannot read")


def test_load_trace_reads_nab_shapes(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "t.csv", [1.0, 2.0, 3.0, 5.0], skip=2)
    loaded = load_trace(trace)
    assert loaded.series.step_s == 300.0
    assert loaded.series.values == (1.0, 2.0, 3.5, 5.0)  # the gap interpolated
    assert loaded.gaps_filled == 1 and loaded.rows == 3
    with pytest.raises(TraceError, match="choose one with --rate-column"):
        load_trace(trace, rate_column="rps")
