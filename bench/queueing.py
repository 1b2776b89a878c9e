"""Queue-system benchmark: the real `Dispatcher` under tens of thousands of queued tasks.

Drives `controlplane.engine.dispatch.dispatcher.Dispatcher` directly (no Ray, no store, no
engine): N
tasks with cpu demands, in namespaces with fair-share weights and a quota, compete for a
cluster of nodes; they all arrive at once, and the driver completes running tasks (releases
their grants) `--batch` at a time, letting the dispatcher run its rounds in between, until
every task has run. A simulated clock advances one second per completion batch, so aging and
wait times behave as they would, deterministically.

Reports, per N: wall time, time inside dispatch rounds, rounds, time per dispatched task and
per round, and the growth of the time per task relative to the smallest N of the same run
(the figure to look at: 1.0 means the cost per task does not depend on the queue length).

    .venv/bin/python bench/queueing.py [--tasks 1000 5000 20000] [--batch 16]
    .venv/bin/python bench/queueing.py --tasks 20000 --profile out/bench_queueing.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform
import pstats
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.dispatch.grants import Grant, TaskRequest
from controlplane.engine.dispatch.topology import Topology
from models.agents import ReplicaInfo, ReplicaState
from models.queueing import NamespacePolicy, QueueConfig, Quota
from models.resources import NodeInfo, ResourceAmounts

AGENT = "work"
GiB = 2**30


@dataclass(frozen=True)
class Scenario:
    tasks: int
    nodes: int
    cpus_per_node: int
    batch: int  # running tasks completed per step
    seed: int


@dataclass
class Result:
    tasks: int
    wall_s: float
    round_s: float
    rounds: int
    dispatched: int

    @property
    def us_per_task(self) -> float:
        return self.round_s / max(self.dispatched, 1) * 1e6

    @property
    def ms_per_round(self) -> float:
        return self.round_s / max(self.rounds, 1) * 1e3

    @property
    def wall_us_per_task(self) -> float:
        return self.wall_s / max(self.dispatched, 1) * 1e6


# Three namespaces: fair-share weights 1, 2, 3; the heaviest one is capped by a cpu quota.
POLICIES = {
    "alpha": NamespacePolicy("alpha", weight=1.0),
    "beta": NamespacePolicy("beta", weight=2.0),
    "gamma": NamespacePolicy(
        "gamma", weight=3.0, quota=Quota(max_resources=ResourceAmounts(cpu=24))
    ),
}


def requests(scenario: Scenario) -> list[TaskRequest]:
    """The N tasks: round-robin over the namespaces, 50 tasks per execution, cpu 1 (one in
    eight asks cpu 2), task priority 0..3 (seeded)."""
    rng = random.Random(scenario.seed)
    names = sorted(POLICIES)
    out = []
    for i in range(scenario.tasks):
        cpu = 2.0 if rng.random() < 0.125 else 1.0
        out.append(
            TaskRequest(
                execution_id=f"e{i // 50}",
                task_id=f"t{i}",
                attempt=1,
                namespace=names[i % len(names)],
                agent=AGENT,
                demand=ResourceAmounts(cpu=cpu, memory=GiB),
                priority=rng.randrange(4),
            )
        )
    return out


async def drive(scenario: Scenario, profiler: cProfile.Profile | None = None) -> Result:
    now = [0.0]
    node_ids = [f"n{i}" for i in range(scenario.nodes)]
    replicas = [
        ReplicaInfo(f"{AGENT}-{i}", "v1", ReplicaState.READY, node_id=n)
        for i, n in enumerate(node_ids)
    ]
    dispatcher = Dispatcher(
        policy_of=lambda ns: POLICIES.get(ns, NamespacePolicy(ns)),
        replicas_of=lambda agent: replicas,
        pool_of_agent=lambda agent: "",
        clock=lambda: now[0],
        config=QueueConfig(age_rate=0.01),
    )
    capacity = ResourceAmounts(cpu=scenario.cpus_per_node, memory=64 * GiB)
    nodes = tuple(NodeInfo(n, "127.0.0.1", True, {}, capacity, capacity) for n in node_ids)
    dispatcher.set_topology(Topology(nodes, {}, observe_time=-1.0))

    rounds = [0]
    round_s = [0.0]
    inner = dispatcher.run_round

    def timed_round() -> None:
        start = time.perf_counter()
        inner()
        round_s[0] += time.perf_counter() - start
        rounds[0] += 1

    dispatcher.run_round = timed_round  # type: ignore[method-assign]

    granted: deque[Grant] = deque()
    loop = asyncio.get_running_loop()
    wall_start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    tasks = []
    for request in requests(scenario):
        task = loop.create_task(dispatcher.acquire(request))
        task.add_done_callback(lambda t: granted.append(t.result()))
        tasks.append(task)
    done = 0
    idle = 0
    while done < scenario.tasks:
        await asyncio.sleep(0)
        if not granted:
            idle += 1
            if idle > 1000:
                raise RuntimeError(f"stalled: {done}/{scenario.tasks} done, none running")
            continue
        idle = 0
        for _ in range(min(scenario.batch, len(granted))):
            dispatcher.release(granted.popleft(), 1.0)
            done += 1
        now[0] += 1.0
    if profiler is not None:
        profiler.disable()
    wall_s = time.perf_counter() - wall_start
    await asyncio.gather(*tasks)
    if dispatcher.waiting() or dispatcher.running():
        raise RuntimeError("tasks left over")
    return Result(scenario.tasks, wall_s, round_s[0], rounds[0], done)


def run(scenario: Scenario, profiler: cProfile.Profile | None = None) -> Result:
    return asyncio.run(drive(scenario, profiler))


def report_of(results: Sequence[Result], args: argparse.Namespace) -> dict[str, Any]:
    base = results[0]
    return {
        "config": {
            "tasks": [r.tasks for r in results],
            "nodes": args.nodes,
            "cpus_per_node": args.cpus_per_node,
            "batch": args.batch,
            "seed": args.seed,
            "namespaces": {
                name: {
                    "weight": p.weight,
                    "quota_cpu": p.quota.max_resources.cpu if p.quota.max_resources else None,
                }
                for name, p in POLICIES.items()
            },
        },
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": [
            {
                "tasks": r.tasks,
                "wall_s": r.wall_s,
                "round_s": r.round_s,
                "rounds": r.rounds,
                "us_per_task": r.us_per_task,
                "wall_us_per_task": r.wall_us_per_task,
                "ms_per_round": r.ms_per_round,
                "growth": r.us_per_task / base.us_per_task,
                "wall_growth": r.wall_us_per_task / base.wall_us_per_task,
            }
            for r in results
        ],
    }


def render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    cfg = report["config"]
    table = Table(
        title=f"Dispatcher rounds: {cfg['nodes']} nodes x {cfg['cpus_per_node']} cpu, "
        f"{cfg['batch']} completions per step"
    )
    columns = (
        "tasks",
        "wall s",
        "in rounds s",
        "rounds",
        "µs/task (rounds)",
        "µs/task (wall)",
        "ms/round",
        "growth",
        "wall growth",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for r in report["runs"]:
        table.add_row(
            str(r["tasks"]),
            f"{r['wall_s']:.2f}",
            f"{r['round_s']:.2f}",
            str(r["rounds"]),
            f"{r['us_per_task']:.0f}",
            f"{r['wall_us_per_task']:.0f}",
            f"{r['ms_per_round']:.2f}",
            f"{r['growth']:.2f}x",
            f"{r['wall_growth']:.2f}x",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=130)
    console.print(table)
    console.print(
        "growth: time per task (inside rounds) relative to the first size of this run; "
        "1.0x = independent of queue length"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 5000, 20000])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--cpus-per-node", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("out/bench_queueing.json"))
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile of the largest size, written here"
    )
    parser.add_argument("--profile-top", type=int, default=30)
    args = parser.parse_args(argv)

    results = []
    sizes = sorted(args.tasks)
    for n in sizes:
        scenario = Scenario(n, args.nodes, args.cpus_per_node, args.batch, args.seed)
        profiler = cProfile.Profile() if args.profile and n == sizes[-1] else None
        results.append(run(scenario, profiler))
        r = results[-1]
        print(
            f"{n} tasks: {r.wall_s:.2f} s wall, {r.round_s:.2f} s in {r.rounds} rounds",
            flush=True,
        )
        if profiler is not None:
            args.profile.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(args.profile)
            buffer = io.StringIO()
            stats = pstats.Stats(profiler, stream=buffer)
            stats.sort_stats("cumulative").print_stats(args.profile_top)
            stats.sort_stats("tottime").print_stats(args.profile_top)
            print(buffer.getvalue())
    report = report_of(results, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    render(report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
