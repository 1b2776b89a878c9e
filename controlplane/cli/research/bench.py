"""`orchestrator bench scheduling`: every scheduler on every instance, locally or on Ray."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from controlplane.cli.render import make_console
from controlplane.experiments import grid, results
from controlplane.experiments.results import RunRecord, SummaryRow
from scheduler import registry
from scheduler.instances.bounds import KnownBound, load_bounds

EXIT_USAGE = 2
EXIT_FAILED = 1


# -- progress -----------------------------------------------------------------------------------


class GridProgress:
    """Runs done / total overall and per scheduler, with each scheduler's standing so far."""

    def __init__(
        self,
        console: Console,
        schedulers: Sequence[str],
        runs_per_scheduler: int,
        reference: dict[str, float],
    ) -> None:
        self.reference = reference
        self.progress = Progress(
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[best]}"),
            console=console,
        )
        self.total = self.progress.add_task(
            "all runs", total=runs_per_scheduler * len(schedulers), best=""
        )
        self.tasks: dict[str, TaskID] = {
            name: self.progress.add_task(name, total=runs_per_scheduler, best="")
            for name in schedulers
        }
        self.done: dict[str, list[RunRecord]] = {name: [] for name in schedulers}

    def __enter__(self) -> GridProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def standing(self, name: str) -> str:
        mine = self.done[name]
        errors = sum(r.error is not None for r in mine)
        gaps = [
            g
            for r in mine
            if r.feasible
            and (g := results.gap_to(r.objective, self.reference.get(r.instance))) is not None
        ]
        parts = []
        if gaps:
            parts.append(f"mean gap {100 * sum(gaps) / len(gaps):.1f}%")
        elif mine and mine[-1].objective is not None:
            parts.append(f"last {mine[-1].instance}: {mine[-1].objective:g}")
        if errors:
            parts.append(f"[red]{errors} failed[/red]")
        return ", ".join(parts)

    def __call__(self, record: RunRecord) -> None:
        self.done.setdefault(record.scheduler, []).append(record)
        task = self.tasks.get(record.scheduler)
        if task is not None:
            self.progress.update(task, advance=1, best=self.standing(record.scheduler))
        self.progress.update(self.total, advance=1, best=f"last: {record.instance}")


# -- tables -------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def summary_table(rows: Sequence[SummaryRow], gap_label: str) -> Table:
    table = Table(title="scheduling benchmark", caption=f"gap to {gap_label}")
    for column in ("scheduler", "runs", "feasible", "optimal", "failed"):
        table.add_column(column, justify="left" if column == "scheduler" else "right")
    for column in ("mean gap", "worst gap", "mean s"):
        table.add_column(column, justify="right")
    for row in rows:
        seconds = "-" if row.mean_seconds is None else f"{row.mean_seconds:.3f}"
        table.add_row(
            f"ref: {row.name}" if row.reference else row.name,
            str(row.runs),
            str(row.feasible),
            str(row.optimal),
            str(row.errors) if not row.reference else "-",
            _pct(row.mean_gap),
            _pct(row.worst_gap),
            seconds,
            style="dim" if row.reference else None,
        )
    return table


def details_table(
    records: Sequence[RunRecord],
    schedulers: Sequence[str],
    bounds: dict[str, KnownBound] | None,
    reference: dict[str, float],
) -> Table:
    instances = sorted({r.instance for r in records})
    refs = results.reference_names(bounds, instances)
    table = Table(title="per instance (objective, gap)")
    table.add_column("instance")
    table.add_column("best known", justify="right")
    for name in [*schedulers, *refs]:
        table.add_column(name, justify="right")
    by_key = {(r.instance, r.scheduler): r for r in records}
    for instance in instances:
        known = (bounds or {}).get(instance)
        if known is None:
            best = "-"
        elif known.lower == known.upper:
            best = f"{known.upper:g}"
        else:
            best = f"{known.lower:g}-{known.upper:g}"
        cells = [instance, best]
        for name in schedulers:
            r = by_key.get((instance, name))
            if r is None or r.objective is None:
                cells.append(f"[red]{r.status if r else '-'}[/red]")
            else:
                gap = results.gap_to(r.objective, reference.get(instance))
                cells.append(f"{r.objective:g} ({_pct(gap)})")
        for ref in refs:
            ub = known.reference.get(ref, {}).get("ub") if known else None
            cells.append(
                "-"
                if ub is None
                else f"{ub:g} ({_pct(results.gap_to(ub, known.upper if known else None))})"
            )
        table.add_row(*cells)
    return table


# -- the command --------------------------------------------------------------------------------


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return code


def run_bench(args: argparse.Namespace) -> int:
    try:
        schedulers = grid.parse_schedulers(args.schedulers, registry.names())
        instances = grid.expand_instances(args.instances)
    except grid.GridError as exc:
        return _fail(f"error: {exc}")
    bounds: dict[str, KnownBound] | None = None
    if args.bounds:
        try:
            bounds = load_bounds(args.bounds)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return _fail(f"error: cannot read bounds file {args.bounds}: {exc}")
    options: dict[str, dict[str, Any]] = {}
    for scheduler, key, value in args.option:
        if scheduler not in schedulers:
            return _fail(f"error: --option for {scheduler!r}, which is not in --schedulers")
        options.setdefault(scheduler, {})[key] = value
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"error: cannot create {out}: {exc.strerror or exc}")

    specs = grid.build_grid(
        instances, schedulers, args.time_limit, args.seed, args.workers, options
    )
    # Gaps shown live: against best known values where the bounds file has them.
    live_reference = {
        p.stem: bounds[p.stem].upper for p in instances if bounds and p.stem in bounds
    }
    err = make_console(stderr=True)
    runner = "ray" if args.ray_address else "local"
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with GridProgress(err, schedulers, len(instances), live_reference) as progress:
            if args.ray_address:
                records = grid.run_ray(specs, args.ray_address, on_done=progress)
            else:
                records = grid.run_local(specs, jobs=args.jobs or None, on_done=progress)
    except grid.GridError as exc:
        return _fail(f"error: {exc}")
    records = results.sort_records(records, schedulers)
    elapsed = time.perf_counter() - started

    reference = results.reference_values(records, bounds)
    covered = bool(bounds) and all(r.instance in (bounds or {}) for r in records)
    gap_label = (
        "best known upper bound"
        if covered
        else (
            "best known upper bound (else best found here)" if bounds else "best found in this run"
        )
    )
    rows = results.summarize(records, schedulers, bounds)
    experiment = {
        "instances": [str(p) for p in instances],
        "schedulers": schedulers,
        "time_limit_s": args.time_limit,
        "workers": args.workers,
        "seed": args.seed,
        "options": options,
        "bounds": args.bounds,
        "runner": runner,
        "ray_address": args.ray_address,
        "started_at": started_at,
        "elapsed_s": round(elapsed, 3),
        "gap_reference": gap_label,
    }
    results.write_json(
        out / "results.json", records, bounds, experiment, results.summary_dicts(rows)
    )
    results.write_csv(out / "results.csv", records, bounds)
    if not args.no_plots:
        from controlplane.experiments import plots

        for instance, best in results.best_records(records).items():
            known = (bounds or {}).get(instance)
            plots.gantt_chart(
                best, out / "gantt" / f"{instance}.png", known.upper if known else None
            )
        plots.gap_vs_time(
            records,
            schedulers,
            reference,
            out / "gap_vs_time.png",
            "best known" if covered else "best known/found",
        )

    console = make_console()
    console.print(summary_table(rows, gap_label))
    if args.details:
        console.print(details_table(records, schedulers, bounds, reference))
    failed = [r for r in records if r.error is not None]
    for r in failed[:10]:
        err.print(f"[red]failed[/red] {r.instance} {r.scheduler}: {r.error}", highlight=False)
    if len(failed) > 10:
        err.print(f"... and {len(failed) - 10} more failed runs (see results.json)")
    err.print(
        f"{len(records)} runs ({runner}) in {elapsed:.1f}s; wrote {out / 'results.json'}, "
        f"{out / 'results.csv'}" + ("" if args.no_plots else f", {out}/gantt/, gap_vs_time.png"),
        highlight=False,
    )
    return 0 if any(r.feasible for r in records) else EXIT_FAILED
