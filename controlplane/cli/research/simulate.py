"""`orchestrator scaling simulate`: reads the trace, builds one job per policy, runs them and
writes results.json (and decisions.jsonl, simulation.png).

The simulation itself is pure (`scheduler.scaling.simulator`); the jobs are run by
`simulate_jobs`, and compared and summarised by `simulate_results`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controlplane.cli.render import make_console
from controlplane.cli.research.simulate_commands import PEAK_REPLICAS
from controlplane.cli.research.simulate_jobs import (
    FALLBACK_MESSAGE,
    ForecastSpec,
    Job,
    forecasting_available,
    run_jobs,
)
from controlplane.cli.research.simulate_results import (
    compare,
    comparison_line,
    round_floats,
    summary_table,
)
from controlplane.experiments.scaling_io import (
    LoadedTrace,
    TraceError,
    load_trace,
    simulation_plot,
    write_json,
)
from scheduler.scaling.simulator import SimulationConfig
from scheduler.scaling.strategies import (
    PolicySettings,
    peak_rate,
    period_hints,
    service_time_for_peak,
)

EXIT_USAGE = 2
EXIT_FAILED = 1


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
    write_json(out / "results.json", round_floats(payload))
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
                    handle.write(json.dumps(round_floats(record), default=str) + "\n")
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
        err.print(comparison_line(versus, payload["comparison"]), highlight=False)
    err.print(f"wrote {out / 'results.json'}", highlight=False)
    return EXIT_FAILED if failed else 0
