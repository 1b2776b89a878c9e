"""PNG figures of an experiment: a Gantt chart per instance and the gap of the incumbent over
time per scheduler. Drawn with matplotlib's Agg canvas directly (no pyplot, no GUI, no global
figure state), so it works in worker-less CLI runs and in Ray jobs alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from controlplane.experiments.results import RunRecord, gap_to

MIN_SECONDS = 1e-4  # times are drawn on a log axis; 0 s is clamped to this


def _job_color(job: int, n_jobs: int) -> tuple[float, float, float, float]:
    if n_jobs <= 20:
        color: tuple[float, float, float, float] = colormaps["tab20"](job % 20)
        return color
    # Spread neighbouring job numbers over the colour map so they stay distinguishable.
    step = 0.618033988749895
    color = colormaps["turbo"](0.05 + 0.9 * ((job * step) % 1.0))
    return color


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def gantt_chart(
    record: RunRecord, path: Path, best_known: float | None = None, num_machines: int | None = None
) -> Path:
    """One row per machine, one bar per operation coloured by job; the title names the
    scheduler and the makespan."""
    rows = record.schedule
    machines = sorted({r["machine"] for r in rows} | set(range(num_machines or 0)))
    jobs = sorted({r["job"] for r in rows})
    n_jobs = (max(jobs) + 1) if jobs else 0
    makespan = max((r["end"] for r in rows), default=0)
    height = min(14.0, max(3.0, 0.45 * len(machines) + 1.6))
    figure = Figure(figsize=(12, height), layout="constrained")
    ax = figure.add_subplot()
    position = {m: i for i, m in enumerate(machines)}
    label_bars = len(rows) <= 400
    for job in jobs:
        mine = [r for r in rows if r["job"] == job]
        color = _job_color(job, n_jobs)
        ax.barh(
            [position[r["machine"]] for r in mine],
            [r["end"] - r["start"] for r in mine],
            left=[r["start"] for r in mine],
            height=0.8,
            color=color,
            edgecolor="black",
            linewidth=0.4,
        )
        if label_bars:
            for r in mine:
                if (r["end"] - r["start"]) >= makespan / 45:
                    ax.text(
                        (r["start"] + r["end"]) / 2,
                        position[r["machine"]],
                        str(job),
                        ha="center",
                        va="center",
                        fontsize=7,
                    )
    ax.set_yticks(range(len(machines)), labels=[f"M{m}" for m in machines])
    ax.invert_yaxis()
    ax.set_xlim(0, max(1, makespan) * 1.01)
    ax.set_xlabel("time")
    ax.set_ylabel("machine")
    ax.grid(axis="x", alpha=0.3)
    title = f"{record.instance}: {record.scheduler}, makespan {makespan}"
    if best_known is not None:
        gap = gap_to(makespan, best_known)
        title += f" (best known {best_known:g}, gap {100 * (gap or 0):.1f}%)"
    ax.set_title(title)
    if 0 < len(jobs) <= 20:
        ax.legend(
            handles=[Patch(color=_job_color(j, n_jobs), label=f"job {j}") for j in jobs],
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            fontsize=7,
            frameon=False,
        )
    _save(figure, path)
    return path


def _incumbents(record: RunRecord) -> list[tuple[float, float]]:
    """(time, best objective so far) steps from the trace, ending with the final result."""
    points = sorted((max(MIN_SECONDS, t), obj) for t, obj, _ in record.trace)
    if record.objective is not None:
        points.append((max(MIN_SECONDS, record.solve_seconds), record.objective))
    steps: list[tuple[float, float]] = []
    for t, obj in points:
        if not steps or obj < steps[-1][1]:
            steps.append((t, obj))
    return steps


def gap_curve(
    records: Sequence[RunRecord], reference: dict[str, float]
) -> tuple[list[float], list[float]]:
    """Mean gap (in %) of the incumbent across instances over time, from the moment every
    instance has an incumbent until the last run ended. Runs without a feasible result or a
    reference are left out."""
    per_instance = [
        (steps, reference[r.instance])
        for r in records
        if r.feasible and r.instance in reference and (steps := _incumbents(r))
    ]
    if not per_instance:
        return [], []
    start = max(steps[0][0] for steps, _ in per_instance)
    times = sorted({t for steps, _ in per_instance for t, _ in steps if t >= start} | {start})
    xs: list[float] = []
    ys: list[float] = []
    for t in times:
        gaps = []
        for steps, ref in per_instance:
            value = min(obj for when, obj in steps if when <= t)
            gaps.append(100 * (gap_to(value, ref) or 0.0))
        xs.append(t)
        ys.append(sum(gaps) / len(gaps))
    # Hold the last value until the runs ended, so a curve shows how long the solver ran.
    end = max(max(MIN_SECONDS, r.solve_seconds) for r in records if r.feasible)
    if end > xs[-1]:
        xs.append(end)
        ys.append(ys[-1])
    return xs, ys


def gap_vs_time(
    records: Sequence[RunRecord],
    scheduler_order: Sequence[str],
    reference: dict[str, float],
    path: Path,
    reference_label: str = "best known",
) -> Path:
    """For each scheduler the mean gap of its incumbent over time across instances (a step
    curve from its traces); a scheduler that reports no trace is one point at its mean solve
    time and mean final gap."""
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    ax = figure.add_subplot()
    drawn = 0
    for i, name in enumerate(scheduler_order):
        mine = [r for r in records if r.scheduler == name]
        color = colormaps["tab10"](i % 10)
        if any(len(r.trace) > 1 for r in mine):
            xs, ys = gap_curve(mine, reference)
            if xs:
                ax.step(xs, ys, where="post", color=color, label=name, linewidth=1.6)
                ax.plot(xs[-1:], ys[-1:], "o", color=color, markersize=4)
                drawn += 1
                continue
        finals = [
            (max(MIN_SECONDS, r.solve_seconds), 100 * g)
            for r in mine
            if r.feasible and (g := gap_to(r.objective, reference.get(r.instance))) is not None
        ]
        if finals:
            x = sum(t for t, _ in finals) / len(finals)
            y = sum(g for _, g in finals) / len(finals)
            ax.plot([x], [y], "o", color=color, markersize=7, label=name)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
            drawn += 1
    if drawn == 0:
        ax.text(0.5, 0.5, "no feasible runs to compare", ha="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log scale)")
    ax.set_ylabel(f"mean gap to {reference_label} (%)")
    instances = len({r.instance for r in records})
    ax.set_title(f"gap of the incumbent vs time ({instances} instances)")
    ax.grid(True, which="both", alpha=0.3)
    ymin, ymax = ax.get_ylim()
    if math.isfinite(ymin) and ymin > 0:
        ax.set_ylim(0, ymax)
    _save(figure, path)
    return path
