"""Forecasting benchmark: rolling-origin backtests on every NAB trace and on synthetic series.

Series: every `nab_*.csv` in the trace folder (nyc_taxi at horizon 48, the 5-minute traces at
horizon 36; the four of `TARGET_TRACES` make the NAB average), the Azure LLM inference traces
binned to requests per minute (one hour each, horizon 10, `--azure-origins`) and `--synthetic`
series from the seeded generator (`scheduler.forecasting.synthetic`, horizon 36), split into a
tuning half (the first seeds) and a held-out half reported separately. Forecast origins are
spread evenly over the last 40% of each series (`--origins` on the NAB traces,
`--synthetic-origins` on the synthetic ones); every model is refitted at each origin on the
values before it and scored on the next horizon values.

Reported per series: auto's mean MASE over the better of naive and seasonal naive (`ratio`),
its worst single origin against the better baseline at that origin (`worst`), and the
coverage of its 90% intervals. With statsforecast installed, its AutoETS and AutoARIMA are
reference rows (see `forecast_references`), run on `--reference-origins` of each series'
origins and compared with auto on the same origins.

Targets: ratio <= 0.95 on every series, mean <= 0.80 on the NAB four and <= 0.85 on the
held-out synthetic half, coverage 0.85-0.95 on average, worst <= 1.1.

    .venv/bin/python bench/forecast.py [--origins 16] [--synthetic 40] [--synthetic-origins 4]
        [--azure-origins 8] [--references sf-autoets,sf-autoarima|none]
        [--reference-origins 4] [--only synthetic-tune] [--jobs 2]
    make bench-forecast

Tune on `--only synthetic-tune` (and the NAB traces); look at the held-out half only to report.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.forecast_references import (  # noqa: E402
    REFERENCES,
    ReferenceForecaster,
    print_references,
    reference_report,
    subset,
    unavailable_reason,
)
from controlplane.experiments.forecast_io import load_series, write_json  # noqa: E402
from models.forecasting import Series  # noqa: E402
from scheduler.forecasting import evaluation  # noqa: E402
from scheduler.forecasting.backtest import ModelResult  # noqa: E402
from scheduler.forecasting.synthetic import seed_halves, synthetic_series  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "traces"
TARGET_TRACES = (
    "nab_nyc_taxi.csv",
    "nab_elb_request_count_8c0756.csv",
    "nab_ec2_cpu_utilization_5f5533.csv",
    "nab_rds_cpu_utilization_e47b3b.csv",
)
HORIZONS = {"nab_nyc_taxi.csv": 48}
DEFAULT_HORIZON = 36
AZURE_BIN_S = 60.0
AZURE_HORIZON = 10  # ten minutes ahead on one hour of per-minute request counts
MODELS = ("naive", "snaive", "auto")
GROUPS = ("nab", "nab-extra", "azure", "synthetic-tune", "synthetic-heldout")
TARGET_MAX_RATIO = 0.95
TARGET_MEAN_RATIO = {"nab": 0.80, "synthetic-heldout": 0.85}
TARGET_WORST_ORIGIN = 1.1
COVERAGE_RANGE = (0.85, 0.95)


@dataclass(frozen=True)
class Case:
    """One series to backtest: a trace file or a generator seed."""

    label: str
    group: str
    horizon: int
    origins: int
    path: str = ""
    seed: int = -1
    bin_s: float | None = None

    def load(self) -> Series:
        if self.path:
            return load_series(self.path, bin_s=self.bin_s)
        return synthetic_series(self.seed)


def _job(case: Case, model: str, level: float, reference_origins: int) -> ModelResult:
    series = case.load()
    the_plan = evaluation.plan(series, case.horizon, origins=case.origins, level=level)
    if model not in REFERENCES:
        return evaluation.evaluate_model(series, model, the_plan, clock=time.perf_counter)
    reference_plan = replace(the_plan, origins=subset(the_plan.origins, reference_origins))
    return evaluation.evaluate_forecaster(
        series, ReferenceForecaster(model), reference_plan, clock=time.perf_counter
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NAB traces folder")
    parser.add_argument("--origins", type=int, default=16, help="forecast origins per trace")
    parser.add_argument("--synthetic", type=int, default=40, help="synthetic series (seeds)")
    parser.add_argument("--synthetic-origins", type=int, default=4)
    parser.add_argument("--azure-origins", type=int, default=8)
    parser.add_argument(
        "--references",
        default=",".join(REFERENCES),
        help="statsforecast reference models, or 'none'",
    )
    parser.add_argument(
        "--reference-origins",
        type=int,
        default=4,
        help="origins per series for the (slow) reference models",
    )
    parser.add_argument(
        "--only", choices=GROUPS, action="append", help="run only these groups (repeatable)"
    )
    parser.add_argument("--level", type=float, default=0.9)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "forecast-bench")
    return parser.parse_args(argv)


def cases(args: argparse.Namespace) -> list[Case]:
    found: list[Case] = []
    for path in sorted(args.data.glob("nab_*.csv")):
        group = "nab" if path.name in TARGET_TRACES else "nab-extra"
        horizon = HORIZONS.get(path.name, DEFAULT_HORIZON)
        label = path.stem.removeprefix("nab_")
        found.append(Case(label, group, horizon, args.origins, path=str(path)))
    for path in sorted(args.data.glob("azure_llm_*.csv")):
        label = path.stem.removeprefix("azure_llm_") + "-per-minute"
        found.append(
            Case(
                label,
                "azure",
                AZURE_HORIZON,
                args.azure_origins,
                path=str(path),
                bin_s=AZURE_BIN_S,
            )
        )
    tune, held_out = seed_halves(args.synthetic)
    for seeds, group in ((tune, "synthetic-tune"), (held_out, "synthetic-heldout")):
        for seed in seeds:
            found.append(
                Case(f"synthetic-{seed}", group, DEFAULT_HORIZON, args.synthetic_origins, seed=seed)
            )
    return [c for c in found if not args.only or c.group in args.only]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 120))
    if not args.data.is_dir():
        console.print(f"[red]no trace folder at {args.data}[/red]")
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for needed in ("naive", "snaive"):
        if needed not in models:
            models.insert(0, needed)
    todo = cases(args)
    references = _references(args, console)
    jobs = [(case, model) for model in models for case in todo]
    # References are a comparison, not a target: the tuning half does not need them.
    jobs += [(c, m) for m in references for c in todo if c.group != "synthetic-tune"]
    # The slowest models first, so the pool stays busy until the end.
    jobs.sort(key=lambda job: (job[1] not in REFERENCES, job[1] != "auto"))
    started = time.perf_counter()
    results: dict[str, dict[str, ModelResult]] = {c.label: {} for c in todo}
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
        task = progress.add_task("backtests", total=len(jobs))
        futures = {}
        for case, model in jobs:
            future = pool.submit(_job, case, model, args.level, args.reference_origins)
            futures[future] = (case.label, model)
        for future, (label, model) in futures.items():
            results[label][model] = future.result()
            progress.advance(task)
    elapsed = time.perf_counter() - started
    report = _report(todo, results, models, args, elapsed)
    report["references"] = reference_report(todo, results, references)
    _print(console, report)
    print_references(console, report["references"])
    path = write_json(args.out / "results.json", report)
    console.print(f"wrote {path} ({elapsed:.0f} s)")
    return 0


def _references(args: argparse.Namespace, console: Console) -> list[str]:
    wanted = [m.strip() for m in args.references.split(",") if m.strip() and m != "none"]
    if not wanted:
        return []
    reason = unavailable_reason()
    if reason:
        console.print(f"[yellow]reference rows skipped: {reason}[/yellow]")
        return []
    return wanted


def worst_origin_ratio(by_model: dict[str, ModelResult], model: str = "auto") -> float:
    """The model's largest MASE over the better baseline's at the same origin."""
    worst = math.nan
    naive, snaive = by_model["naive"].origins, by_model["snaive"].origins
    for mine, a, b in zip(by_model[model].origins, naive, snaive, strict=True):
        best = min((v for v in (a.mase, b.mase) if math.isfinite(v)), default=math.nan)
        if math.isfinite(mine.mase) and math.isfinite(best) and best > 0:
            ratio = mine.mase / best
            worst = ratio if not math.isfinite(worst) else max(worst, ratio)
    return worst


def _row(case: Case, by_model: dict[str, ModelResult], models: list[str]) -> dict[str, Any]:
    rel = evaluation.ratios(by_model)
    auto = by_model.get("auto")
    return {
        "series": case.label,
        "group": case.group,
        "horizon": case.horizon,
        "origins": len(by_model["naive"].origins),
        "mase": {m: by_model[m].mase for m in models},
        "ratio": {m: rel[m] for m in models},
        "coverage": {m: by_model[m].coverage for m in models},
        "worst_origin_ratio": worst_origin_ratio(by_model) if auto else math.nan,
        "fit_seconds": {m: by_model[m].fit_seconds for m in models},
        "auto_chose": auto.chosen if auto else {},
        "details": {m: by_model[m].to_json() for m in models},
    }


def _report(
    todo: list[Case],
    results: dict[str, dict[str, ModelResult]],
    models: list[str],
    args: argparse.Namespace,
    elapsed: float,
) -> dict[str, Any]:
    rows = [_row(case, results[case.label], models) for case in todo]
    summary: dict[str, Any] = {}
    for group in GROUPS:
        members = [r for r in rows if r["group"] == group]
        if not members or "auto" not in models:
            continue
        ratios = [r["ratio"]["auto"] for r in members]
        worst = [r["worst_origin_ratio"] for r in members]
        summary[group] = {
            "series": len(members),
            "mean_ratio": _mean(ratios),
            "max_ratio": _max(ratios),
            "over_0.95": sum(1 for v in ratios if v > TARGET_MAX_RATIO),
            "worst_origin_ratio": _max(worst),
            "over_1.1_at_an_origin": sum(1 for v in worst if v > TARGET_WORST_ORIGIN),
            "mean_coverage": _mean([r["coverage"]["auto"] for r in members]),
        }
    return {
        "command": "python bench/forecast.py " + " ".join(sys.argv[1:]),
        "origins_per_trace": args.origins,
        "synthetic_origins": args.synthetic_origins,
        "level": args.level,
        "seconds": round(elapsed, 1),
        "targets": {
            "max_ratio": TARGET_MAX_RATIO,
            "mean_ratio": TARGET_MEAN_RATIO,
            "worst_origin_ratio": TARGET_WORST_ORIGIN,
            "mean_coverage": list(COVERAGE_RANGE),
        },
        "summary": summary,
        "series": rows,
    }


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _max(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else math.nan


def _print(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="auto against the better of naive / seasonal naive (MASE ratios)")
    for name, justify in (
        ("series", "left"),
        ("group", "left"),
        ("h", "right"),
        ("naive", "right"),
        ("snaive", "right"),
        ("auto", "right"),
        ("ratio", "right"),
        ("worst origin", "right"),
        ("cov 90%", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report["series"]:
        mase = row["mase"]
        table.add_row(
            row["series"],
            row["group"],
            str(row["horizon"]),
            f"{mase['naive']:.3f}",
            f"{mase['snaive']:.3f}",
            f"{mase.get('auto', math.nan):.3f}",
            f"{row['ratio'].get('auto', math.nan):.2f}",
            f"{row['worst_origin_ratio']:.2f}",
            f"{row['coverage'].get('auto', math.nan):.3f}",
        )
    console.print(table)
    for group, s in report["summary"].items():
        target = TARGET_MEAN_RATIO.get(group)
        console.print(
            f"{group}: {s['series']} series, mean ratio {s['mean_ratio']:.3f}"
            + (f" (target <= {target})" if target else "")
            + f", max {s['max_ratio']:.3f} ({s['over_0.95']} over {TARGET_MAX_RATIO}), "
            f"worst origin {s['worst_origin_ratio']:.2f} ({s['over_1.1_at_an_origin']} series "
            f"over {TARGET_WORST_ORIGIN}), mean 90% coverage {s['mean_coverage']:.3f}"
        )


if __name__ == "__main__":
    sys.exit(main())
