"""`orchestrator scaling simulate`: replay a load trace through an autoscaled replica pool with
each scaling policy and compare SLO violations against replica-hours (no control plane needed).

The simulation itself is pure (`scheduler.scaling.simulator`); this module reads the trace,
picks the forecaster, runs the policies (in worker processes with --jobs), shows progress, and
writes results.json and simulation.png.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import queue
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from controlplane.cli.parsing import (
    count_arg,
    duration_arg,
    fraction_arg,
    positive_duration,
    utilization_arg,
)
from controlplane.experiments.scaling_io import (
    LoadedTrace,
    TraceError,
    load_trace,
    simulation_plot,
    write_json,
)
from models.forecasting import Forecast, Series
from scheduler.scaling.simulation_inputs import SimulationConfig
from scheduler.scaling.simulation_results import SimulationResult
from scheduler.scaling.simulator import simulate
from scheduler.scaling.strategies import (
    POLICY_NAMES,
    PolicySettings,
    make_controller,
    peak_rate,
    period_hints,
    service_time_for_peak,
)

EXIT_USAGE = 2
EXIT_FAILED = 1
PEAK_REPLICAS = 20  # the automatic service time makes the trace's peak need this many
# The bar for predictive against reactive.
TARGET_VIOLATION_RATIO = 0.5
TARGET_REPLICA_HOURS_RATIO = 1.05

DESCRIPTION = """\
Replay a load trace as request arrivals through a pool of replicas that take time to start,
scaled by each policy, and compare how many requests waited longer than the SLO against the
replica-hours paid.

model:
  Each trace value is the number of requests in its interval; the simulator draws the count
  from a Poisson distribution and spreads the arrivals uniformly (a seeded Poisson process:
  every policy sees the same arrivals). One FCFS queue feeds the ready replicas, one request
  per replica at a time, each taking --service-time (deterministic by default; exponential
  gives M/M/c). A replica asked for serves --startup-delay later and is paid from the moment
  it is asked for; scale-in cancels starting replicas first, then removes idle ones, then
  drains busy ones. Policies are evaluated every --evaluation-period.
policies:
  reactive     HPA-style target tracking on in-flight requests per ready replica (= the
               utilisation while nothing queues) at --target-utilization, tolerance 0.1, no
               scale-up and 300 s scale-down stabilisation, at most max(4, 100%) up and 100%
               down per evaluation (the Kubernetes defaults)
  predictive   reactive as a floor plus replicas for the forecast upper bound (--level) of the
               arrival rate over the next --lead-time, at the measured service time and
               --target-utilization, and (--slo-sizing) at least as many as Erlang C needs
               for the wait SLO; scale-out wins. The forecast (scheduler.forecasting,
               --forecast-model) is refitted every --refit-every of simulated time on the
               last --history of arrivals seen and reused in between
  static-peak  a fixed pool sized for the trace's peak rate, ready from the start
  oracle       the predictive rule fed the true future arrival counts (a perfect forecast)
               and nothing else: the lower bound for this sizing rule
"""

EPILOG = """\
output (in --out DIR):
  results.json    {"experiment": {...}, "defaults": {every setting used}, "policies":
                  {name: {slo_violation_rate, p95_wait_s, p99_wait_s, replica_hours,
                  scale_events, ...}}, "comparison": {"predictive_vs_reactive": ...,
                  "predictive_vs_oracle": ..., "reactive_vs_oracle": ...}}
  simulation.png  load, replicas per policy and the share of requests over the SLO over time
  decisions.jsonl with --decisions: every scale decision with its reason and inputs
exit status: 0 on success, 1 when a simulation failed, 2 for bad input (unreadable or
  irregular trace, unknown policy, bad value).
example:
  orchestrator scaling simulate --trace ../shared/data/traces/nab_nyc_taxi.csv \\
      --policies reactive,predictive,static-peak,oracle --out out/scaling-taxi
"""


# -- argument types -------------------------------------------------------------------------------


def _slo_sizing(text: str) -> float | None:
    if text.strip().lower() in ("off", "none", "0"):
        return None
    return fraction_arg(text)


def parse_policies(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no policy given")
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(unknown)} (choose from {', '.join(POLICY_NAMES)})"
        )
    return list(dict.fromkeys(names))


def register(
    top: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Adds `scaling simulate` to the top-level subcommands."""
    scaling = top.add_parser(
        "scaling",
        help="autoscaling: simulate policies on a load trace, manage agents' policies",
        description="Autoscaling: simulate scaling policies on a load trace (`simulate`, no "
        "control plane needed); the other subcommands talk to the control plane.",
    )
    cmds = scaling.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    sim = cmds.add_parser(
        "simulate",
        help="replay a trace through reactive, predictive, static-peak and oracle scaling",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument(
        "--trace",
        required=True,
        metavar="FILE",
        help="CSV with a header, e.g. timestamp,value (missing intervals are interpolated)",
    )
    sim.add_argument(
        "--rate-column",
        default="value",
        metavar="NAME",
        help="the column holding requests per interval (default: value)",
    )
    sim.add_argument(
        "--time-column", default=None, metavar="NAME", help="default: timestamp (or time, ...)"
    )
    sim.add_argument(
        "--policies",
        type=parse_policies,
        default=list(POLICY_NAMES),
        metavar="LIST",
        help=f"comma-separated, from: {','.join(POLICY_NAMES)} (default: all)",
    )
    sim.add_argument("--out", required=True, metavar="DIR", help="output folder")
    sim.add_argument(
        "--service-time",
        type=positive_duration,
        default=None,
        metavar="S",
        help=f"seconds per request (default: so that the peak needs {PEAK_REPLICAS} replicas "
        "at the target utilisation)",
    )
    sim.add_argument(
        "--service-distribution",
        choices=("deterministic", "exponential"),
        default="deterministic",
        help="service times (default: deterministic; exponential = M/M/c, slower)",
    )
    sim.add_argument(
        "--startup-delay", type=duration_arg, default=120.0, metavar="D", help="default: 120s"
    )
    sim.add_argument(
        "--slo-wait",
        type=duration_arg,
        default=2.0,
        metavar="W",
        help="SLO on the queueing delay (default: 2s)",
    )
    sim.add_argument(
        "--evaluation-period",
        type=positive_duration,
        default=15.0,
        metavar="P",
        help="how often policies decide (default: 15s, the HPA's)",
    )
    sim.add_argument(
        "--target-utilization",
        type=utilization_arg,
        default=0.7,
        metavar="U",
        help="for every policy (default: 0.7)",
    )
    sim.add_argument(
        "--min-replicas", type=int, default=1, metavar="N", help="for every policy (default: 1)"
    )
    sim.add_argument(
        "--max-replicas",
        type=count_arg,
        default=None,
        metavar="N",
        help="for every policy (default: twice the static-peak pool)",
    )
    sim.add_argument(
        "--level",
        type=fraction_arg,
        default=0.5,
        metavar="L",
        help="predictive provisions for the upper bound of the central L forecast interval "
        "(default: 0.5, i.e. the 75th percentile)",
    )
    sim.add_argument(
        "--lead-time",
        type=duration_arg,
        default=None,
        metavar="D",
        help="predictive look-ahead (default: start-up delay + one evaluation period)",
    )
    sim.add_argument(
        "--forecast-model",
        default="hw",
        metavar="NAME",
        help="scheduler.forecasting model: auto, naive, snaive, ets, hw, sarima, sarimax, mstl "
        "(default: hw, Holt-Winters: a fraction of a second per refit; auto backtests every "
        "candidate and takes 1-3 s per refit on the NAB traces)",
    )
    sim.add_argument(
        "--refit-every",
        type=positive_duration,
        default=3600.0,
        metavar="D",
        help="refit the forecast every D of simulated time (default: 1h)",
    )
    sim.add_argument(
        "--history",
        type=positive_duration,
        default=28 * 86400.0,
        metavar="D",
        help="fit on the last D of arrivals seen (default: 672h, four weeks)",
    )
    sim.add_argument(
        "--slo-sizing",
        type=_slo_sizing,
        default=0.01,
        metavar="P|off",
        help="predictive and oracle also provision so that M/M/c (Erlang C) predicts "
        "P(wait > SLO) <= P (default: 0.01; off: the target utilisation only)",
    )
    sim.add_argument("--seed", type=int, default=0, metavar="K", help="arrivals (default: 0)")
    sim.add_argument(
        "--jobs", type=count_arg, default=1, metavar="N", help="policies run in N processes"
    )
    sim.add_argument("--no-plot", action="store_true", help="skip simulation.png")
    sim.add_argument(
        "--decisions", action="store_true", help="also write every scale decision (jsonl)"
    )
    sim.set_defaults(local_handler=run_simulate)
    return scaling


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


# -- results ---------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None if a else 1.0
    return a / b


def compare(policies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Predictive against reactive (the issue's target) and both against the oracle."""
    out: dict[str, Any] = {}

    def pair(a: str, b: str) -> dict[str, Any] | None:
        if a not in policies or b not in policies:
            return None
        x, y = policies[a], policies[b]
        return {
            "violation_ratio": _ratio(x["violations"], y["violations"]),
            "replica_hours_ratio": _ratio(x["replica_hours"], y["replica_hours"]),
            "slo_violation_rate": [x["slo_violation_rate"], y["slo_violation_rate"]],
            "replica_hours": [x["replica_hours"], y["replica_hours"]],
            "p99_wait_s": [x["p99_wait_s"], y["p99_wait_s"]],
        }

    versus_reactive = pair("predictive", "reactive")
    if versus_reactive is not None:
        violations = versus_reactive["violation_ratio"]
        hours = versus_reactive["replica_hours_ratio"]
        versus_reactive["target"] = (
            f"violations <= {TARGET_VIOLATION_RATIO:g} x reactive and replica-hours <= "
            f"{TARGET_REPLICA_HOURS_RATIO:g} x reactive"
        )
        versus_reactive["target_met"] = bool(
            violations is not None
            and hours is not None
            and violations <= TARGET_VIOLATION_RATIO
            and hours <= TARGET_REPLICA_HOURS_RATIO
        )
        out["predictive_vs_reactive"] = versus_reactive
    for name in ("predictive", "reactive", "static-peak"):
        versus_oracle = pair(name, "oracle")
        if versus_oracle is not None:
            out[f"{name}_vs_oracle"] = versus_oracle
    return out


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def summary_table(policies: dict[str, dict[str, Any]], slo: float) -> Table:
    table = Table(title=f"scaling simulation (SLO: queueing delay <= {slo:g}s)")
    for column in (
        "policy",
        "over SLO",
        "p95 wait",
        "p99 wait",
        "replica-h",
        "scale events",
        "replicas min-max",
        "s",
    ):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, m in policies.items():
        table.add_row(
            name,
            f"{100 * m['slo_violation_rate']:.4f}%",
            f"{m['p95_wait_s']:.3f}s",
            f"{m['p99_wait_s']:.3f}s",
            f"{m['replica_hours']:,.1f}",
            str(m["scale_events"]),
            f"{m['min_replicas']}-{m['max_replicas']}",
            f"{m['seconds']:.1f}",
        )
    return table


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return code


def build_jobs(
    args: argparse.Namespace, loaded: LoadedTrace
) -> tuple[list[Job], SimulationConfig, PolicySettings, dict[str, Any]]:
    """The jobs and the settings they use; ValueError for values that do not fit the trace."""
    trace = loaded.series
    if peak_rate(trace) <= 0:
        raise ValueError(f"{loaded.path}: the trace has no requests")
    service = args.service_time
    source = "given"
    if service is None:
        service = service_time_for_peak(trace, PEAK_REPLICAS, args.target_utilization)
        source = f"the peak rate needs {PEAK_REPLICAS} replicas at the target utilisation"
    config = SimulationConfig(
        service_time_s=service,
        startup_delay_s=args.startup_delay,
        slo_wait_s=args.slo_wait,
        evaluation_period_s=args.evaluation_period,
        service_distribution=args.service_distribution,
        seed=args.seed,
    )
    from scheduler.scaling.capacity import replicas_for_rate

    peak_pool = replicas_for_rate(peak_rate(trace), service, args.target_utilization)
    max_replicas = args.max_replicas or max(1, 2 * peak_pool)
    if args.min_replicas < 0 or args.min_replicas > max_replicas:
        raise ValueError(f"--min-replicas must be within 0..{max_replicas}")
    history_steps = max(2, math.ceil(args.history / trace.step_s))
    settings = PolicySettings(
        target_utilization=args.target_utilization,
        min_replicas=args.min_replicas,
        max_replicas=max_replicas,
        level=args.level,
        lead_time_s=args.lead_time,
        refit_every_s=args.refit_every,
        history_steps=history_steps,
        slo_max_violation=args.slo_sizing,
    )
    spec = ForecastSpec(args.forecast_model, args.level, period_hints(trace.step_s))
    jobs = [Job(p, trace, config, settings, spec) for p in args.policies]
    defaults = {
        "arrivals": "Poisson: each trace value is the expected number of requests in its "
        "interval, spread uniformly (seeded)",
        "service_time_s": service,
        "service_time_source": source,
        "service_distribution": config.service_distribution,
        "startup_delay_s": config.startup_delay_s,
        "slo_wait_s": config.slo_wait_s,
        "evaluation_period_s": config.evaluation_period_s,
        "seed": config.seed,
        "static_peak_replicas": peak_pool,
        **settings.to_json(config),
        "forecast": {
            "model": spec.model,
            "level": spec.level,
            "period_hints": list(spec.period_hints),
            "history_s": args.history,
        },
    }
    return jobs, config, settings, defaults


def _check_model(name: str) -> str | None:
    try:
        from scheduler.forecasting import MODEL_NAMES
    except ImportError:
        return None
    if name not in MODEL_NAMES:
        return f"unknown --forecast-model {name!r} (choose from {', '.join(MODEL_NAMES)})"
    return None


def run_simulate(args: argparse.Namespace) -> int:
    # Imported here: worker processes import this module and need none of the client side.
    from controlplane.cli.render import make_console

    err = make_console(stderr=True)
    if "predictive" in args.policies:
        problem = _check_model(args.forecast_model)
        if problem:
            return _fail(f"error: {problem}")
    try:
        loaded = load_trace(args.trace, args.rate_column, args.time_column)
    except TraceError as exc:
        return _fail(f"error: {exc}")
    try:
        jobs, config, _settings, defaults = build_jobs(args, loaded)
    except ValueError as exc:
        return _fail(f"error: {exc}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"error: cannot create {out}: {exc.strerror or exc}")
    if "predictive" in args.policies and not forecasting_available():
        err.print(FALLBACK_MESSAGE, highlight=False)

    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    outcomes = run_jobs(jobs, args.jobs, err)
    failed = [o for o in outcomes if o.result is None]
    for outcome in failed:
        err.print(f"[red]error[/red] {outcome.policy}: {outcome.error}", highlight=False)
    results = [o.result for o in outcomes if o.result is not None]
    policies: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        if outcome.result is not None:
            policies[outcome.policy] = {
                **outcome.result.summary(),
                **outcome.notes,
                "seconds": outcome.seconds,
            }
    trace = loaded.series
    payload = {
        "experiment": {
            "trace": loaded.path,
            "rate_column": loaded.rate_column,
            "time_column": loaded.time_column,
            "rows": loaded.rows,
            "intervals": len(trace.values),
            "gaps_filled": loaded.gaps_filled,
            "step_s": trace.step_s,
            "start": datetime.fromtimestamp(trace.start, tz=UTC).isoformat(),
            "duration_h": len(trace.values) * trace.step_s / 3600.0,
            "expected_requests": sum(trace.values),
            "peak_rate_per_s": peak_rate(trace),
            "policies": [j.policy for j in jobs],
            "started_at": started_at,
            "seconds": time.perf_counter() - started,
            "errors": {o.policy: o.error for o in failed},
        },
        "defaults": defaults,
        "policies": policies,
        "comparison": compare(policies),
    }
    write_json(out / "results.json", _round(payload))
    if args.decisions:
        with open(out / "decisions.jsonl", "w") as handle:
            for result in results:
                for d in result.decisions:
                    record = {
                        "policy": result.policy,
                        "time": d.time,
                        "current": d.current,
                        "desired": d.desired,
                        "winner": d.policy,
                        "reason": d.reason,
                        "inputs": d.inputs,
                    }
                    handle.write(json.dumps(_round(record), default=str) + "\n")
    if not args.no_plot and results:
        simulation_plot(
            trace,
            results,
            out / "simulation.png",
            f"{Path(loaded.path).name}: service {config.service_time_s:.3g}s, start-up "
            f"{config.startup_delay_s:g}s, SLO wait {config.slo_wait_s:g}s",
        )
    make_console().print(summary_table(policies, config.slo_wait_s))
    versus = payload["comparison"].get("predictive_vs_reactive")
    if versus:
        err.print(_comparison_line(versus, payload["comparison"]), highlight=False)
    err.print(f"wrote {out / 'results.json'}", highlight=False)
    return EXIT_FAILED if failed else 0


def _comparison_line(versus: dict[str, Any], comparison: dict[str, Any]) -> str:
    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    line = (
        f"predictive vs reactive: violations x{fmt(versus['violation_ratio'])}, replica-hours "
        f"x{fmt(versus['replica_hours_ratio'])} (target: <= x{TARGET_VIOLATION_RATIO:g} and "
        f"<= x{TARGET_REPLICA_HOURS_RATIO:g}: {'met' if versus['target_met'] else 'NOT met'})"
    )
    oracle = comparison.get("predictive_vs_oracle")
    if oracle:
        line += (
            f"; vs oracle: violations x{fmt(oracle['violation_ratio'])}, replica-hours "
            f"x{fmt(oracle['replica_hours_ratio'])}"
        )
    return line
