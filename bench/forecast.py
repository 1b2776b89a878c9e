"""Forecasting benchmark: rolling-origin backtests of every model on the NAB target traces.

For each trace (nyc_taxi at horizon 48; the ELB request count, the EC2 CPU and the RDS CPU
series at horizon 36), `--origins` forecast origins are spread evenly over the last 40% of the
trace; every model is refitted at each origin on the values before it and scored on the next
horizon values. Reported per trace and on average: the MASE of `auto` (and of plain
Holt-Winters) divided by the better of naive and seasonal naive, and the coverage of the 90%
intervals. The target: auto's ratio <= 0.80 on average and <= 0.95 on every trace;
coverage within [0.80, 0.97].

    .venv/bin/python bench/forecast.py [--origins 16] [--jobs 2] [--out out/forecast-bench]
    make bench-forecast

The other EC2 CPU trace (fe7f93, mostly short spikes) is reported as an extra row, outside the
target average, unless --no-extra.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from controlplane.experiments.forecast_io import load_series, write_json
from scheduler.forecasting import evaluation
from scheduler.forecasting.backtest import ModelResult

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "traces"
TARGET_TRACES = (
    ("nab_nyc_taxi.csv", 48),
    ("nab_elb_request_count_8c0756.csv", 36),
    ("nab_ec2_cpu_utilization_5f5533.csv", 36),
    ("nab_rds_cpu_utilization_e47b3b.csv", 36),
)
EXTRA_TRACES = (("nab_ec2_cpu_utilization_fe7f93.csv", 36),)
MODELS = ("naive", "snaive", "hw", "ets", "sarima", "sarimax", "mstl", "auto")
TARGET_MEAN_RATIO = 0.80
TARGET_MAX_RATIO = 0.95
COVERAGE_RANGE = (0.80, 0.97)


def _job(path: str, horizon: int, model: str, origins: int, level: float) -> ModelResult:
    series = load_series(path)
    the_plan = evaluation.plan(series, horizon, origins=origins, level=level)
    return evaluation.evaluate_model(series, model, the_plan, clock=time.perf_counter)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB traces folder")
    parser.add_argument("--origins", type=int, default=16, help="forecast origins per trace")
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-extra", action="store_true", help="skip the extra trace")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "forecast-bench")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not args.data.is_dir():
        console.print(f"[red]no trace folder at {args.data}[/red]")
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for needed in ("naive", "snaive"):
        if needed not in models:
            models.insert(0, needed)
    traces = list(TARGET_TRACES) + ([] if args.no_extra else list(EXTRA_TRACES))
    started = time.perf_counter()
    results: dict[str, dict[str, ModelResult]] = {name: {} for name, _ in traces}
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=console) as progress,
        ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool,
    ):
        task = progress.add_task("backtests", total=len(traces) * len(models))
        futures = {}
        # The slowest models first, so the pool stays busy until the end.
        for model in sorted(models, key=lambda m: m != "auto"):
            for name, horizon in traces:
                future = pool.submit(
                    _job, str(args.data / name), horizon, model, args.origins, args.level
                )
                futures[future] = (name, model)
        for future, (name, model) in futures.items():
            results[name][model] = future.result()
            progress.advance(task)
    elapsed = time.perf_counter() - started
    report = _report(traces, results, models, args, elapsed)
    _print(console, report, models)
    path = write_json(args.out / "results.json", report)
    console.print(f"wrote {path} ({elapsed:.0f} s)")
    return 0


def _report(
    traces: list[tuple[str, int]],
    results: dict[str, dict[str, ModelResult]],
    models: list[str],
    args: argparse.Namespace,
    elapsed: float,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for name, horizon in traces:
        by_model = results[name]
        rel = evaluation.ratios(by_model)
        rows.append(
            {
                "trace": name,
                "horizon": horizon,
                "target": (name, horizon) in TARGET_TRACES,
                "mase": {m: by_model[m].mase for m in models},
                "ratio": {m: rel[m] for m in models},
                "coverage": {m: by_model[m].coverage for m in models},
                "fit_seconds": {m: by_model[m].fit_seconds for m in models},
                "auto_chose": by_model["auto"].chosen if "auto" in by_model else {},
                "details": {m: by_model[m].to_json() for m in models},
            }
        )
    target_rows = [r for r in rows if r["target"]]
    summary: dict[str, Any] = {}
    for model in models:
        ratios = [r["ratio"][model] for r in target_rows]
        cover = [r["coverage"][model] for r in target_rows]
        summary[model] = {
            "mean_ratio": _mean(ratios),
            "max_ratio": max(ratios) if ratios else math.nan,
            "mean_coverage": _mean(cover),
            "min_coverage": min(cover) if cover else math.nan,
            "max_coverage": max(cover) if cover else math.nan,
        }
    auto = summary.get("auto", {})
    met = bool(
        auto
        and auto["mean_ratio"] <= TARGET_MEAN_RATIO
        and auto["max_ratio"] <= TARGET_MAX_RATIO
        and COVERAGE_RANGE[0] <= auto["min_coverage"]
        and auto["max_coverage"] <= COVERAGE_RANGE[1]
    )
    return {
        "command": "python bench/forecast.py " + " ".join(sys.argv[1:]),
        "origins_per_trace": args.origins,
        "level": args.level,
        "seconds": round(elapsed, 1),
        "target": {
            "mean_ratio": TARGET_MEAN_RATIO,
            "max_ratio": TARGET_MAX_RATIO,
            "coverage": list(COVERAGE_RANGE),
            "met": met,
        },
        "summary": summary,
        "traces": rows,
    }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _print(console: Console, report: dict[str, Any], models: list[str]) -> None:
    table = Table(title="MASE (and ratio to the better of naive / seasonal naive)")
    table.add_column("trace")
    table.add_column("h", justify="right")
    for model in models:
        table.add_column(model, justify="right")
    table.add_column("auto cov", justify="right")
    for row in report["traces"]:
        cells = [
            f"{row['mase'][m]:.3f} ({row['ratio'][m]:.2f})"
            if math.isfinite(row["mase"][m])
            else "-"
            for m in models
        ]
        label = row["trace"].removeprefix("nab_").removesuffix(".csv")
        if not row["target"]:
            label += " (extra)"
        cover = row["coverage"].get("auto", math.nan)
        table.add_row(label, str(row["horizon"]), *cells, f"{cover:.3f}")
    console.print(table)
    auto = report["summary"].get("auto")
    if auto:
        hw = report["summary"].get("hw", {})
        console.print(
            f"auto vs better baseline: mean ratio {auto['mean_ratio']:.3f} (target <= "
            f"{TARGET_MEAN_RATIO}), worst {auto['max_ratio']:.3f} (<= {TARGET_MAX_RATIO}); "
            f"90% coverage {auto['min_coverage']:.3f}..{auto['max_coverage']:.3f} "
            f"(mean {auto['mean_coverage']:.3f}); Holt-Winters mean ratio "
            f"{hw.get('mean_ratio', math.nan):.3f}; target met: {report['target']['met']}"
        )


if __name__ == "__main__":
    sys.exit(main())
