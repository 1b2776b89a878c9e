"""Files of `orchestrator scaling simulate`: read a load trace from CSV, write results.json and
draw the load / replicas / violations figure (matplotlib Agg canvas, no pyplot).

A trace is a CSV with a header, a time column (`timestamp` by default, else the first of
timestamp/time/datetime/date/ts) and a value column (`--rate-column`, default `value`): the
number of requests in the interval starting at that time (NAB: `2014-07-01 00:00:00,10844`).
Times are ISO 8601 (UTC when no offset is given) or seconds since the epoch. The step is the
most common spacing; every spacing must be a whole number of steps, and missing intervals are
filled by linear interpolation (counted in `gaps_filled`).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.experiments.forecast_io import parse_time
from models.forecasting import Series
from scheduler.scaling.simulation_results import SimulationResult

TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "ts")
MAX_PLOT_POINTS = 1500


class TraceError(ValueError):
    """A trace file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class LoadedTrace:
    series: Series
    path: str
    rate_column: str
    time_column: str
    rows: int
    gaps_filled: int


def load_trace(
    path: str | Path, rate_column: str = "value", time_column: str | None = None
) -> LoadedTrace:
    where = str(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise TraceError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TraceError(f"{where}: not a CSV text file: {exc}") from None
    header = rows[0] if rows else None
    if not header:
        raise TraceError(f"{where}: empty file (expected a header such as timestamp,value)")
    names = [h.strip() for h in header]
    lowered = [n.lower() for n in names]
    if time_column is None:
        found = next((n for n in TIME_COLUMNS if n in lowered), None)
        if found is None:
            raise TraceError(
                f"{where}: no time column (looked for {', '.join(TIME_COLUMNS)}; "
                f"columns: {', '.join(names)})"
            )
        time_index = lowered.index(found)
    elif time_column in names:
        time_index = names.index(time_column)
    else:
        raise TraceError(f"{where}: no column {time_column!r} (columns: {', '.join(names)})")
    if rate_column not in names:
        raise TraceError(
            f"{where}: no column {rate_column!r} (columns: {', '.join(names)}); "
            "choose one with --rate-column"
        )
    value_index = names.index(rate_column)
    times: list[float] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) <= max(time_index, value_index):
            raise TraceError(f"{where}:{line}: expected {len(names)} columns")
        try:
            moment = parse_time(row[time_index])
        except ValueError:
            raise TraceError(f"{where}:{line}: not a time: {row[time_index]!r}") from None
        try:
            value = float(row[value_index])
        except ValueError:
            raise TraceError(f"{where}:{line}: not a number: {row[value_index]!r}") from None
        if not math.isfinite(value) or value < 0:
            raise TraceError(f"{where}:{line}: a request count must be >= 0, got {value}")
        if times and moment <= times[-1]:
            raise TraceError(f"{where}:{line}: times must increase")
        times.append(moment)
        values.append(value)
    if len(times) < 2:
        raise TraceError(f"{where}: at least two rows are needed, got {len(times)}")
    spacings = Counter(round(b - a, 6) for a, b in itertools.pairwise(times))
    step = max(spacings.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    filled: list[float] = [values[0]]
    gaps = 0
    for i in range(1, len(times)):
        steps = (times[i] - times[i - 1]) / step
        whole = round(steps)
        if whole < 1 or abs(steps - whole) > 1e-6 * max(1.0, steps):
            raise TraceError(
                f"{where}: irregular times: {times[i] - times[i - 1]:g}s between rows "
                f"{i + 1} and {i + 2} is not a whole number of {step:g}s steps"
            )
        for k in range(1, whole):  # missing intervals: interpolate
            filled.append(values[i - 1] + (values[i] - values[i - 1]) * k / whole)
            gaps += 1
        filled.append(values[i])
    series = Series(start=times[0], step_s=step, values=tuple(filled), name=Path(path).stem)
    return LoadedTrace(
        series=series,
        path=where,
        rate_column=rate_column,
        time_column=names[time_index],
        rows=len(times),
        gaps_filled=gaps,
    )


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def _groups(length: int, max_points: int) -> int:
    return max(1, math.ceil(length / max_points))


def _sum_groups(values: Sequence[float], size: int) -> list[float]:
    return [sum(values[i : i + size]) for i in range(0, len(values), size)]


def _mean_groups(values: Sequence[float], size: int) -> list[float]:
    return [
        sum(values[i : i + size]) / len(values[i : i + size]) for i in range(0, len(values), size)
    ]


def simulation_plot(
    trace: Series, results: Sequence[SimulationResult], path: Path, title: str
) -> Path:
    """Three panels over time: the load (requests/s), the replicas paid for per policy, and
    the share of requests over the wait SLO per policy (bins merged to at most
    MAX_PLOT_POINTS points)."""
    from matplotlib import colormaps  # imported here: worker processes never draw
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = _groups(len(trace.values), MAX_PLOT_POINTS)
    days = [i * size * trace.step_s / 86_400.0 for i in range(_groups(len(trace.values), size))]
    width = size * trace.step_s
    figure = Figure(figsize=(13, 9), layout="constrained")
    load_ax, replicas_ax, violations_ax = figure.subplots(3, 1, sharex=True)
    load = [v / width for v in _sum_groups(trace.values, size)]
    load_ax.plot(days, load, color="black", linewidth=0.8, label="trace (expected)")
    if results:
        arrived = [v / width for v in _sum_groups(results[0].arrivals, size)]
        load_ax.plot(days, arrived, color="tab:gray", linewidth=0.5, alpha=0.7, label="arrived")
    load_ax.set_ylabel("requests/s")
    load_ax.legend(loc="upper right", fontsize=8)
    colors = colormaps["tab10"]
    for i, result in enumerate(results):
        color = colors(i % 10)
        replicas_ax.step(
            days,
            _mean_groups(result.replicas_per_bin, size),
            where="post",
            color=color,
            linewidth=0.8,
            label=result.policy,
        )
        arrivals = _sum_groups(result.arrivals, size)
        late = _sum_groups(result.violations_per_bin, size)
        share = [100.0 * v / a if a else 0.0 for v, a in zip(late, arrivals, strict=True)]
        violations_ax.plot(
            days,
            share,
            color=color,
            linewidth=0.8,
            label=f"{result.policy} ({100 * result.slo_violation_rate:.3f}% overall)",
        )
    replicas_ax.set_ylabel("replicas (paid)")
    replicas_ax.legend(loc="upper right", fontsize=8)
    violations_ax.set_ylabel("% requests over SLO")
    violations_ax.set_xlabel(
        f"days since {datetime.fromtimestamp(trace.start, tz=UTC):%Y-%m-%d %H:%M} UTC"
        + (f" ({size} intervals per point)" if size > 1 else "")
    )
    violations_ax.legend(loc="upper right", fontsize=8)
    figure.suptitle(title)
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path
