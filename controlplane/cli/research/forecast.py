"""`orchestrator forecast predict|backtest`: fit the forecasting models on a CSV series.

predict   fit one model (or `auto`) on the whole file and write the next H steps as JSON
backtest  rolling-origin evaluation of every model: results.json, results.csv, backtest.png
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.forecasting import MODEL_NAMES

if TYPE_CHECKING:
    from models.forecasting import Series
    from scheduler.forecasting.backtest import ModelResult
    from scheduler.forecasting.evaluation import Plan

EXIT_USAGE = 2


def _fail(message: str) -> int:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")
    return EXIT_USAGE


def _load(args: argparse.Namespace) -> Series:
    from controlplane.experiments.forecast_io import load_series

    return load_series(args.trace, bin_s=args.bin)


def run_predict(args: argparse.Namespace) -> int:
    from controlplane.experiments.forecast_io import SeriesFileError, forecast_to_json, iso
    from controlplane.experiments.forecast_io import write_json as write
    from scheduler.forecasting import ForecastError, forecast

    try:
        series = _load(args)
        result = forecast(
            series,
            args.horizon,
            model=args.model,
            level=args.level,
            period_hints=tuple(args.period),
        )
    except (SeriesFileError, ForecastError) as exc:
        return _fail(str(exc))
    payload = {
        **forecast_to_json(result),
        "series": series.name,
        "step_s": series.step_s,
        "last_timestamp": iso(series.end),
    }
    try:
        path = write(Path(args.out), payload)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}")
    from controlplane.cli.render import make_console

    reason = result.notes.get("auto", {}).get("reason", "")
    make_console().print(
        f"{result.model}: {result.horizon} steps after {iso(series.end)} "
        f"(period {result.period or 'none'}){'; ' + reason if reason else ''}; wrote {path}"
    )
    return 0


def _evaluate(series: Series, model: str, plan: Plan) -> ModelResult:
    """One model over every origin (runs in a worker process)."""
    from scheduler.forecasting import evaluation

    return evaluation.evaluate_model(series, model, plan, clock=time.perf_counter)


def _models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(
            f"unknown model(s) {', '.join(unknown)} (choose from {', '.join(MODEL_NAMES)})"
        )
    for baseline in ("snaive", "naive"):
        if baseline not in names:
            names.insert(0, baseline)
    return names


def run_backtest(args: argparse.Namespace) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from controlplane.cli.render import make_console
    from controlplane.experiments.forecast_io import SeriesFileError
    from scheduler.forecasting import ForecastError, evaluation

    try:
        models = _models(args.models)
        series = _load(args)
        plan = evaluation.plan(
            series,
            args.horizon,
            origins=args.origins,
            start_fraction=args.start,
            level=args.level,
            period_hints=tuple(args.period),
        )
    except (SeriesFileError, ForecastError, ValueError) as exc:
        return _fail(str(exc))
    console = make_console()
    console.print(
        f"{series.name}: {len(series)} values every {series.step_s:g} s; {len(plan.origins)} "
        f"origins from {plan.origins[0]} at horizon {plan.horizon}; MASE scale lag "
        f"{plan.scale_period or 1}"
    )
    started = time.perf_counter()
    results: dict[str, ModelResult] = {}
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        total = len(models) * len(plan.origins)
        task = progress.add_task("backtest", total=total)
        if args.jobs <= 1:
            for model in models:
                progress.update(task, description=f"backtest {model}")
                results[model] = evaluation.evaluate_model(
                    series,
                    model,
                    plan,
                    clock=time.perf_counter,
                    on_origin=lambda _: progress.advance(task),
                )
        else:
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                # The slow ones first, so both workers stay busy to the end.
                order = sorted(models, key=lambda m: m not in ("auto", "sarima"))
                futures = {m: pool.submit(_evaluate, series, m, plan) for m in order}
                for model in order:
                    results[model] = futures[model].result()
                    progress.advance(task, len(plan.origins))
    results = {m: results[m] for m in models}
    seconds = time.perf_counter() - started
    return _write_backtest(args, series, plan, results, seconds, console)


def _write_backtest(
    args: argparse.Namespace,
    series: Series,
    plan: Plan,
    results: dict[str, ModelResult],
    seconds: float,
    console: Any,
) -> int:
    from rich.table import Table

    from controlplane.experiments import forecast_io
    from scheduler.forecasting import evaluation

    summary = evaluation.summary_json(series, plan, results)
    summary["command"] = "orchestrator forecast backtest " + " ".join(
        shlex.quote(a) for a in _argv(args)
    )
    summary["seconds"] = round(seconds, 1)
    out = Path(args.out)
    try:
        json_path = forecast_io.write_json(out / "results.json", summary)
        csv_path = forecast_io.write_backtest_csv(out / "results.csv", summary)
        forecasts = {name: [o.forecast for o in result.origins] for name, result in results.items()}
        png_path = forecast_io.backtest_figure(
            out / "backtest.png",
            series,
            forecasts,
            plan.origins,
            {name: result.mase for name, result in results.items()},
        )
    except OSError as exc:
        return _fail(f"cannot write to {out}: {exc.strerror or exc}")
    ratios = evaluation.ratios(results)
    table = Table(title=f"{series.name}: {len(plan.origins)} origins, horizon {plan.horizon}")
    for column in ("model", "MASE", "vs best baseline", "sMAPE %", "coverage", "fit s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, result in results.items():
        table.add_row(
            name,
            _fmt(result.mase),
            _fmt(ratios[name]),
            _fmt(result.smape, 1),
            _fmt(result.coverage),
            _fmt(result.fit_seconds, 2),
        )
    console.print(table)
    failed = {n: r.failures for n, r in results.items() if r.failures}
    if failed:
        console.print(f"[yellow]failed origins: {failed} (see results.json)[/yellow]")
    console.print(f"wrote {json_path}, {csv_path} and {png_path} in {seconds:.0f} s")
    return 0


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "-"


def _argv(args: argparse.Namespace) -> Sequence[str]:
    parts = ["--trace", str(args.trace), "--horizon", str(args.horizon), "--out", str(args.out)]
    parts += ["--models", args.models, "--origins", str(args.origins)]
    parts += ["--start", f"{args.start:g}", "--level", f"{args.level:g}"]
    if args.bin:
        parts += ["--bin", f"{args.bin:g}"]
    for period in args.period:
        parts += ["--period", str(period)]
    return parts
