"""Run records, their JSON/CSV files and the summary (gaps to best known values).

Everything here is plain data: a `RunRecord` crosses process and Ray boundaries by pickling,
and the summary functions are pure so the tests can check the numbers directly.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scheduler.instances.bounds import KnownBound

FEASIBLE_STATUSES = frozenset({"OPTIMAL", "FEASIBLE", "HEURISTIC"})
ERROR_STATUS = "ERROR"


@dataclass(frozen=True)
class RunRecord:
    """The outcome of one (instance, scheduler) run; plain data only."""

    instance: str
    instance_path: str
    scheduler: str
    status: str  # a SolveStatus value, or ERROR
    objective: float | None = None
    makespan: int | None = None
    bound: float | None = None  # the solver's own proven bound, if it has one
    solve_seconds: float = 0.0  # the solver's time (from the registry)
    wall_seconds: float = 0.0  # loading + solving + checking, as seen by the worker
    feasible: bool = False
    error: str | None = None
    time_limit_s: float = 0.0
    seed: int = 0
    workers: int = 1
    # (elapsed_s, objective, bound) of every incumbent the solver reported.
    trace: list[tuple[float, float, float | None]] = field(default_factory=list)
    # {job, op, machine, start, end}, numbered as in the instance file.
    schedule: list[dict[str, int]] = field(default_factory=list)

    @property
    def proved_optimal(self) -> bool:
        return self.status == "OPTIMAL"


def sort_records(records: Iterable[RunRecord], scheduler_order: Sequence[str]) -> list[RunRecord]:
    """Deterministic order: by instance name, then schedulers in the order given."""
    rank = {name: i for i, name in enumerate(scheduler_order)}
    return sorted(
        records, key=lambda r: (r.instance, rank.get(r.scheduler, len(rank)), r.scheduler)
    )


# -- gaps ---------------------------------------------------------------------------------------


def gap_to(value: float | None, reference: float | None) -> float | None:
    """(value - reference) / reference; None when either is unknown."""
    if value is None or reference is None or not math.isfinite(value):
        return None
    if reference == 0:
        return 0.0 if value == 0 else None
    return (value - reference) / reference


def best_found(records: Iterable[RunRecord]) -> dict[str, float]:
    """The best objective any scheduler reached per instance (feasible runs only)."""
    out: dict[str, float] = {}
    for r in records:
        if r.feasible and r.objective is not None:
            out[r.instance] = min(out.get(r.instance, r.objective), r.objective)
    return out


def reference_values(
    records: Sequence[RunRecord], bounds: dict[str, KnownBound] | None
) -> dict[str, float]:
    """What gaps are measured against: the best known upper bound when a bounds file covers
    the instance, else the best value found in this experiment."""
    out = best_found(records)
    for instance in {r.instance for r in records}:
        known = (bounds or {}).get(instance)
        if known is not None:
            out[instance] = known.upper
    return out


def is_optimal(record: RunRecord, known: KnownBound | None) -> bool:
    """Proved optimal by the solver, or matching the best known lower bound."""
    if not record.feasible or record.objective is None:
        return False
    return record.proved_optimal or (known is not None and record.objective <= known.lower)


def reference_names(bounds: dict[str, KnownBound] | None, instances: Iterable[str]) -> list[str]:
    """Reference solver results published in the bounds file (e.g. cpsat_9_15_600s_4cores)
    that give an upper bound for at least one of the instances."""
    names: list[str] = []
    for instance in instances:
        known = (bounds or {}).get(instance)
        if known is None:
            continue
        for name, figures in known.reference.items():
            if "ub" in figures and name not in names:
                names.append(name)
    return names


# -- records as files ---------------------------------------------------------------------------


def record_dict(record: RunRecord, bounds: dict[str, KnownBound] | None) -> dict[str, Any]:
    data = asdict(record)
    data["trace"] = [list(point) for point in record.trace]
    known = (bounds or {}).get(record.instance)
    data["best_known_lower"] = known.lower if known else None
    data["best_known_upper"] = known.upper if known else None
    data["gap"] = gap_to(record.objective, known.upper) if known and record.feasible else None
    data["optimal"] = is_optimal(record, known)
    return data


def write_json(
    path: Path,
    records: Sequence[RunRecord],
    bounds: dict[str, KnownBound] | None,
    experiment: dict[str, Any],
    summary: Sequence[dict[str, Any]],
) -> None:
    document = {
        "experiment": experiment,
        "summary": list(summary),
        "records": [record_dict(r, bounds) for r in records],
    }
    path.write_text(json.dumps(document, indent=1) + "\n")


CSV_COLUMNS = (
    "instance",
    "scheduler",
    "status",
    "objective",
    "makespan",
    "bound",
    "best_known_lower",
    "best_known_upper",
    "gap",
    "optimal",
    "feasible",
    "solve_seconds",
    "wall_seconds",
    "time_limit_s",
    "seed",
    "workers",
    "error",
)


def write_csv(
    path: Path, records: Sequence[RunRecord], bounds: dict[str, KnownBound] | None
) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            row = record_dict(record, bounds)
            writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})


# -- summary ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRow:
    """One scheduler (or one published reference) over all instances."""

    name: str
    runs: int
    feasible: int
    optimal: int
    errors: int
    mean_gap: float | None
    worst_gap: float | None
    mean_seconds: float | None
    reference: bool = False  # a published figure from the bounds file, not a run


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(
    records: Sequence[RunRecord],
    scheduler_order: Sequence[str],
    bounds: dict[str, KnownBound] | None,
) -> list[SummaryRow]:
    """Per scheduler: mean and worst gap to the reference value (best known upper bound, or
    best found in this experiment without bounds), mean solve seconds, #optimal, #feasible.
    Then one row per published reference result covering the instances."""
    reference = reference_values(records, bounds)
    rows: list[SummaryRow] = []
    for name in scheduler_order:
        mine = [r for r in records if r.scheduler == name]
        gaps = [
            g
            for r in mine
            if r.feasible and (g := gap_to(r.objective, reference.get(r.instance))) is not None
        ]
        rows.append(
            SummaryRow(
                name=name,
                runs=len(mine),
                feasible=sum(r.feasible for r in mine),
                optimal=sum(is_optimal(r, (bounds or {}).get(r.instance)) for r in mine),
                errors=sum(r.error is not None for r in mine),
                mean_gap=_mean(gaps),
                worst_gap=max(gaps) if gaps else None,
                mean_seconds=_mean([r.solve_seconds for r in mine if r.error is None]),
            )
        )
    instances = sorted({r.instance for r in records})
    for ref in reference_names(bounds, instances):
        gaps = []
        optimal = 0
        for instance in instances:
            known = (bounds or {}).get(instance)
            figures = known.reference.get(ref, {}) if known else {}
            if known is None or "ub" not in figures:
                continue
            gap = gap_to(figures["ub"], known.upper)
            if gap is not None:
                gaps.append(gap)
            optimal += int(figures["ub"] <= known.lower)
        rows.append(
            SummaryRow(
                name=ref,
                runs=len(gaps),
                feasible=len(gaps),
                optimal=optimal,
                errors=0,
                mean_gap=_mean(gaps),
                worst_gap=max(gaps) if gaps else None,
                mean_seconds=None,
                reference=True,
            )
        )
    return rows


def summary_dicts(rows: Sequence[SummaryRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]


def best_records(records: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """Per instance, the feasible record with the lowest objective (first in order on ties)."""
    best: dict[str, RunRecord] = {}
    for r in records:
        if not r.feasible or r.objective is None:
            continue
        current = best.get(r.instance)
        if current is None or r.objective < (current.objective or math.inf):
            best[r.instance] = r
    return best
