"""Is predictive's win over reactive only the tuning? The cost-violation frontier says.

`bench/scaling.py` compares predictive and reactive at the published settings (target utilisation
0.7 for both). Predictive there also provisions for the upper bound of a 50% interval and for
P(wait > SLO) <= 1% by Erlang C, which reactive cannot express. A fairer question is whether
any reactive configuration buys the same violations for the same replica-hours. This script:

- sweeps reactive's target utilisation (0.5 .. 0.7) at the same service time and replica
  bounds, which traces reactive's cost-violation frontier;
- runs predictive in four variants: the published one (level 0.5, SLO sizing 1%), the textbook
  literal rule (upper bound of the 90% interval at the target utilisation, no SLO sizing), and
  the two mixed ones;
- reports, for each predictive variant, reactive's violations interpolated at the same
  replica-hours (log-linear between the two nearest sweep points) and the ratio, and plots the
  frontier (`<out>/<trace>/frontier.png`).

    make bench-scaling-frontier                          # both traces (about 15 min on 2 cores)
    .venv/bin/python bench/scaling_frontier.py --traces elb --jobs 2

Writes `<out>/<trace>/<run>/results.json` per run, `<out>/<trace>/frontier.png` and
`<out>/frontier.json`. Exit status 0 when every run completed, 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scaling import TRACES, add_trace_arguments, chosen_traces, simulate_cli  # noqa: E402

REACTIVE_TARGETS = (0.5, 0.55, 0.6, 0.65, 0.7)
# (name, level, slo sizing): the published settings first.
PREDICTIVE_VARIANTS = (
    ("predictive", "0.5", "0.01"),
    ("predictive-l0.9", "0.9", "0.01"),
    ("predictive-no-slo", "0.5", "off"),
    ("predictive-l0.9-no-slo", "0.9", "off"),
)
COMMON = ["--forecast-model", "hw", "--refit-every", "12h", "--history", "672h", "--seed", "0"]


@dataclass(frozen=True)
class Run:
    trace: str
    name: str
    policy: str
    flags: tuple[str, ...]


def simulate(path: Path, out: Path, run: Run) -> dict[str, Any]:
    """One `orchestrator scaling simulate` with one policy, in this (worker) process."""
    flags = ["--policies", run.policy, "--no-plot", *COMMON, *run.flags]
    code, seconds, argv = simulate_cli(path, out, flags)
    if code != 0:
        return {"exit_code": code, "seconds": seconds}
    results = json.loads((out / "results.json").read_text())
    metrics = results["policies"][run.policy]
    return {
        "exit_code": 0,
        "seconds": round(seconds, 1),
        "command": "orchestrator " + " ".join(argv),
        "slo_violation_rate": metrics["slo_violation_rate"],
        "replica_hours": metrics["replica_hours"],
        "p99_wait_s": metrics["p99_wait_s"],
        "scale_events": metrics["scale_events"],
        "defaults": results["defaults"],
    }


def reactive_at(hours: float, sweep: list[tuple[float, float]]) -> tuple[str, float] | None:
    """Reactive's violation rate at `hours` replica-hours: ("=", rate) interpolated log-linearly
    between the nearest sweep points; (">=", rate) below the sweep's cheapest point, since
    reactive only violates more as it pays less; None above the sweep or where a bracketing
    point has no violation."""
    points = sorted(sweep)
    if not points:
        return None
    if hours < points[0][0]:
        return (">=", points[0][1])
    for (h0, v0), (h1, v1) in pairwise(points):
        if h0 <= hours <= h1:
            if v0 <= 0 or v1 <= 0:
                return None
            t = 0.0 if h1 == h0 else (hours - h0) / (h1 - h0)
            return ("=", math.exp(math.log(v0) + t * (math.log(v1) - math.log(v0))))
    return None


def analyse(trace: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    done = [
        (t, results[f"reactive@{t}"])
        for t in REACTIVE_TARGETS
        if results.get(f"reactive@{t}", {}).get("exit_code") == 0
    ]
    sweep = [(run["replica_hours"], run["slo_violation_rate"]) for _, run in done]
    variants: dict[str, Any] = {}
    for name, level, slo in PREDICTIVE_VARIANTS:
        run = results.get(name, {})
        if run.get("exit_code") != 0:
            continue
        at_cost = reactive_at(run["replica_hours"], sweep)
        rate = run["slo_violation_rate"]
        variants[name] = {
            "level": float(level),
            "slo_sizing": slo,
            "slo_violation_rate": rate,
            "replica_hours": run["replica_hours"],
            # ["=", r]: reactive at the same replica-hours violates r; [">=", r]: at least r.
            "reactive_at_same_cost": list(at_cost) if at_cost else None,
            "violation_ratio_at_same_cost": (
                [{"=": "=", ">=": "<="}[at_cost[0]], rate / at_cost[1]]
                if at_cost and at_cost[1] > 0
                else None
            ),
            "below_reactive_frontier": None if at_cost is None else rate < at_cost[1],
        }
    return {
        "trace": trace,
        "reactive_sweep": [
            {
                "target_utilization": t,
                "replica_hours": run["replica_hours"],
                "slo_violation_rate": run["slo_violation_rate"],
            }
            for t, run in done
        ],
        "predictive": variants,
    }


def plot(analysis: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    sweep = analysis["reactive_sweep"]
    floor = 1e-7  # a rate of 0 cannot sit on a log axis
    axes.plot(
        [p["replica_hours"] for p in sweep],
        [max(p["slo_violation_rate"], floor) for p in sweep],
        "o-",
        color="tab:blue",
        label="reactive, target utilisation 0.5-0.7",
    )
    for point in sweep:
        axes.annotate(
            f"{point['target_utilization']:g}",
            (point["replica_hours"], max(point["slo_violation_rate"], floor)),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
        )
    styles = [("*", "tab:red"), ("s", "tab:orange"), ("^", "tab:green"), ("v", "tab:purple")]
    for (marker, color), (name, variant) in zip(
        styles, analysis["predictive"].items(), strict=False
    ):
        axes.plot(
            variant["replica_hours"],
            max(variant["slo_violation_rate"], floor),
            marker,
            color=color,
            markersize=11 if marker == "*" else 7,
            label=f"{name} (level {variant['level']:g}, SLO sizing {variant['slo_sizing']})",
        )
    axes.set_yscale("log")
    axes.set_xlabel("replica-hours")
    axes.set_ylabel("share of requests over the SLO")
    axes.set_title(f"{analysis['trace']}: cost against SLO violations")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def plan(trace: str, service_time: float, max_replicas: int) -> list[Run]:
    pinned = ("--service-time", f"{service_time:.6f}", "--max-replicas", str(max_replicas))
    runs = [
        Run(trace, f"reactive@{t}", "reactive", ("--target-utilization", str(t), *pinned))
        for t in REACTIVE_TARGETS
        if t != 0.7
    ]
    runs += [
        Run(trace, name, "predictive", ("--level", level, "--slo-sizing", slo, *pinned))
        for name, level, slo in PREDICTIVE_VARIANTS
    ]
    return runs


def print_analysis(analysis: dict[str, Any]) -> None:
    print(f"\n{analysis['trace']}")
    for p in analysis["reactive_sweep"]:
        print(
            f"  reactive@{p['target_utilization']:<5g} {100 * p['slo_violation_rate']:>9.4f}%"
            f" {p['replica_hours']:>11,.1f} replica-h"
        )
    for name, v in analysis["predictive"].items():
        ratio = v["violation_ratio_at_same_cost"]
        reactive = v["reactive_at_same_cost"]
        versus = (
            "outside the reactive sweep"
            if ratio is None
            else f"reactive at the same cost {reactive[0]} {100 * reactive[1]:.4f}%"
            f" -> x{ratio[1]:.2f}{' or less' if ratio[0] == '<=' else ''}"
        )
        print(
            f"  {name:<22} {100 * v['slo_violation_rate']:>9.4f}% {v['replica_hours']:>11,.1f}"
            f" replica-h; {versus}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench-scaling-frontier", help="output folder")
    add_trace_arguments(parser)
    parser.add_argument("--jobs", type=int, default=2, help="simulations run at once")
    args = parser.parse_args(argv)
    chosen = chosen_traces(args)
    if chosen is None:
        return 2
    if args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    data, names = chosen
    out = Path(args.out)
    started = time.perf_counter()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        # Reactive at the published 0.7 first: its defaults give the service time and replica
        # bounds every other run is pinned to (the default service time depends on the target).
        baselines = {
            name: pool.submit(
                simulate,
                data / TRACES[name],
                out / name / "reactive@0.7",
                Run(name, "reactive@0.7", "reactive", ()),
            )
            for name in names
        }
        futures = {}
        for name, future in baselines.items():
            base = future.result()
            results[name] = {"reactive@0.7": base}
            if base["exit_code"] != 0:
                continue
            defaults = base["defaults"]
            for run in plan(name, defaults["service_time_s"], defaults["max_replicas"]):
                futures[(name, run.name)] = pool.submit(
                    simulate, data / TRACES[name], out / name / run.name, run
                )
        for (name, run_name), future in futures.items():
            results[name][run_name] = future.result()
            print(f"{name} {run_name}: done ({results[name][run_name]['seconds']} s)", flush=True)
    report: dict[str, Any] = {"seconds": round(time.perf_counter() - started, 1), "traces": {}}
    for name in names:
        analysis = analyse(name, results[name])
        analysis["runs"] = {
            k: {key: v for key, v in run.items() if key != "defaults"}
            for k, run in results[name].items()
        }
        report["traces"][name] = analysis
        plot(analysis, out / name / "frontier.png")
        print_analysis(analysis)
    out.mkdir(parents=True, exist_ok=True)
    (out / "frontier.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out / 'frontier.json'} ({report['seconds']:.0f} s)")
    failed = [
        (n, r) for n, runs in results.items() for r, run in runs.items() if run["exit_code"] != 0
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
