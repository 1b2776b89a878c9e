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

from controlplane.cli.bench_placement import register_placement
from controlplane.cli.parsing import parse_value, positive_float, positive_int
from controlplane.cli.render import make_console
from controlplane.experiments import grid, results
from controlplane.experiments.results import RunRecord, SummaryRow
from scheduler import registry
from scheduler.instances.bounds import KnownBound, load_bounds

EXIT_USAGE = 2
EXIT_FAILED = 1

DESCRIPTION = """\
Run every scheduler on every instance and compare them.

Each (instance, scheduler) pair is one run: the instance is loaded, solved by the named
scheduler (the registry checks every schedule's feasibility) and recorded. Runs execute in
local worker processes (each run reserves --workers CPUs, so max(1, CPUs // workers) processes
run at once; --jobs overrides), or as Ray tasks across a cluster with --ray-address (each task
reserves --workers CPUs; inside `ray job submit` use --ray-address auto and the tasks show in
the Ray dashboard as bench:<instance>:<scheduler>). Dispatching rules and the learned policy
give identical results either way, as does the GA with a fixed generation budget and seed.
"""

EPILOG = """\
output (in --out DIR):
  results.json       {"experiment": {...}, "summary": [...], "records": [...]}: one record per
                     (instance, scheduler), sorted by instance then by the --schedulers order,
                     with instance, scheduler, status, objective, makespan, bound (the solver's
                     own proven bound), best_known_lower/upper and gap (with --bounds), optimal,
                     feasible, solve_seconds, wall_seconds, error, trace ([elapsed_s, objective,
                     bound] per incumbent reported) and schedule ([{job, op, machine, start,
                     end}], numbered as in the instance file)
  results.csv        the same records without schedule and trace
  gantt/<inst>.png   the best schedule of each instance: one row per machine, bars by job
  gap_vs_time.png    per scheduler, the mean gap of the incumbent over time across instances
                     (a scheduler that reports no progress is one point at its solve time)
gaps:
  gap = (objective - best known upper bound) / best known upper bound, from --bounds; an
  instance missing from the bounds file is compared with the best value found in this run.
  The summary (stdout) shows per scheduler the mean and worst gap, mean solve seconds, and
  how many runs were optimal (proved by the solver, or equal to the best known lower bound)
  and feasible; reference results published in the bounds file (e.g. CP-SAT 600 s) appear
  as extra rows for comparison. --details adds one row per instance.
exit status: 0 when at least one run produced a schedule (a failing run is recorded with its
  error, it never stops the grid), 1 when none did, 2 for a usage problem (unknown
  scheduler, no instance matched, unreadable bounds file).
examples:
  orchestrator bench scheduling --instances '../shared/data/jobshop/instances/la0*.txt' \\
      --schedulers spt,mwkr,cpsat --time-limit 10 --bounds ../shared/data/jobshop/bounds.json
  ray job submit -- orchestrator bench scheduling --ray-address auto --workers 4 \\
      --instances 'data/ta*js.txt' --schedulers cpsat,ga --option ga.generations=300
"""


def parse_option(text: str) -> tuple[str, str, Any]:
    """`ga.generations=200` -> ('ga', 'generations', 200)."""
    key, sep, value = text.partition("=")
    scheduler, dot, name = key.strip().partition(".")
    if not sep or not dot or not scheduler or not name:
        raise argparse.ArgumentTypeError(f"expected SCHEDULER.KEY=VALUE, got {text!r}")
    return scheduler, name, parse_value(value)


def at_least_one(text: str) -> int:
    value = positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(
    top: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Adds `bench scheduling` to the top-level subcommands."""
    bench = top.add_parser(
        "bench", help="run benchmarks", description="Run benchmarks (no control plane needed)."
    )
    kinds = bench.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    sched = kinds.add_parser(
        "scheduling",
        help="compare schedulers on benchmark instances",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sched.add_argument(
        "--instances",
        nargs="+",
        required=True,
        metavar="GLOB",
        help="instance files, globs (quote them; ** allowed) or folders; job shop, flexible "
        "job shop (mk*, *_edata, fjsp/) or JSON problem files",
    )
    sched.add_argument(
        "--schedulers",
        required=True,
        metavar="LIST",
        help="comma-separated scheduler names, in the order to report them, from: "
        f"{' '.join(registry.names())} (e.g. cpsat,ga,ml,spt)",
    )
    sched.add_argument(
        "--time-limit",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds per run for anytime schedulers (default: 10)",
    )
    sched.add_argument(
        "--workers",
        type=at_least_one,
        default=1,
        metavar="W",
        help="CPUs (solver threads) per run; also what each run reserves (default: 1)",
    )
    sched.add_argument("--seed", type=int, default=0, metavar="K", help="solver seed (default: 0)")
    sched.add_argument(
        "--option",
        action="append",
        type=parse_option,
        default=[],
        metavar="SCHED.KEY=VALUE",
        help="scheduler-specific option, value parsed as JSON when it parses "
        "(e.g. ga.generations=200); repeatable",
    )
    sched.add_argument(
        "--out",
        default="bench-results",
        metavar="DIR",
        help="output folder, created if needed (default: bench-results)",
    )
    sched.add_argument(
        "--bounds",
        default=None,
        metavar="FILE",
        help="bounds.json with best known values, e.g. ../shared/data/jobshop/bounds.json",
    )
    sched.add_argument("--details", action="store_true", help="also print one row per instance")
    sched.add_argument(
        "--jobs",
        type=positive_int,
        default=0,
        metavar="N",
        help="local worker processes (default: max(1, CPUs // workers))",
    )
    sched.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="run the grid as Ray tasks on this cluster ('auto' inside `ray job submit`, or "
        "HOST:PORT); default: local worker processes",
    )
    sched.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    sched.set_defaults(local_handler=run_bench)
    register_placement(kinds)
    return sched


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
