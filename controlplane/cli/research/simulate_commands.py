"""`orchestrator scaling simulate`'s arguments and help: replay a load trace through an
autoscaled replica pool with each scaling policy (no control plane needed). The policy names
belong to the simulator (numpy), so the flags are added when the command is used."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import (
    count_arg,
    duration_arg,
    fraction_arg,
    non_negative_int,
    positive_duration,
    seed_arg,
    utilization_arg,
)
from controlplane.cli.lazy import handler

PEAK_REPLICAS = 20  # the automatic service time makes the trace's peak need this many

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
    from scheduler.scaling.strategies import POLICY_NAMES

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no policy given")
    unknown = [n for n in names if n not in POLICY_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(unknown)} (choose from {', '.join(POLICY_NAMES)})"
        )
    return list(dict.fromkeys(names))


def _simulate_flags(parser: argparse.ArgumentParser) -> None:
    from scheduler.scaling.strategies import POLICY_NAMES

    parser.add_argument(
        "--trace",
        required=True,
        metavar="FILE",
        help="CSV with a header, e.g. timestamp,value (missing intervals are interpolated)",
    )
    parser.add_argument(
        "--rate-column",
        default="value",
        metavar="NAME",
        help="the column holding requests per interval (default: value)",
    )
    parser.add_argument(
        "--time-column", default=None, metavar="NAME", help="default: timestamp (or time, ...)"
    )
    parser.add_argument(
        "--policies",
        type=parse_policies,
        default=list(POLICY_NAMES),
        metavar="LIST",
        help=f"comma-separated, from: {','.join(POLICY_NAMES)} (default: all)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--service-time",
        type=positive_duration,
        default=None,
        metavar="S",
        help=f"seconds per request (default: so that the peak needs {PEAK_REPLICAS} replicas "
        "at the target utilisation)",
    )
    parser.add_argument(
        "--service-distribution",
        choices=("deterministic", "exponential"),
        default="deterministic",
        help="service times (default: deterministic; exponential = M/M/c, slower)",
    )
    parser.add_argument(
        "--startup-delay", type=duration_arg, default=120.0, metavar="D", help="default: 120s"
    )
    parser.add_argument(
        "--slo-wait",
        type=duration_arg,
        default=2.0,
        metavar="W",
        help="SLO on the queueing delay (default: 2s)",
    )
    parser.add_argument(
        "--evaluation-period",
        type=positive_duration,
        default=15.0,
        metavar="P",
        help="how often policies decide (default: 15s, the HPA's)",
    )
    parser.add_argument(
        "--target-utilization",
        type=utilization_arg,
        default=0.7,
        metavar="U",
        help="for every policy (default: 0.7)",
    )
    parser.add_argument(
        "--min-replicas",
        type=non_negative_int,
        default=1,
        metavar="N",
        help="for every policy (default: 1)",
    )
    parser.add_argument(
        "--max-replicas",
        type=count_arg,
        default=None,
        metavar="N",
        help="for every policy (default: twice the static-peak pool)",
    )
    parser.add_argument(
        "--level",
        type=fraction_arg,
        default=0.5,
        metavar="L",
        help="predictive provisions for the upper bound of the central L forecast interval "
        "(default: 0.5, i.e. the 75th percentile)",
    )
    parser.add_argument(
        "--lead-time",
        type=duration_arg,
        default=None,
        metavar="D",
        help="predictive look-ahead (default: start-up delay + one evaluation period)",
    )
    parser.add_argument(
        "--forecast-model",
        default="hw",
        metavar="NAME",
        help="scheduler.forecasting model: auto, naive, snaive, ets, hw, sarima, sarimax, mstl "
        "(default: hw, Holt-Winters: a fraction of a second per refit; auto backtests every "
        "candidate and takes 1-3 s per refit on the NAB traces)",
    )
    parser.add_argument(
        "--refit-every",
        type=positive_duration,
        default=3600.0,
        metavar="D",
        help="refit the forecast every D of simulated time (default: 1h)",
    )
    parser.add_argument(
        "--history",
        type=positive_duration,
        default=28 * 86400.0,
        metavar="D",
        help="fit on the last D of arrivals seen (default: 672h, four weeks)",
    )
    parser.add_argument(
        "--slo-sizing",
        type=_slo_sizing,
        default=0.01,
        metavar="P|off",
        help="predictive and oracle also provision so that M/M/c (Erlang C) predicts "
        "P(wait > SLO) <= P (default: 0.01; off: the target utilisation only)",
    )
    parser.add_argument(
        "--seed", type=seed_arg, default=0, metavar="K", help="arrivals (default: 0)"
    )
    parser.add_argument(
        "--jobs", type=count_arg, default=1, metavar="N", help="policies run in N processes"
    )
    parser.add_argument("--no-plot", action="store_true", help="skip simulation.png")
    parser.add_argument(
        "--decisions", action="store_true", help="also write every scale decision (jsonl)"
    )


def add_simulate(scaling: argparse._SubParsersAction[Any]) -> None:
    """`scaling simulate` in the `scaling` group."""
    sim = scaling.add_parser(
        "simulate",
        help="replay a trace through reactive, predictive, static-peak and oracle scaling",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        fill=_simulate_flags,
    )
    sim.set_defaults(local_handler=handler("controlplane.cli.research.simulate:run_simulate"))
