"""`orchestrator bench placement`: replay the Alibaba GPU cluster trace with each placement
policy and compare how much GPU capacity stays unallocated as load grows."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from controlplane.cli.render import make_console
from controlplane.experiments.placement_io import (
    TraceError,
    allocation_plot,
    load_nodes,
    load_pods,
    write_results,
)
from scheduler.placement import ALL, ClusterState, ReplayResult, make_policy, replay
from scheduler.placement.replay import LOADS, sample_arrivals

EXIT_USAGE = 2
EXIT_FAILED = 1
REFERENCE = "best-fit"


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return code


def parse_policies(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("no policy given")
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise ValueError(f"unknown policy {', '.join(unknown)}; known: {', '.join(ALL)}")
    return list(dict.fromkeys(names))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def summary_table(results: list[ReplayResult], seconds: dict[str, float]) -> Table:
    ref = next((r for r in results if r.policy == REFERENCE), None)
    ref_left = ref.at_load[1.0].unallocated if ref and 1.0 in ref.at_load else None
    table = Table(title="placement benchmark (GPU unallocated, share of cluster capacity)")
    table.add_column("policy")
    for load in LOADS:
        table.add_column(f"alloc @{load:.0%}", justify="right")
    table.add_column("unalloc @100%", justify="right")
    table.add_column(f"vs {REFERENCE}", justify="right")
    table.add_column("failed pods", justify="right")
    table.add_column("violations", justify="right")
    table.add_column("s", justify="right")
    best = min(results, key=lambda r: r.at_load[1.0].unallocated)
    for r in results:
        left = r.at_load[1.0].unallocated
        change = "-" if not ref_left or r is ref else f"{100 * (left - ref_left) / ref_left:+.1f}%"
        table.add_row(
            r.policy,
            *(_pct(r.at_load[x].allocated) if x in r.at_load else "-" for x in LOADS),
            _pct(left),
            change,
            str(r.failed),
            str(len(r.violations)),
            f"{seconds.get(r.policy, 0.0):.1f}",
            style="bold green" if r is best else None,
        )
    return table


def run_placement(args: argparse.Namespace) -> int:
    try:
        policies = parse_policies(args.policies)
    except ValueError as exc:
        return _fail(f"error: {exc}")
    try:
        nodes = load_nodes(args.nodes)
        pods = load_pods(args.pods)
    except TraceError as exc:
        return _fail(f"error: {exc}")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"error: cannot create {out}: {exc.strerror or exc}")
    state = ClusterState(nodes)
    if state.capacity_milli == 0:
        return _fail(f"error: {args.nodes}: the cluster has no GPU")
    try:
        arrivals = sample_arrivals(pods, state.capacity_milli, args.seed)
    except ValueError as exc:
        return _fail(f"error: {args.pods}: {exc}")

    err = make_console(stderr=True)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results: list[ReplayResult] = []
    seconds: dict[str, float] = {}
    with Progress(
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=not err.is_terminal,
    ) as progress:
        for name in policies:
            task = progress.add_task(name, total=len(arrivals))
            policy = make_policy(name, pods, state, seed=args.seed)
            t0 = time.perf_counter()

            def advance(step: int, task: TaskID = task) -> None:
                if step % 200 == 199:
                    progress.update(task, completed=step + 1)

            result = replay(nodes, arrivals, policy, on_step=advance)
            progress.update(task, completed=len(arrivals))
            seconds[name] = time.perf_counter() - t0
            results.append(result)

    experiment = {
        "nodes": str(args.nodes),
        "pods": str(args.pods),
        "policies": policies,
        "seed": args.seed,
        "node_count": len(nodes),
        "gpu_capacity_milli": state.capacity_milli,
        "pod_list_size": len(pods),
        "arrivals": len(arrivals),
        "loads": list(LOADS),
        "reference": REFERENCE,
        "started_at": started_at,
    }
    final = {r.policy: r.at_load[1.0].unallocated for r in results}
    best = min(final, key=lambda k: final[k])
    experiment["best_policy"] = best
    if REFERENCE in final and final[REFERENCE] > 0:
        experiment["best_reduction_vs_reference"] = round(1 - final[best] / final[REFERENCE], 6)
    write_results(out / "results.json", experiment, results, seconds)
    if not args.no_plots:
        allocation_plot(
            results,
            out / "allocation_vs_load.png",
            f"GPU allocation vs arrived load ({Path(args.pods).name}, seed {args.seed})",
        )

    make_console().print(summary_table(results, seconds))
    violations = sum(len(r.violations) for r in results)
    for r in results:
        for v in r.violations[:5]:
            err.print(f"[red]violation[/red] {r.policy}: {v}", highlight=False)
    note = ""
    if REFERENCE in final and final[REFERENCE] > 0:
        note = (
            f"; best {best} leaves {100 * (1 - final[best] / final[REFERENCE]):.1f}% less "
            f"unallocated GPU than {REFERENCE}"
        )
    err.print(
        f"{len(arrivals)} arrivals x {len(results)} policies in {sum(seconds.values()):.1f}s"
        f"{note}; wrote {out / 'results.json'}"
        + ("" if args.no_plots else f", {out / 'allocation_vs_load.png'}"),
        highlight=False,
    )
    return EXIT_FAILED if violations else 0
