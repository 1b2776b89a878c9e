"""Throughput benchmark: no-op tasks through the control plane vs direct async Ray actor calls.

Runs, in one process and on the same replicas (Ray actors of ``samples.agents:EchoAgent``):

1. baseline: N direct ``execute.remote(input, context)`` calls, round-robin over the replicas,
   at most replicas x max_concurrency in flight;
2. control plane: M executions of a fan-out workflow (one ``root`` task, K tasks depending on
   it; M x (K + 1) ~= N tasks) started concurrently through the real gRPC API over a socket,
   each client thread doing StartExecution then WatchExecution until the terminal event;
3. baseline again (the reported direct rate is the mean of both runs).

Reports tasks/s for both, the ratio, and the latency from the root's TASK_SUCCEEDED to each
fan-out task's ATTEMPT_STARTED (from the stored events), p50/p99.

    .venv/bin/python bench/throughput.py [--tasks 2000] [--fan-out 50] [--synchronous NORMAL]

The statistics helpers at the top are pure (unit-tested); Ray, gRPC and the control plane are
imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT_TASK = "root"
AGENT = "noop"
WORKFLOW = "bench-fan-out"

# ------------------------------------------------------------------------------------------
# Pure statistics (tests/unit/test_bench_stats.py)
# ------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default method)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    fraction = position - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def rate(count: int, seconds: float) -> float:
    """Items per second."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    return count / seconds


def ratio(value: float, reference: float) -> float:
    if reference <= 0:
        raise ValueError(f"reference must be positive, got {reference}")
    return value / reference


def executions_needed(tasks: int, fan_out: int) -> int:
    """Executions of a 1 + fan_out task workflow so that the total is at least `tasks`."""
    if tasks < 1 or fan_out < 1:
        raise ValueError("tasks and fan_out must be positive")
    return math.ceil(tasks / (fan_out + 1))


def fan_out_latencies(
    events: Iterable[tuple[str, str, float]], root: str = ROOT_TASK
) -> list[float]:
    """Seconds from the TASK_SUCCEEDED of `root` to the first ATTEMPT_STARTED of every other
    task, from one execution's events given as (type, task_id, time)."""
    root_done: float | None = None
    first_start: dict[str, float] = {}
    for type_, task_id, at in events:
        if type_ == "TASK_SUCCEEDED" and task_id == root and root_done is None:
            root_done = at
        elif type_ == "ATTEMPT_STARTED" and task_id and task_id != root:
            first_start.setdefault(task_id, at)
    if root_done is None:
        return []
    return [at - root_done for at in first_start.values()]


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p99 / mean / max of durations given in seconds, in milliseconds."""
    if not seconds:
        return {
            "count": 0,
            "p50_ms": math.nan,
            "p99_ms": math.nan,
            "mean_ms": math.nan,
            "max_ms": math.nan,
        }
    return {
        "count": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "mean_ms": sum(seconds) / len(seconds) * 1000,
        "max_ms": max(seconds) * 1000,
    }


# ------------------------------------------------------------------------------------------
# Harness
# ------------------------------------------------------------------------------------------


@dataclass
class CommitStats:
    """Group commits observed by wrapping SqliteStore.write (the writer thread's work)."""

    commits: int = 0
    events: int = 0
    busy_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, write: Callable[[Any], None]) -> Callable[[Any], None]:
        def timed(batch: Any) -> None:
            started = time.perf_counter()
            try:
                write(batch)
            finally:
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.commits += 1
                    self.events += len(batch.events)
                    self.busy_s += elapsed

        return timed

    def snapshot(self) -> tuple[int, int, float]:
        with self.lock:
            return self.commits, self.events, self.busy_s


class BenchServer:
    """A ControlPlane on its own event loop thread (Ray is already connected in main)."""

    def __init__(self, data_dir: Path, namespace: str, synchronous: str) -> None:
        from controlplane.app import ControlPlane
        from controlplane.config import GrpcConfig, RayConfig, ServerConfig, StoreConfig

        config = ServerConfig(
            store=StoreConfig(data_dir=data_dir, sqlite_synchronous=synchronous),
            grpc=GrpcConfig(host="127.0.0.1", port=0),
            ray=RayConfig(namespace=namespace, include_dashboard=False),
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="control-plane-loop", daemon=True
        )
        self._thread.start()

        async def build() -> Any:
            return ControlPlane(config)

        self.cp = self.call(build())
        self.commit_stats = CommitStats()
        # Bench-side instrumentation: an instance attribute shadows the method for the writer.
        self.cp.store.write = self.commit_stats.wrap(self.cp.store.write)
        self.call(self.cp.start())
        self._profiler: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.cp.port}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self.call(run())

    def start_profile(self) -> None:
        import cProfile

        self._profiler = cProfile.Profile()
        self.on_loop(self._profiler.enable)  # profiles the loop thread only

    def stop_profile(self) -> Any:
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            self.on_loop(profiler.disable)
        return profiler

    def stop(self) -> None:
        try:
            self.call(self.cp.backend.destroy_all())
        finally:
            try:
                self.call(self.cp.stop())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)


def workflow_yaml(fan_out: int) -> str:
    import yaml

    tasks: list[dict[str, Any]] = [{"id": ROOT_TASK, "agent": AGENT, "input": {"n": -1}}]
    tasks += [
        {"id": f"t{i}", "agent": AGENT, "depends_on": [ROOT_TASK], "input": {"n": i}}
        for i in range(fan_out)
    ]
    return str(yaml.safe_dump({"name": WORKFLOW, "tasks": tasks}, sort_keys=False))


def deploy(channel: Any, replicas: int, max_concurrency: int, fan_out: int) -> None:
    from controlplane.api.gen.orchestrator.v1 import agent_pb2, agent_pb2_grpc, workflow_pb2
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc

    agent_pb2_grpc.AgentServiceStub(channel).DeployAgent(
        agent_pb2.DeployAgentRequest(
            agent=agent_pb2.AgentSpec(
                name=AGENT,
                version="v1",
                import_path="samples.agents:EchoAgent",
                replicas=replicas,
                max_concurrency=max_concurrency,
                resources=agent_pb2.ReplicaResources(num_cpus=0),
            )
        ),
        timeout=180,
    )
    wf_grpc.WorkflowServiceStub(channel).CreateWorkflow(
        workflow_pb2.CreateWorkflowRequest(definition=workflow_yaml(fan_out)), timeout=30
    )


@dataclass
class DirectResult:
    tasks: int
    seconds: float

    @property
    def tasks_per_s(self) -> float:
        return rate(self.tasks, self.seconds)


def run_direct(handles: Sequence[Any], tasks: int, in_flight: int, fan_out: int) -> DirectResult:
    """N async actor calls round-robin over `handles`, at most `in_flight` outstanding."""

    async def main() -> float:
        gate = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            context = {
                "execution_id": "direct",
                "task_id": f"t{i}",
                "attempt": 1,
                "agent_version": "v1",
                "replica": "",
            }
            async with gate:
                envelope = await handles[i % len(handles)].execute.remote(
                    {"n": i % fan_out}, context
                )
            if not (isinstance(envelope, dict) and envelope.get("ok")):
                raise RuntimeError(f"direct call failed: {envelope!r}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(tasks)))
        return time.perf_counter() - started

    return DirectResult(tasks, asyncio.run(main()))


@dataclass
class ControlPlaneResult:
    executions: int
    tasks: int
    seconds: float
    latencies_s: list[float]
    streamed_events: int
    stored_events: int
    commits: int
    committed_events: int
    writer_busy_s: float

    @property
    def tasks_per_s(self) -> float:
        return rate(self.tasks, self.seconds)


def _start_and_watch(stub: Any, start_gate: threading.Event) -> tuple[str, int, str, float]:
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2

    start_gate.wait()
    started = stub.StartExecution(workflow_pb2.StartExecutionRequest(workflow=WORKFLOW), timeout=60)
    execution_id = started.execution.execution_id
    count, last = 0, ""
    stream = stub.WatchExecution(
        workflow_pb2.WatchExecutionRequest(execution_id=execution_id), timeout=900
    )
    for item in stream:
        count += 1
        last = item.event.type
    return execution_id, count, last, time.perf_counter()


def run_control_plane(
    server: BenchServer, channel: Any, executions: int, fan_out: int, clients: int
) -> ControlPlaneResult:
    from controlplane.api.gen.orchestrator.v1 import workflow_pb2_grpc as wf_grpc

    stub = wf_grpc.WorkflowServiceStub(channel)
    gate = threading.Event()
    commits0, events0, busy0 = server.commit_stats.snapshot()
    with ThreadPoolExecutor(max_workers=clients, thread_name_prefix="client") as pool:
        futures = [pool.submit(_start_and_watch, stub, gate) for _ in range(executions)]
        time.sleep(0.2)  # let the client threads park on the gate
        started = time.perf_counter()
        gate.set()
        results = [f.result() for f in futures]
    seconds = max(r[3] for r in results) - started
    commits1, events1, busy1 = server.commit_stats.snapshot()
    bad = [(eid, last) for eid, _, last, _ in results if last != "EXECUTION_SUCCEEDED"]
    if bad:
        raise RuntimeError(f"{len(bad)} executions did not succeed, e.g. {bad[0]}")

    store = server.cp.store
    latencies: list[float] = []
    stored = 0
    for eid, _, _, _ in results:
        events = server.on_loop(functools.partial(store.read_events, eid, 1, 1_000_000))
        stored += len(events)
        latencies += fan_out_latencies((e.type.value, e.task_id, e.time) for e in events)
    return ControlPlaneResult(
        executions=executions,
        tasks=executions * (fan_out + 1),
        seconds=seconds,
        latencies_s=latencies,
        streamed_events=sum(r[1] for r in results),
        stored_events=stored,
        commits=commits1 - commits0,
        committed_events=events1 - events0,
        writer_busy_s=busy1 - busy0,
    )


def print_profile(profiler: Any, path: Path, top: int) -> None:
    import io
    import pstats

    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(key)
        stats.print_stats(top)
        print(f"\n--- control-plane loop thread, top {top} by {key} ---")
        print(buffer.getvalue().split("\n\n", 1)[-1].rstrip())
    print(f"\nprofile written to {path} (python -m pstats {path})")


def render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    d, c, lat, idle = report["direct"], report["control_plane"], report["latency"], report["idle"]
    table = Table(title=f"No-op task throughput (synchronous={report['config']['synchronous']})")
    for column in ("path", "tasks", "seconds", "tasks/s", "notes"):
        table.add_column(column, justify="left" if column in ("path", "notes") else "right")
    for i, run in enumerate(d["runs"]):
        label = "before" if i == 0 else "after"
        table.add_row(
            f"direct Ray ({label})",
            str(run["tasks"]),
            f"{run['seconds']:.3f}",
            f"{run['tasks_per_s']:.0f}",
            f"{d['in_flight']} in flight",
        )
    table.add_row("direct Ray (mean)", "", "", f"{d['tasks_per_s']:.0f}", "")
    table.add_row(
        "control plane",
        str(c["tasks"]),
        f"{c['seconds']:.3f}",
        f"{c['tasks_per_s']:.0f}",
        f"{c['executions']} executions x (1+{report['config']['fan_out']}), "
        f"{c['clients']} client threads",
    )
    table.add_section()
    target = report["target_ratio"]
    verdict = "OK" if report["ratio"] >= target else "BELOW TARGET"
    table.add_row(
        "ratio cp/direct", "", "", f"{report['ratio']:.3f}", f"target >= {target} {verdict}"
    )
    table.add_row(
        "root done -> attempt started",
        str(lat["count"]),
        "",
        "",
        f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms (under load)",
    )
    if idle:
        table.add_row(
            "  same, one execution alone",
            str(idle["count"]),
            "",
            "",
            f"p50 {idle['p50_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms",
        )
    synchronous = report["config"]["synchronous"]
    kind = "fsync'd commits" if synchronous == "FULL" else f"commits ({synchronous}, no fsync each)"
    table.add_row(
        "durability",
        "",
        "",
        "",
        f"{c['commits']} {kind} for {c['committed_events']} events "
        f"({c['events_per_commit']:.1f}/commit, {c['ms_per_commit']:.2f} ms each); "
        f"streamed {c['streamed_events']} = stored {c['stored_events']}",
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=130)
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=2000, help="N: tasks per measured path")
    parser.add_argument("--fan-out", type=int, default=50, help="K: tasks depending on root")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-concurrency", type=int, default=32)
    parser.add_argument(
        "--clients", type=int, default=0, help="client threads (0: one per execution)"
    )
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL")
    parser.add_argument("--out", type=Path, default=Path("out/bench_throughput.json"))
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write a cProfile of the control-plane loop thread (control-plane run only)",
    )
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument(
        "--no-idle-probe", action="store_true", help="skip the single-execution latency probe"
    )
    parser.add_argument("--target-ratio", type=float, default=0.25)
    args = parser.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING)
    import grpc
    import ray

    from ray_backend import cluster

    executions = executions_needed(args.tasks, args.fan_out)
    tasks = executions * (args.fan_out + 1)
    clients = args.clients or executions
    in_flight = args.replicas * args.max_concurrency
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-cp-"))

    cluster.connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
    server: BenchServer | None = None
    try:
        server = BenchServer(data_dir, namespace, args.synchronous)
        with grpc.insecure_channel(server.address) as channel:
            deploy(channel, args.replicas, args.max_concurrency, args.fan_out)
            names = [r.name for r in server.on_loop(lambda: server.cp.backend.replicas(AGENT))]
            handles = [ray.get_actor(name, namespace=namespace) for name in names]
            if len(handles) != args.replicas:
                raise RuntimeError(f"expected {args.replicas} replicas, found {names}")

            # Warm-up (not measured): code paths, connections, replica event loops.
            run_direct(handles, 2 * in_flight, in_flight, args.fan_out)
            run_control_plane(server, channel, 1, args.fan_out, 1)

            before = run_direct(handles, tasks, in_flight, args.fan_out)
            if args.profile:
                server.start_profile()
            cp_result = run_control_plane(server, channel, executions, args.fan_out, clients)
            profiler = server.stop_profile() if args.profile else None
            after = run_direct(handles, tasks, in_flight, args.fan_out)
            idle = (
                None
                if args.no_idle_probe
                else run_control_plane(server, channel, 1, args.fan_out, 1)
            )
    finally:
        if server is not None:
            server.stop()
        cluster.disconnect()
        shutil.rmtree(data_dir, ignore_errors=True)

    direct_rate = (before.tasks_per_s + after.tasks_per_s) / 2
    report: dict[str, Any] = {
        "config": {
            "tasks": tasks,
            "fan_out": args.fan_out,
            "executions": executions,
            "replicas": args.replicas,
            "max_concurrency": args.max_concurrency,
            "synchronous": args.synchronous,
            "clients": clients,
        },
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
            "platform": platform.platform(),
        },
        "direct": {
            "in_flight": in_flight,
            "runs": [
                {"tasks": r.tasks, "seconds": r.seconds, "tasks_per_s": r.tasks_per_s}
                for r in (before, after)
            ],
            "tasks_per_s": direct_rate,
        },
        "control_plane": {
            "executions": cp_result.executions,
            "clients": clients,
            "tasks": cp_result.tasks,
            "seconds": cp_result.seconds,
            "tasks_per_s": cp_result.tasks_per_s,
            "streamed_events": cp_result.streamed_events,
            "stored_events": cp_result.stored_events,
            "commits": cp_result.commits,
            "committed_events": cp_result.committed_events,
            "events_per_commit": cp_result.committed_events / max(cp_result.commits, 1),
            "ms_per_commit": cp_result.writer_busy_s * 1000 / max(cp_result.commits, 1),
            "writer_busy_fraction": cp_result.writer_busy_s / cp_result.seconds,
        },
        "ratio": ratio(cp_result.tasks_per_s, direct_rate),
        "target_ratio": args.target_ratio,
        "latency": summarize_ms(cp_result.latencies_s),
        "idle": summarize_ms(idle.latencies_s) if idle is not None else None,
    }
    if cp_result.streamed_events != cp_result.stored_events:
        raise RuntimeError(
            f"streamed {cp_result.streamed_events} events but {cp_result.stored_events} stored"
        )
    render(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    if profiler is not None:
        print_profile(profiler, args.profile, args.profile_top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
