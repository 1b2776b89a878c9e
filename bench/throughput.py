"""Throughput of the hot path beside what a user would otherwise run, in one run on one machine.

Rows (all on 2 actors / 2 replicas of a no-op, `num_cpus=0`, in one local Ray):

- raw Ray: 1,000 pipelined calls to 2 bare sync actors (the baseline: a plain `@ray.remote`
  class), the same with async actors, and a chain of 100 blocking calls;
- the project's replica actor called directly in the same way, hosting a sync and an async
  no-op agent (the wrapper's own cost);
- the control plane through its real gRPC API over a socket, default durability
  (`synchronous=FULL`, every acknowledged change committed): one execution of 1,000
  independent tasks; 20 concurrent executions of 25 tasks; one chain of 100 dependent tasks;
  and the scale curve: 1, 10, 100 and 1,000 concurrent executions of a 4-task diamond, with
  tasks/s and the dependency -> start latency (p50 / p99, from the stored events);
- DBOS on SQLite (when installed: the `bench` extra), one workflow of 300 steps.

Every row runs `--rounds` times, interleaved, and reports its median; ratios are computed
from the medians of this run only.

    make bench-throughput                        # BENCH_ARGS="--rounds 5 --profile out/cp.prof"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import rate, ratio, ready_to_start_latencies, summarize_ms  # noqa: E402

AGENTS = {"sync": "samples.agents:NoopAgent", "async": "samples.agents:EchoAgent"}
CP_AGENT = "noop"

# ------------------------------------------------------------------------------------------
# Workflows measured through the control plane
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A workflow: task ids with their dependencies."""

    name: str
    depends_on: dict[str, list[str]]

    def yaml(self) -> str:
        import yaml

        tasks = [
            {
                "id": task,
                "agent": CP_AGENT,
                "input": {"n": i},
                **({"depends_on": deps} if deps else {}),
            }
            for i, (task, deps) in enumerate(self.depends_on.items())
        ]
        return str(yaml.safe_dump({"name": self.name, "tasks": tasks}, sort_keys=False))

    @property
    def tasks(self) -> int:
        return len(self.depends_on)


def independent(name: str, count: int) -> Shape:
    return Shape(name, {f"t{i}": [] for i in range(count)})


def chain(name: str, count: int) -> Shape:
    return Shape(name, {f"t{i}": [f"t{i - 1}"] if i else [] for i in range(count)})


def diamond(name: str) -> Shape:
    return Shape(name, {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})


# ------------------------------------------------------------------------------------------
# The control-plane client: executions started and watched over gRPC (grpc.aio, one thread)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Executions of one shape started together, each watched to its terminal event."""

    shape: Shape
    executions: int
    seconds: float
    execution_ids: tuple[str, ...]
    streamed_events: int

    @property
    def tasks(self) -> int:
        return self.shape.tasks * self.executions

    @property
    def tasks_per_s(self) -> float:
        return rate(self.tasks, self.seconds)


def run_executions(address: str, shape: Shape, executions: int) -> Run:
    """Starts `executions` executions of `shape` at once and waits for every terminal event;
    the time runs from the first StartExecution to the last terminal event received."""
    import grpc

    from controlplane.api.gen.orchestrator.v1 import workflow_pb2
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc

    async def one(stub: Any) -> tuple[str, int, str]:
        started = await stub.StartExecution(
            workflow_pb2.StartExecutionRequest(workflow=shape.name), timeout=120
        )
        execution_id = started.execution.execution_id
        count, last = 0, ""
        watch = stub.WatchExecution(
            workflow_pb2.WatchExecutionRequest(execution_id=execution_id), timeout=900
        )
        async for item in watch:
            count += 1
            last = item.event.type
        return execution_id, count, last

    async def main() -> tuple[float, list[tuple[str, int, str]]]:
        options = [("grpc.max_concurrent_streams", 4096)]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            stub = wf_grpc.WorkflowServiceStub(channel)
            started = time.perf_counter()
            results = await asyncio.gather(*(one(stub) for _ in range(executions)))
            return time.perf_counter() - started, list(results)

    seconds, results = asyncio.run(main())
    failed = [(eid, last) for eid, _, last in results if last != "EXECUTION_SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} executions did not succeed, e.g. {failed[0]}")
    return Run(
        shape,
        executions,
        seconds,
        tuple(eid for eid, _, _ in results),
        sum(count for _, count, _ in results),
    )


def latencies_of(server: Any, run: Run) -> list[float]:
    """Dependency -> start latencies of every task of the run, from the stored events."""
    store = server.cp.store
    out: list[float] = []
    stored = 0
    for execution_id in run.execution_ids:
        events = server.on_loop(lambda e=execution_id: store.read_events(e, 1, 1_000_000))
        stored += len(events)
        out += ready_to_start_latencies(
            ((e.type.value, e.task_id, e.time) for e in events), run.shape.depends_on
        )
    if stored != run.streamed_events:
        raise RuntimeError(f"streamed {run.streamed_events} events but {stored} are stored")
    return out


# ------------------------------------------------------------------------------------------
# Rounds and the report
# ------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One measured path: a value per round (calls or tasks per second, or ms per step)."""

    label: str
    unit: str  # "/s" or "ms/step"
    notes: str = ""
    values: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "unit": self.unit,
            "notes": self.notes,
            "median": self.median,
            "values": self.values,
        }
        if self.latencies_s:
            out["ready_to_start"] = summarize_ms(self.latencies_s)
        return out


@dataclass(frozen=True)
class Ratio:
    label: str
    value: float
    target: str  # e.g. ">= 0.8"; "" for information only

    def met(self) -> bool | None:
        if not self.target:
            return None
        op, bound = self.target.split()
        return self.value >= float(bound) if op == ">=" else self.value <= float(bound)


def ratios_of(rows: dict[str, Row], dbos: Any) -> list[Ratio]:
    """The acceptance ratios, each from medians of this run."""
    bare = rows["bare_sync"].median
    out = [
        Ratio(
            "replica (sync agent) / bare sync actors",
            ratio(rows["replica_sync"].median, bare),
            ">= 0.8",
        ),
        Ratio(
            "replica (async agent) / bare sync actors",
            ratio(rows["replica_async"].median, bare),
            ">= 0.8",
        ),
        Ratio(
            "replica (async agent) / bare async actors",
            ratio(rows["replica_async"].median, rows["bare_async"].median),
            "",
        ),
        Ratio(
            f"fan-out ({rows['fan_out'].notes}) / raw Ray",
            ratio(rows["fan_out"].median, bare),
            ">= 0.4",
        ),
        Ratio(
            f"concurrent ({rows['concurrent'].notes}) / raw Ray",
            ratio(rows["concurrent"].median, bare),
            ">= 0.4",
        ),
        Ratio(
            "chain step / raw Ray blocking call",
            ratio(rows["chain"].median, rows["ray_chain"].median),
            "",
        ),
    ]
    if not isinstance(dbos, str):
        out.append(
            Ratio("chain step / DBOS step", ratio(rows["chain"].median, dbos.ms_per_step), "<= 1.0")
        )
    return out


def render(
    rows: dict[str, Row], curve: list[Row], ratios: list[Ratio], dbos: Any, title: str
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("path", "median", "unit", "ready -> start p50 / p99", "notes"):
        table.add_column(column, justify="right" if column in ("median",) else "left")
    for row in rows.values():
        latency = summarize_ms(row.latencies_s) if row.latencies_s else None
        table.add_row(
            row.label,
            f"{row.median:,.0f}" if row.unit == "/s" else f"{row.median:.2f}",
            row.unit,
            f"{latency['p50_ms']:.1f} / {latency['p99_ms']:.1f} ms" if latency else "",
            row.notes,
        )
    if isinstance(dbos, str):
        table.add_row("DBOS (SQLite), chain", "-", "", "", f"skipped: {dbos}")
    else:
        table.add_row(
            f"DBOS {dbos.version} (SQLite), chain of {dbos.steps} steps",
            f"{dbos.ms_per_step:.2f}",
            "ms/step",
            "",
            "one workflow, each step checkpointed (synchronous=FULL)",
        )
    if curve:
        table.add_section()
        for row in curve:
            latency = summarize_ms(row.latencies_s)
            table.add_row(
                row.label,
                f"{row.median:,.0f}",
                row.unit,
                f"{latency['p50_ms']:.1f} / {latency['p99_ms']:.1f} ms",
                row.notes,
            )
    table.add_section()
    for item in ratios:
        met = item.met()
        verdict = "" if met is None else ("met" if met else "MISSED")
        table.add_row(
            item.label,
            f"{item.value:.2f}",
            "ratio",
            "",
            f"target {item.target} {verdict}".strip() if item.target else "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    console.print(table)


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def measure(rounds: int, steps: Sequence[tuple[str, Callable[[], None]]]) -> None:
    """Runs each step once per round, in turn, so that a slow moment hits every row."""
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("measuring", total=rounds * len(steps))
        for _ in range(rounds):
            for label, step in steps:
                progress.update(task, description=label)
                step()
                progress.advance(task)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000, help="pipelined raw/replica calls")
    parser.add_argument("--fan-out", type=int, default=1000, help="tasks of the one execution")
    parser.add_argument("--concurrent", type=int, default=20, help="concurrent executions")
    parser.add_argument("--concurrent-tasks", type=int, default=25, help="tasks of each")
    parser.add_argument("--chain", type=int, default=100, help="dependent tasks in a chain")
    parser.add_argument("--dbos-steps", type=int, default=300)
    parser.add_argument(
        "--curve", default="1,10,100,1000", help="concurrent diamonds per point ('' to skip)"
    )
    parser.add_argument("--agent", choices=tuple(AGENTS), default="sync")
    parser.add_argument("--max-concurrency", type=int, default=32)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default="asyncio", help="the server's loop"
    )
    parser.add_argument("--out", type=Path, default=Path("out/bench_throughput.json"))
    parser.add_argument(
        "--client",
        choices=("process", "thread"),
        default="process",
        help="the gRPC client in its own process (as a user's is) or in the server's process",
    )
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the server loop")
    parser.add_argument("--profile-top", type=int, default=10)
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    import grpc
    import ray

    from bench import dbos_peer, ray_rows
    from bench.bench_server import BenchServer, print_profile
    from bench.client_process import ClientProcess
    from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc
    from ray_backend import cluster

    dbos = dbos_peer.run_chain(args.dbos_steps, rounds=args.rounds)  # before Ray: own process

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cp-"))
    shapes = {
        "fan_out": independent("bench-fan-out", args.fan_out),
        "concurrent": independent("bench-concurrent", args.concurrent_tasks),
        "chain": chain("bench-chain", args.chain),
        "diamond": diamond("bench-diamond"),
    }
    points = [int(p) for p in args.curve.split(",") if p.strip()]
    rows = {
        "bare_sync": Row("raw Ray: 2 bare sync actors, pipelined", "/s", f"{args.calls} calls"),
        "bare_async": Row("raw Ray: 2 bare async actors, pipelined", "/s", f"{args.calls} calls"),
        "replica_sync": Row("replica actor, sync agent, pipelined", "/s", f"{args.calls} calls"),
        "replica_async": Row("replica actor, async agent, pipelined", "/s", f"{args.calls} calls"),
        "ray_chain": Row("raw Ray: chain of blocking calls", "ms/step", f"{args.chain} calls"),
        "fan_out": Row(
            "control plane: one execution, independent tasks", "/s", f"{args.fan_out} tasks"
        ),
        "concurrent": Row(
            "control plane: concurrent executions",
            "/s",
            f"{args.concurrent} x {args.concurrent_tasks} tasks",
        ),
        "chain": Row("control plane: chain of dependent tasks", "ms/step", f"{args.chain} tasks"),
    }
    curve = [
        Row(f"curve: {n} concurrent executions", "/s", f"{n} x 4-task diamond") for n in points
    ]

    cluster.connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
    server: BenchServer | None = None
    client: ClientProcess | None = None
    profiler: Any = None
    try:
        bare_sync = ray_rows.bare_actors("sync", 2)
        bare_async = ray_rows.bare_actors("async", 2)
        replica_sync = ray_rows.replica_actors(AGENTS["sync"], 2, args.max_concurrency)
        replica_async = ray_rows.replica_actors(AGENTS["async"], 2, args.max_concurrency)
        server = BenchServer(data_dir, namespace, args.synchronous, loop=args.loop)
        with grpc.insecure_channel(server.address) as channel:
            agent_pb2_grpc.AgentServiceStub(channel).DeployAgent(
                agent_pb2.DeployAgentRequest(
                    agent=agent_pb2.AgentSpec(
                        name=CP_AGENT,
                        version="v1",
                        import_path=AGENTS[args.agent],
                        replicas=2,
                        max_concurrency=args.max_concurrency,
                        resources=agent_pb2.ReplicaResources(num_cpus=0),
                    )
                ),
                timeout=180,
            )
            workflows = wf_grpc.WorkflowServiceStub(channel)
            for shape in shapes.values():
                workflows.CreateWorkflow(
                    workflow_pb2.CreateWorkflowRequest(definition=shape.yaml()), timeout=30
                )
        address = server.address
        live = server
        client = ClientProcess() if args.client == "process" else None
        execute = run_executions if client is None else client.run

        def pipelined(key: str, handles: list[Any], envelope: bool) -> Callable[[], None]:
            return lambda: rows[key].values.append(
                ray_rows.pipelined(handles, args.calls, envelope=envelope).per_s
            )

        def through_cp(key: str, shape: Shape, executions: int, row: Row) -> Callable[[], None]:
            def step() -> None:
                run = execute(address, shape, executions)
                row.latencies_s += latencies_of(live, run)
                row.values.append(
                    run.seconds * 1000 / shape.tasks if row.unit == "ms/step" else run.tasks_per_s
                )

            return step

        # Warm-up (not measured): code paths, connections, replica loops, statements.
        ray_rows.pipelined(bare_sync, 200)
        ray_rows.pipelined(replica_sync, 200, envelope=True)
        execute(address, shapes["concurrent"], 2)
        execute(address, shapes["chain"], 1)

        steps: list[tuple[str, Callable[[], None]]] = [
            ("bare sync", pipelined("bare_sync", bare_sync, False)),
            ("bare async", pipelined("bare_async", bare_async, False)),
            ("replica sync", pipelined("replica_sync", replica_sync, True)),
            ("replica async", pipelined("replica_async", replica_async, True)),
            (
                "raw chain",
                lambda: rows["ray_chain"].values.append(
                    ray_rows.chained(bare_sync[0], args.chain).ms_per_call
                ),
            ),
            ("fan-out", through_cp("fan_out", shapes["fan_out"], 1, rows["fan_out"])),
            (
                "concurrent",
                through_cp("concurrent", shapes["concurrent"], args.concurrent, rows["concurrent"]),
            ),
            ("chain", through_cp("chain", shapes["chain"], 1, rows["chain"])),
        ]
        steps += [
            (f"curve {n}", through_cp("curve", shapes["diamond"], n, row))
            for n, row in zip(points, curve, strict=True)
        ]
        if args.profile:
            server.start_profile()
        measure(args.rounds, steps)
        if args.profile:
            profiler = server.stop_profile()
        commits, events, busy = server.commit_stats.snapshot()
    finally:
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
        cluster.disconnect()
        shutil.rmtree(data_dir, ignore_errors=True)

    ratios = ratios_of(rows, dbos)
    report: dict[str, Any] = {
        "config": {
            key: getattr(args, key)
            for key in ("rounds", "calls", "fan_out", "concurrent", "concurrent_tasks", "chain")
        }
        | {
            "agent": AGENTS[args.agent],
            "synchronous": args.synchronous,
            "loop": args.loop,
            "client": args.client,
            "curve": points,
        },
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "rows": {key: row.to_json() for key, row in rows.items()},
        "curve": [row.to_json() for row in curve],
        "dbos": dbos
        if isinstance(dbos, str)
        else {"steps": dbos.steps, "ms_per_step": dbos.ms_per_step, "version": dbos.version},
        "ratios": [
            {"label": r.label, "value": r.value, "target": r.target, "met": r.met()} for r in ratios
        ],
        "durability": {"commits": commits, "committed_events": events, "writer_busy_s": busy},
    }
    title = (
        f"Hot path, median of {args.rounds} rounds (control plane: {args.agent} no-op agent, "
        f"2 replicas x {args.max_concurrency}, synchronous={args.synchronous}, {args.loop}, "
        f"client in its own {args.client}; "
        f"{commits} fsync'd group commits for {events} events)"
    )
    render(rows, curve, ratios, dbos, title)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    if profiler is not None:
        print_profile(profiler, args.profile, args.profile_top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
