"""`orchestrator bench scheduling|placement`'s arguments and help (no control plane needed).
The scheduler and placement policy names are listed when a command is used, so the solvers
and the placement package (scipy) are not imported to build the parser."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import (
    count_arg,
    non_negative_int,
    positive_number,
    ray_address_arg,
    seed_arg,
)
from controlplane.cli.lazy import handler
from controlplane.cli.parsing import parse_value

SCHEDULING_DESCRIPTION = """\
Run every scheduler on every instance and compare them.

Each (instance, scheduler) pair is one run: the instance is loaded, solved by the named
scheduler (the registry checks every schedule's feasibility) and recorded. Runs execute in
local worker processes (each run reserves --workers CPUs, so max(1, CPUs // workers) processes
run at once; --jobs overrides), or as Ray tasks across a cluster with --ray-address (each task
reserves --workers CPUs; inside `ray job submit` use --ray-address auto and the tasks show in
the Ray dashboard as bench:<instance>:<scheduler>). Dispatching rules and the learned policy
give identical results either way, as does the GA with a fixed generation budget and seed.
"""

SCHEDULING_EPILOG = """\
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


PLACEMENT_DESCRIPTION = """\
Replay a GPU cluster trace the way "Beware of Fragmentation" (USENIX ATC 2023) does and compare
placement policies.

Pods are drawn from --pods with replacement in an order fixed by --seed and placed one by one
on the --nodes cluster, never leaving again, until the GPU they requested in total reaches 100%
of the cluster's GPU capacity ("arrived load"). GPU sharing: a pod with num_gpu=1 and
gpu_milli<1000 needs gpu_milli free on one GPU; other GPU pods take num_gpu whole GPUs;
gpu_spec restricts the GPU models; CPU and memory are respected. A pod that fits nowhere fails.
Every policy sees the same pod sequence, and an independent checker re-validates every
placement against node capacities (violations are reported and make the exit status 1).

policies:
  first-fit    first node in list order that fits, first GPU that fits
  best-fit     least weighted remaining GPU, CPU, memory after placement; tightest GPU
  worst-fit    most remaining resources (spreading); loosest GPU
  dot-product  Tetris-style alignment of demand and free resources (normalised per node)
  fgd          fragmentation gradient descent: smallest increase of the node's expected
               fragmentation w.r.t. the pod list's own mix of GPU demands
  cpsat        OR-Tools CP-SAT over a window of the next arrivals (top FGD choices each),
               placing the arriving pod so that the window fits with least fragmentation
"""

PLACEMENT_EPILOG = """\
output (in --out DIR):
  results.json            {"experiment": {...}, "policies": {name: {"at_load": {"0.5":
                          {"allocated", "unallocated", "failed", ...}, "0.8", "0.9", "1.0"},
                          "failed", "violations", "seconds", "placements": [{"pod", "node"
                          (null when failed), "gpu_index": [...]}, ...in arrival order]}}}
  allocation_vs_load.png  allocated GPU fraction versus arrived load, one line per policy
  allocated = allocated GPU milli / cluster GPU capacity; unallocated = 1 - allocated.
exit status: 0 on success, 1 when a placement violates a capacity, 2 for a usage problem
  (unreadable trace file, unknown policy).
example:
  orchestrator bench placement \\
      --nodes ../shared/data/cluster/alibaba_openb_node_list_gpu_node.csv \\
      --pods ../shared/data/cluster/alibaba_openb_pod_list_default.csv \\
      --policies first-fit,best-fit,worst-fit,dot-product,fgd,cpsat --seed 0 --out out/placement
"""


def parse_option(text: str) -> tuple[str, str, Any]:
    """`ga.generations=200` -> ('ga', 'generations', 200)."""
    key, sep, value = text.partition("=")
    scheduler, dot, name = key.strip().partition(".")
    if not sep or not dot or not scheduler or not name:
        raise argparse.ArgumentTypeError(f"expected SCHEDULER.KEY=VALUE, got {text!r}")
    try:
        return scheduler, name, parse_value(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{key.strip()}: {exc}") from None


def _scheduling_flags(parser: argparse.ArgumentParser) -> None:
    from scheduler import registry

    parser.add_argument(
        "--instances",
        nargs="+",
        required=True,
        metavar="GLOB",
        help="instance files, globs (quote them; ** allowed) or folders; job shop, flexible "
        "job shop (mk*, *_edata, fjsp/) or JSON problem files",
    )
    parser.add_argument(
        "--schedulers",
        required=True,
        metavar="LIST",
        help="comma-separated scheduler names, in the order to report them, from: "
        f"{' '.join(registry.names())} (e.g. cpsat,ga,ml,spt)",
    )
    parser.add_argument(
        "--time-limit",
        type=positive_number,
        default=10.0,
        metavar="S",
        help="seconds per run for anytime schedulers (default: 10)",
    )
    parser.add_argument(
        "--workers",
        type=count_arg,
        default=1,
        metavar="W",
        help="CPUs (solver threads) per run; also what each run reserves (default: 1)",
    )
    parser.add_argument(
        "--seed", type=seed_arg, default=0, metavar="K", help="solver seed (default: 0)"
    )
    parser.add_argument(
        "--option",
        action="append",
        type=parse_option,
        default=[],
        metavar="SCHED.KEY=VALUE",
        help="scheduler-specific option, value parsed as JSON when it parses "
        "(e.g. ga.generations=200); repeatable",
    )
    parser.add_argument(
        "--out",
        default="bench-results",
        metavar="DIR",
        help="output folder, created if needed (default: bench-results)",
    )
    parser.add_argument(
        "--bounds",
        default=None,
        metavar="FILE",
        help="bounds.json with best known values, e.g. ../shared/data/jobshop/bounds.json",
    )
    parser.add_argument("--details", action="store_true", help="also print one row per instance")
    parser.add_argument(
        "--jobs",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="local worker processes (default: max(1, CPUs // workers))",
    )
    parser.add_argument(
        "--ray-address",
        type=ray_address_arg,
        default=None,
        metavar="ADDRESS",
        help="run the grid as Ray tasks on this cluster ('auto' inside `ray job submit`, or "
        "HOST:PORT); default: local worker processes",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")


def _placement_flags(parser: argparse.ArgumentParser) -> None:
    from scheduler.placement import ALL

    parser.add_argument(
        "--nodes", required=True, metavar="CSV", help="node list: sn,cpu_milli,memory_mib,gpu,model"
    )
    parser.add_argument(
        "--pods",
        required=True,
        metavar="CSV",
        help="pod list: name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,...",
    )
    parser.add_argument(
        "--policies",
        default=",".join(ALL),
        metavar="LIST",
        help=f"comma-separated, from: {' '.join(ALL)} (default: all)",
    )
    parser.add_argument(
        "--seed",
        type=seed_arg,
        default=0,
        metavar="K",
        help="seed of the pod order (and of CP-SAT) (default: 0)",
    )
    parser.add_argument(
        "--out",
        default="bench-placement",
        metavar="DIR",
        help="output folder, created if needed (default: bench-placement)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figure")


def register(top: argparse._SubParsersAction[Any]) -> None:
    """`bench scheduling` and `bench placement`."""
    bench = top.add_parser(
        "bench", help="run benchmarks", description="Run benchmarks (no control plane needed)."
    )
    kinds = bench.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    scheduling = kinds.add_parser(
        "scheduling",
        help="compare schedulers on benchmark instances",
        description=SCHEDULING_DESCRIPTION,
        epilog=SCHEDULING_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        fill=_scheduling_flags,
    )
    scheduling.set_defaults(local_handler=handler("controlplane.cli.research.bench:run_bench"))
    placement = kinds.add_parser(
        "placement",
        help="compare GPU placement policies on a cluster trace replay",
        description=PLACEMENT_DESCRIPTION,
        epilog=PLACEMENT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        fill=_placement_flags,
    )
    placement.set_defaults(
        local_handler=handler("controlplane.cli.research.bench_placement:run_placement")
    )
