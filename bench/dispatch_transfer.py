"""Learned dispatch (`ml`) against every single dispatching rule, per public instance family.

Every instance of the chosen set is solved by `ml` and by each rule (each in its default SGS
mode), one process, one core, sequentially. Gaps are to the best known upper bound of
`bounds.json`. Reported per family and overall: ml's mean gap; the *best single rule* (the rule
with the lowest mean gap over the whole set) and its mean gap; the best rule of each family on
its own; the ratios ml / best rule; ml's mean and max seconds per instance. Taillard instances
form one family per size ("ta 30x20").

Sets (none of them is used to train; only `laft`, `abz` and `generated` may be looked at
while developing):
  unseen     swv01-20, yn1-4, orb01-10, ta11-ta80 (Taillard 20x15 and larger): report-only
  laft       la01-la40, ft06/10/20 (the older README table)
  abz        abz5-abz9
  harder     ft10, la16, la21, la24, la29, la36, la40, abz5
  ta15       ta01-ta10 (15x15; the older README table's Taillard row): report-only
  generated  seeded job shops 20x15 to 100x20 (uniform [1, 99], seeds 9001-9003, not the
             trainer's seeds); gaps to the trivial lower bound (busiest machine, longest job),
             so they overstate the true gaps

    .venv/bin/python bench/dispatch_transfer.py --set unseen [--out out/dispatch_unseen.json]
    .venv/bin/python bench/dispatch_transfer.py --set laft --model path/to/policy.joblib
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.scheduling import SchedulingProblem
from scheduler import registry
from scheduler.instances import load_instance, random_jobshop

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "jobshop"
RULES = ("fifo", "spt", "lpt", "edf", "mwkr", "mor", "wspt", "rr", "heft")
SETS: dict[str, tuple[str, ...]] = {
    "unseen": (
        *(f"swv{i:02d}" for i in range(1, 21)),
        *(f"yn{i}" for i in range(1, 5)),
        *(f"orb{i:02d}" for i in range(1, 11)),
        *(f"ta{i:02d}js" for i in range(11, 81)),
    ),
    "laft": (*(f"la{i:02d}" for i in range(1, 41)), "ft06", "ft10", "ft20"),
    "abz": tuple(f"abz{i}" for i in range(5, 10)),
    "harder": ("ft10", "la16", "la21", "la24", "la29", "la36", "la40", "abz5"),
    "ta15": tuple(f"ta{i:02d}js" for i in range(1, 11)),
}
GENERATED_SIZES = ((20, 15), (20, 20), (30, 15), (30, 20), (50, 15), (50, 20), (100, 20))
GENERATED_SEEDS = (9001, 9002, 9003)
TARGET_RATIO = 0.7
TARGET_SECONDS = 0.5


@dataclass(frozen=True)
class Run:
    instance: str
    family: str
    scheduler: str
    objective: float
    gap: float
    seconds: float


@dataclass(frozen=True)
class FamilyRow:
    family: str
    instances: int
    ml_gap: float
    best_rule: str  # best over the whole set
    best_rule_gap: float
    ratio: float
    family_best_rule: str  # best within this family
    family_best_rule_gap: float
    family_ratio: float
    ml_mean_s: float
    ml_max_s: float


@dataclass(frozen=True)
class Instance:
    name: str
    family: str
    problem: SchedulingProblem
    reference: float  # gaps are to this value


def family_of(row: dict[str, Any]) -> str:
    if row["family"] == "ta":
        return "ta " + row["size"].replace(" ", "")
    return str(row["family"])


def trivial_lower_bound(problem: SchedulingProblem) -> float:
    load = [0] * problem.num_machines
    for op in problem.operations:
        load[op.alternatives[0].machine] += op.min_duration
    longest_job = max(
        sum(problem.operations[i].min_duration for i in j.operations) for j in problem.jobs
    )
    return float(max(max(load), longest_job))


def instances_of(set_name: str, data: Path) -> list[Instance]:
    if set_name == "generated":
        out = []
        for n, m in GENERATED_SIZES:
            for seed in GENERATED_SEEDS:
                problem = random_jobshop(n, m, seed, name=f"gen-{n}x{m}-s{seed}")
                out.append(
                    Instance(problem.name, f"gen {n}x{m}", problem, trivial_lower_bound(problem))
                )
        return out
    bounds = {row["instance"]: row for row in json.loads((data / "bounds.json").read_text())}
    return [
        Instance(
            name,
            family_of(bounds[name]),
            load_instance(data / "instances" / f"{name}.txt"),
            float(bounds[name]["upper_bound"]),
        )
        for name in SETS[set_name]
        if name in bounds
    ]


def run_all(
    instances: Sequence[Instance],
    schedulers: Sequence[str],
    ml_options: dict[str, Any],
    time_limit_s: float,
    seed: int,
    console: Console,
) -> list[Run]:
    runs: list[Run] = []
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("instances", total=len(instances))
        for instance in instances:
            problem = instance.problem
            for scheduler in schedulers:
                options = ml_options if scheduler == "ml" else {}
                started = time.perf_counter()
                schedule = registry.solve(
                    problem, scheduler, time_limit_s=time_limit_s, seed=seed, options=options
                )
                seconds = schedule.solve_seconds or (time.perf_counter() - started)
                value = float(schedule.objective_value)
                gap = value / instance.reference - 1
                runs.append(Run(instance.name, instance.family, scheduler, value, gap, seconds))
            progress.update(task, advance=1, description=instance.name)
    return runs


def _mean_gap(runs: Sequence[Run], scheduler: str, family: str | None = None) -> float:
    gaps = [r.gap for r in runs if r.scheduler == scheduler and family in (None, r.family)]
    return statistics.fmean(gaps)


def summarize(runs: Sequence[Run], rules: Sequence[str]) -> list[FamilyRow]:
    families = list(dict.fromkeys(r.family for r in runs))
    best = min(rules, key=lambda rule: _mean_gap(runs, rule))
    rows = []
    for family in [*families, None]:
        ml = [r for r in runs if r.scheduler == "ml" and family in (None, r.family)]
        ml_gap = _mean_gap(runs, "ml", family)
        best_gap = _mean_gap(runs, best, family)
        local = min(rules, key=lambda rule: _mean_gap(runs, rule, family))
        local_gap = _mean_gap(runs, local, family)
        rows.append(
            FamilyRow(
                family=family or "overall",
                instances=len(ml),
                ml_gap=ml_gap,
                best_rule=best,
                best_rule_gap=best_gap,
                ratio=ml_gap / best_gap if best_gap > 0 else float("inf"),
                family_best_rule=local,
                family_best_rule_gap=local_gap,
                family_ratio=ml_gap / local_gap if local_gap > 0 else float("inf"),
                ml_mean_s=statistics.fmean(r.seconds for r in ml),
                ml_max_s=max(r.seconds for r in ml),
            )
        )
    return rows


def rule_table(runs: Sequence[Run], rules: Sequence[str]) -> Table:
    table = Table(title="mean gap of every scheduler over the whole set")
    for column in ("scheduler", "mean gap", "worst gap", "mean s", "max s"):
        table.add_column(column, justify="left" if column == "scheduler" else "right")
    for name in ["ml", *rules]:
        mine = [r for r in runs if r.scheduler == name]
        table.add_row(
            name,
            f"{100 * statistics.fmean(r.gap for r in mine):.2f}%",
            f"{100 * max(r.gap for r in mine):.2f}%",
            f"{statistics.fmean(r.seconds for r in mine):.3f}",
            f"{max(r.seconds for r in mine):.3f}",
        )
    return table


def family_table(rows: Sequence[FamilyRow]) -> Table:
    table = Table(
        title="ml vs the best single rule",
        caption=f"target: ratio <= {TARGET_RATIO}, ml max s < {TARGET_SECONDS}",
    )
    for column in (
        "family",
        "n",
        "ml gap",
        "best rule (set)",
        "its gap",
        "ratio",
        "best rule (family)",
        "its gap",
        "ratio",
        "ml mean s",
        "ml max s",
    ):
        table.add_column(
            column, justify="left" if column.startswith(("family", "best")) else "right"
        )
    for row in rows:
        table.add_row(
            row.family,
            str(row.instances),
            f"{100 * row.ml_gap:.2f}%",
            row.best_rule,
            f"{100 * row.best_rule_gap:.2f}%",
            f"{row.ratio:.3f}",
            row.family_best_rule,
            f"{100 * row.family_best_rule_gap:.2f}%",
            f"{row.family_ratio:.3f}",
            f"{row.ml_mean_s:.3f}",
            f"{row.ml_max_s:.3f}",
            style="bold" if row.family == "overall" else None,
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--set", choices=sorted([*SETS, "generated"]), default="unseen", help="instance set"
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="jobshop data folder")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated rules")
    parser.add_argument("--model", default="", help="policy file (default: the shipped one)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per solve")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = parser.parse_args(argv)

    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    unknown = [r for r in rules if r not in registry.RULES]
    if not rules or unknown:
        sys.stderr.write(f"error: --rules must name some of {', '.join(registry.RULES)}\n")
        return 2
    instances = instances_of(args.set, args.data)
    ml_options: dict[str, Any] = {"model_path": args.model} if args.model else {}
    # Load the policy before the clock starts: a solve should not pay for reading the file.
    from scheduler.ml import model_store

    (model_store.load_policy(args.model) if args.model else model_store.default_policy())
    console = Console(width=150)
    started = time.perf_counter()
    runs = run_all(
        instances,
        ["ml", *rules],
        ml_options,
        args.time_limit,
        args.seed,
        console,
    )
    rows = summarize(runs, rules)
    console.print(rule_table(runs, rules))
    console.print(family_table(rows))
    console.print(f"{len(instances)} instances in {time.perf_counter() - started:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {
                    "set": args.set,
                    "model": args.model or "default",
                    "rules": rules,
                    "summary": [asdict(r) for r in rows],
                    "runs": [asdict(r) for r in runs],
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
