"""The simulations of `scaling simulate`: one job per policy, run in this process or in worker
processes (--jobs) with a progress bar per policy; the predictive policy's forecaster is timed."""

from __future__ import annotations

import multiprocessing
import queue
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from models.forecasting import Forecast, Series
from scheduler.scaling.simulator import SimulationConfig, SimulationResult, simulate
from scheduler.scaling.strategies import PolicySettings, make_controller

# -- forecaster ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastSpec:
    model: str
    level: float
    period_hints: tuple[int, ...]


class TimedForecaster:
    """`scheduler.forecasting.forecast` (or the seasonal-naive stand-in) as a
    `(series, horizon) -> Forecast` callable, timing its calls; statsmodels' warnings on
    short or odd windows are silenced (a failed fit is reported, the loop carries on)."""

    def __init__(self, spec: ForecastSpec) -> None:
        self.spec = spec
        self.seconds = 0.0
        self.calls = 0
        self.fallback = False
        self._call: Callable[[Series, int], Forecast]
        try:
            from scheduler.forecasting import forecast
        except ImportError:
            from scheduler.scaling.baseline_forecast import seasonal_naive_forecaster

            self.fallback = True
            self._call = seasonal_naive_forecaster(spec.level, spec.period_hints)
        else:

            def call(series: Series, horizon: int) -> Forecast:
                return forecast(
                    series,
                    horizon,
                    model=spec.model,
                    level=spec.level,
                    period_hints=spec.period_hints,
                )

            self._call = call

    def __call__(self, series: Series, horizon: int) -> Forecast:
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self._call(series, horizon)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def forecasting_available() -> bool:
    try:
        import scheduler.forecasting  # noqa: F401
    except ImportError:
        return False
    return True


FALLBACK_MESSAGE = (
    "note: scheduler.forecasting is not available; the predictive policy uses the built-in "
    "seasonal-naive stand-in (scheduler.scaling.baseline_forecast)"
)


# -- running ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    policy: str
    trace: Series
    config: SimulationConfig
    settings: PolicySettings
    forecast: ForecastSpec


@dataclass
class Outcome:
    policy: str
    result: SimulationResult | None
    seconds: float
    notes: dict[str, Any]
    error: str = ""


def run_job(job: Job, on_progress: Callable[[float], None] | None = None) -> Outcome:
    """One policy's simulation (also the worker-process entry point)."""
    started = time.perf_counter()
    forecaster: TimedForecaster | None = None
    try:
        if job.policy == "predictive":
            forecaster = TimedForecaster(job.forecast)
        controller = make_controller(job.policy, job.trace, job.config, job.settings, forecaster)
        result = simulate(job.trace, controller, job.config, on_progress)
    except Exception as exc:
        return Outcome(job.policy, None, time.perf_counter() - started, {}, f"{exc}")
    notes = controller.notes()
    if forecaster is not None:
        notes["forecast_seconds"] = round(forecaster.seconds, 3)
        notes["forecaster"] = (
            "scaling.baseline_forecast.seasonal_naive (fallback)"
            if forecaster.fallback
            else f"scheduler.forecasting.forecast(model={job.forecast.model!r})"
        )
    return Outcome(job.policy, result, time.perf_counter() - started, notes)


_PROGRESS: Any = None  # the worker processes' progress queue
COST_ORDER = ("predictive", "reactive", "oracle", "static-peak")


def _init_worker(progress_queue: Any) -> None:
    global _PROGRESS
    _PROGRESS = progress_queue


def _run_in_worker(job: Job) -> Outcome:
    last = [0.0]

    def report(fraction: float) -> None:  # throttled: every put crosses processes
        if _PROGRESS is not None and (fraction - last[0] >= 0.005 or fraction >= 1.0):
            last[0] = fraction
            _PROGRESS.put((job.policy, fraction))

    return run_job(job, report)


def run_jobs(jobs: list[Job], workers: int, err: Any) -> list[Outcome]:
    columns = (
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=not err.is_terminal) as progress:
        tasks: dict[str, TaskID] = {j.policy: progress.add_task(j.policy, total=1.0) for j in jobs}
        if workers <= 1 or len(jobs) <= 1:
            outcomes = []
            for job in jobs:
                task = tasks[job.policy]

                def advance(fraction: float, task: TaskID = task) -> None:
                    progress.update(task, completed=fraction)

                outcomes.append(run_job(job, advance))
                progress.update(task, completed=1.0)
            return outcomes
        context = multiprocessing.get_context("spawn")
        updates = context.Queue()  # handed to each worker when it starts
        with ProcessPoolExecutor(
            max_workers=min(workers, len(jobs)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(updates,),
        ) as pool:
            # The costliest first, so that the workers finish close together.
            futures: dict[str, Future[Outcome]] = {
                j.policy: pool.submit(_run_in_worker, j)
                for j in sorted(jobs, key=lambda j: COST_ORDER.index(j.policy))
            }
            while not all(f.done() for f in futures.values()):
                try:
                    policy, fraction = updates.get(timeout=0.2)
                except queue.Empty:
                    continue
                progress.update(tasks[policy], completed=fraction)
            outcomes = [futures[j.policy].result() for j in jobs]
        for job in jobs:
            progress.update(tasks[job.policy], completed=1.0)
        return outcomes
