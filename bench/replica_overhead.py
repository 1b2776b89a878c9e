"""Replica overhead benchmark: the project's replica actor against bare Ray actors, one run.

Rows, all measured in the same process and Ray (``num_cpus=2``), each on ``--replicas`` (2)
actors created with ``num_cpus=0``: ``--calls`` (1,000) ``execute.remote(input, context)``
calls submitted round-robin at once (pipelined), then ``ray.get`` of all of them; tasks/s =
calls / wall time. Every row is measured ``--rounds`` (5) times, rows interleaved round by
round, and the median is reported, so a slow moment of the shared machine hits every row.

- bare sync actor: a plain ``@ray.remote`` class whose ``execute`` returns its input (what a
  user calling Ray directly would write);
- bare threaded actor: the sync class with ``max_concurrency`` ``--max-concurrency`` (Ray runs
  its calls on a pool of threads, as it would a replica's if the replica were not async);
- bare async actor: the same with ``async def execute``;
- replica, sync agent: ``AgentReplicaActor`` hosting ``samples.agents:NoopAgent`` (sync);
- replica, async agent: ``AgentReplicaActor`` hosting ``samples.agents:EchoAgent`` (async),
  both with ``max_concurrency`` ``--max-concurrency`` (32) as the backend deploys them.

Ratios replica / bare sync actor (the target, >= 0.8) and replica / bare async actor are
computed in the run. ``--py-spy DIR`` samples one replica actor of each agent kind with py-spy
during an extra round and prints the ten most expensive frames (own time) of each.

    .venv/bin/python bench/replica_overhead.py [--calls 1000] [--rounds 5] [--py-spy out/spy]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SYNC_AGENT = "samples.agents:NoopAgent"
ASYNC_AGENT = "samples.agents:EchoAgent"
TARGET_RATIO = 0.8


def top_frames(collapsed: Sequence[str], top: int = 10) -> list[tuple[str, int, float]]:
    """The `top` frames with the most own samples (the leaf of a stack) from py-spy's raw
    (collapsed) output lines ``"a;b;c 12"``: (frame, samples, share of all samples)."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        own[stack.rsplit(";", 1)[-1]] += samples
    return [(frame, n, n / total) for frame, n in own.most_common(top)] if total else []


def timed_round(handles: Sequence[Any], calls: int) -> float:
    """Calls per second of `calls` pipelined execute calls round-robin over `handles`."""
    from bench import ray_rows

    return ray_rows.pipelined(handles, calls).per_s


def py_spy_binary() -> str:
    """py-spy beside this Python (the venv's bin) or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    return found


def spy(pid: int, out: Path, work: Callable[[], Any], rate: int) -> list[tuple[str, int, float]]:
    """Samples process `pid` with py-spy while `work()` runs; its ten most expensive frames."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [py_spy_binary(), "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)]
    command += ["--gil", "--nonblocking", "--output", str(out)]
    spy_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # let py-spy attach
    try:
        work()
    finally:
        spy_process.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        spy_process.wait(30)
    return top_frames(out.read_text().splitlines())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--max-concurrency", type=int, default=32)
    parser.add_argument("--py-spy", type=Path, default=None, help="folder for py-spy samples")
    parser.add_argument("--spy-rounds", type=int, default=10, help="rounds sampled by py-spy")
    parser.add_argument("--spy-rate", type=int, default=500, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path("out/bench_replica_overhead.json"))
    args = parser.parse_args(argv)

    import ray

    from bench import ray_rows
    from ray_backend import cluster

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    cluster.connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
    try:
        replicas, concurrency = args.replicas, args.max_concurrency
        rows: dict[str, list[Any]] = {
            "bare sync actor": ray_rows.bare_actors("sync", replicas),
            "bare threaded actor": ray_rows.bare_actors("sync", replicas, concurrency),
            "bare async actor": ray_rows.bare_actors("async", replicas),
            # Each replica's warm-up call checks its envelope.
            "replica, sync agent": ray_rows.replica_actors(SYNC_AGENT, replicas, concurrency),
            "replica, async agent": ray_rows.replica_actors(ASYNC_AGENT, replicas, concurrency),
        }
        for handles in rows.values():
            timed_round(handles, args.calls)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in rows}
        for _ in range(args.rounds):
            for name, handles in rows.items():
                rates[name].append(timed_round(handles, args.calls))

        profiles: dict[str, list[tuple[str, int, float]]] = {}
        if args.py_spy is not None:
            py_spy_binary()  # fails early when absent
            for name in ("replica, sync agent", "replica, async agent"):
                handles = rows[name]
                pid = ray.get(handles[0].info.remote())["pid"]
                path = args.py_spy / (name.replace(", ", "_").replace(" ", "_") + ".txt")

                def work(handles: list[Any] = handles) -> None:
                    for _ in range(args.spy_rounds):
                        timed_round(handles, args.calls)

                profiles[name] = spy(pid, path, work, args.spy_rate)
    finally:
        cluster.disconnect()

    median = {name: statistics.median(values) for name, values in rates.items()}
    report: dict[str, Any] = {
        "config": {
            "calls": args.calls,
            "rounds": args.rounds,
            "replicas": args.replicas,
            "max_concurrency": args.max_concurrency,
        },
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "ray": ray.__version__,
        },
        "calls_per_s": {name: {"median": median[name], "rounds": rates[name]} for name in rates},
        "ratios": {
            f"{name} / bare {kind} actor": median[name] / median[f"bare {kind} actor"]
            for name in ("replica, sync agent", "replica, async agent")
            for kind in ("sync", "async")
        },
        "top_frames": {
            name: [{"frame": f, "samples": n, "share": s} for f, n, s in frames]
            for name, frames in profiles.items()
        },
    }
    print(f"{args.replicas} actors each, {args.calls} pipelined calls, median of {args.rounds}")
    print(f"{'row':<24}{'calls/s':>10}   rounds")
    for name, values in rates.items():
        listed = " ".join(f"{v:.0f}" for v in values)
        print(f"{name:<24}{median[name]:>10.0f}   {listed}")
    for label, value in report["ratios"].items():
        verdict = ""
        if label.endswith("bare sync actor"):
            verdict = "  OK" if value >= TARGET_RATIO else f"  below target {TARGET_RATIO}"
        print(f"ratio {label:<45}{value:>6.2f}{verdict}")
    for name, frames in profiles.items():
        print(f"\npy-spy, {name}: ten most expensive frames (own samples)")
        for frame, samples, share in frames:
            print(f"  {share:6.1%} {samples:>6}  {frame}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
