"""Handlers of `forecast show` and `load` (an agent's fitted forecast and recorded load)."""

from __future__ import annotations

import argparse
import csv
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from controlplane.api.client import OrchestratorClient
from controlplane.cli.client.scaling import forecast_summary_dict
from controlplane.cli.client.scaling_commands import RESOLUTIONS
from controlplane.cli.render import print_json, wants_json, when
from controlplane.cli.usage import UsageProblem
from controlplane.experiments.forecast_io import iso
from models.load import LoadSample

EXIT_OK = 0


def forecast_show(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    fitted = client.get_forecast(args.agent, args.horizon or 0.0, args.model, args.level)
    f = fitted.forecast
    if wants_json(args):
        out = forecast_summary_dict(fitted) or {}
        out.update(
            agent=args.agent,
            timestamps=list(f.timestamps),
            mean=list(f.mean),
            lower=list(f.lower),
            upper=list(f.upper),
            notes=f.notes,
        )
        print_json(out)
        return EXIT_OK
    con.print(
        f"arrival-rate forecast of {args.agent} (attempts/s): {f.model}, step "
        f"{fitted.step_s:g}s, level {f.level:g}, fitted {when(fitted.fit_time)} in "
        f"{fitted.fit_duration_s:.2f}s on {fitted.history_points} points",
        markup=False,
    )
    table = Table()
    for column in ("time", "mean", "lower", "upper"):
        table.add_column(column, justify="left" if column == "time" else "right")
    for t, mean, low, high in zip(f.timestamps, f.mean, f.lower, f.upper, strict=True):
        table.add_row(when(t), f"{mean:.3f}", f"{low:.3f}", f"{high:.3f}")
    con.print(table)
    return EXIT_OK


def _sample_dict(sample: LoadSample) -> dict[str, Any]:
    return {
        "time": sample.time,
        "arrivals": sample.arrivals,
        "completions": sample.completions,
        "queue_depth": sample.queue_depth,
        "in_flight": sample.in_flight,
        "service_time_s": sample.service_time_s,
        "replicas": sample.replicas,
    }


LOAD_CSV_COLUMNS = (
    "timestamp",
    "value",
    "completions",
    "queue_depth",
    "in_flight",
    "service_time_s",
    "replicas",
)


def write_load_csv(path: str, samples: list[LoadSample]) -> None:
    """`timestamp,value,...` with value = arrivals in the interval: the trace format of
    `forecast predict` and `scaling simulate`, so recorded load can be replayed."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOAD_CSV_COLUMNS)
        for s in samples:
            writer.writerow(
                (
                    iso(s.time),
                    f"{s.arrivals:g}",
                    f"{s.completions:g}",
                    f"{s.queue_depth:g}",
                    f"{s.in_flight:g}",
                    f"{s.service_time_s:g}",
                    f"{s.replicas:g}",
                )
            )


def load_show(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    end = time.time()
    samples = client.get_load_history(
        args.agent, RESOLUTIONS[args.resolution], end - args.since, end
    )
    if args.csv:
        try:
            write_load_csv(args.csv, samples)
        except OSError as exc:
            raise UsageProblem(f"--csv {args.csv}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {len(samples)} samples of {args.agent} to {args.csv}")
        return EXIT_OK
    if wants_json(args):
        print_json([_sample_dict(s) for s in samples])
        return EXIT_OK
    if not samples:
        con.print(f"no load recorded for {args.agent} in the last {args.since:g}s", markup=False)
        return EXIT_OK
    table = Table(title=f"load of {args.agent} ({args.resolution})", title_justify="left")
    for column in ("time", "arrivals", "completions", "queue", "in flight", "service", "ready"):
        table.add_column(column, justify="left" if column == "time" else "right")
    for s in samples:
        table.add_row(
            when(s.time),
            f"{s.arrivals:g}",
            f"{s.completions:g}",
            f"{s.queue_depth:.2f}",
            f"{s.in_flight:.2f}",
            f"{s.service_time_s:.3f}s",
            f"{s.replicas:.2f}",
        )
    con.print(table)
    return EXIT_OK
