"""Load-balancing strategies with one slow replica: a simulation and a live run on Ray.

One agent, four replicas with ``--slots`` attempt slots each; replica ``--slow-replica`` takes
``--slow-factor`` times longer than the others (``--service`` seconds) for every attempt.
Attempts arrive as a Poisson process at a share (the load) of the fleet's capacity, wait first
come first served for a free slot, and the agent's strategy picks among the replicas with a free
slot, as the backend does. Task latency is from arrival to outcome (the wait plus the run).

1. **Simulation**: a discrete-event model driving the backend's own ``Balancer``
   (``ray_backend.balancing``), ``--sim-tasks`` attempts per strategy for each of
   ``--sim-slots`` x ``--sim-loads`` (same seed for every strategy: the same arrivals).
2. **Live**: ``RayAgentBackend`` on a local Ray, replicas of ``SlowReplicaAgent`` below (an
   async sleep), ``--live-tasks`` attempts per strategy at each of ``--loads``, driven through
   the backend's lease and invoke (what the engine calls; no workflow store in the path).

consistent_hash keys are drawn from ``--keys`` user ids.

    .venv/bin/python bench/load_balancing.py                      # both, defaults
    .venv/bin/python bench/load_balancing.py --no-live            # simulation only (seconds)
    .venv/bin/python bench/load_balancing.py --live-tasks 200 --loads 0.7   # quick live run

The simulation part is pure (tests/unit/test_bench_load_balancing.py); Ray is imported only by
the live run.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import os
import platform
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from models.replica_health import LoadBalancing, LoadBalancingStrategy  # noqa: E402
from ray_backend.balancing import Balancer  # noqa: E402
from ray_backend.latency import LatencyStats  # noqa: E402

REPLICAS = 4
HASH_KEY = "${input.user}"
STRATEGIES = [s.value.lower() for s in LoadBalancingStrategy]


@dataclass(frozen=True)
class Scenario:
    slots: int = 2
    service_s: float = 0.1
    slow_factor: float = 5.0
    slow_replica: int = 0
    load: float = 0.7
    keys: int = 64
    seed: int = 1

    def service_of(self, index: int) -> float:
        return self.service_s * (self.slow_factor if index == self.slow_replica else 1.0)

    @property
    def capacity_per_s(self) -> float:
        """Attempts per second the fleet completes with every slot busy."""
        return sum(self.slots / self.service_of(i) for i in range(REPLICAS))

    @property
    def arrival_rate(self) -> float:
        return self.load * self.capacity_per_s


@dataclass(frozen=True)
class Result:
    mode: str
    strategy: str
    slots: int
    load: float
    tasks: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    # Share of the attempts the slow replica ran.
    slow_share: float
    wall_s: float = 0.0


def summarize(
    mode: str,
    strategy: str,
    scenario: Scenario,
    latencies: Sequence[float],
    replicas: Sequence[int],
    wall_s: float = 0.0,
) -> Result:
    return Result(
        mode=mode,
        strategy=strategy,
        slots=scenario.slots,
        load=scenario.load,
        tasks=len(latencies),
        p50_ms=1000 * percentile(latencies, 50),
        p99_ms=1000 * percentile(latencies, 99),
        mean_ms=1000 * sum(latencies) / len(latencies),
        slow_share=sum(1 for r in replicas if r == scenario.slow_replica) / len(replicas),
        wall_s=wall_s,
    )


def balancing(strategy: str) -> LoadBalancing:
    chosen = LoadBalancingStrategy(strategy.upper())
    key = HASH_KEY if chosen is LoadBalancingStrategy.CONSISTENT_HASH else ""
    return LoadBalancing(chosen, key)


# ------------------------------------------------------------------------------------------
# Simulation (pure)
# ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class SimReplica:
    """What the balancer sees of a replica (the ``Choosable`` protocol)."""

    name: str
    index: int
    slots: int
    service_s: float
    outstanding: int = 0
    latency: LatencyStats = field(default_factory=LatencyStats)

    @property
    def latency_ewma(self) -> float | None:
        return self.latency.ewma


def simulate(strategy: str, scenario: Scenario, tasks: int) -> Result:
    """Poisson arrivals, a FIFO queue for free slots, the strategy's choice among replicas
    with a free slot, a fixed run time per replica."""
    rng = random.Random(scenario.seed)
    config = balancing(strategy)
    balancer = Balancer(random.Random(scenario.seed + 1))
    replicas = [
        SimReplica(f"sim/v1/x/{i}", i, scenario.slots, scenario.service_of(i))
        for i in range(REPLICAS)
    ]
    arrivals = list(
        itertools.accumulate(rng.expovariate(scenario.arrival_rate) for _ in range(tasks))
    )
    keys = [f"user-{rng.randrange(scenario.keys)}" for _ in range(tasks)]
    queue: deque[int] = deque()
    # (time, order, task, replica index or -1 for an arrival)
    events: list[tuple[float, int, int, int]] = [(t, i, i, -1) for i, t in enumerate(arrivals)]
    heapq.heapify(events)
    order = itertools.count(tasks)
    latencies: list[float] = []
    ran_on: list[int] = []
    while events:
        now, _, task, where = heapq.heappop(events)
        if where < 0:
            queue.append(task)
        else:
            replica = replicas[where]
            replica.outstanding -= 1
            replica.latency.observe(replica.service_s)
            latencies.append(now - arrivals[task])
            ran_on.append(where)
        while queue:
            free = [r for r in replicas if r.outstanding < r.slots]
            chosen = balancer.choose(config, replicas, free, keys[queue[0]])
            if chosen is None:
                break
            started = queue.popleft()
            chosen.outstanding += 1
            heapq.heappush(events, (now + chosen.service_s, next(order), started, chosen.index))
    return summarize("simulation", strategy, scenario, latencies, ran_on)


# ------------------------------------------------------------------------------------------
# Live run on Ray
# ------------------------------------------------------------------------------------------


class SlowReplicaAgent:
    """Sleeps ``seconds`` per attempt, ``slow_factor`` times longer on replica
    ``slow_replica`` (by the index that ends its name)."""

    def __init__(self, seconds: float, slow_factor: float, slow_replica: int) -> None:
        self._seconds = seconds
        self._slow_factor = slow_factor
        self._slow_replica = slow_replica

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        index = int(str(context["replica"]).rsplit("/", 1)[1])
        factor = self._slow_factor if index == self._slow_replica else 1.0
        await asyncio.sleep(self._seconds * factor)
        return {"replica": index}


async def live_strategy(backend: Any, strategy: str, scenario: Scenario, tasks: int) -> Result:
    from models.agents import AgentSpec, ReplicaResources
    from models.backend import AttemptRequest

    agent = f"lb-{strategy.replace('_', '-')}"
    await backend.deploy(
        AgentSpec(
            name=agent,
            version="v1",
            import_path="bench.load_balancing:SlowReplicaAgent",
            replicas=REPLICAS,
            resources=ReplicaResources(num_cpus=0),
            max_concurrency=scenario.slots,
            config={
                "seconds": scenario.service_s,
                "slow_factor": scenario.slow_factor,
                "slow_replica": scenario.slow_replica,
            },
            load_balancing=balancing(strategy),
        )
    )
    rng = random.Random(scenario.seed)
    latencies: list[float] = []
    ran_on: list[int] = []

    async def one(number: int, key: str, measured: bool) -> None:
        arrived = time.monotonic()
        async with backend.lease(agent, routing_key=key) as lease:
            request = AttemptRequest("bench", f"t{number}", 1, {"user": key})
            outcome = await backend.invoke(lease, request)
        if not outcome.ok:
            raise RuntimeError(f"attempt failed: {outcome.error}")
        if measured:
            latencies.append(time.monotonic() - arrived)
            ran_on.append(int(lease.replica.rsplit("/", 1)[1]))

    # Warm-up, not measured: every replica answers a few attempts (latency averages start).
    await asyncio.gather(*(one(-i, f"warm-{i}", False) for i in range(REPLICAS * scenario.slots)))
    started = time.monotonic()
    pending = []
    due = started
    for number in range(tasks):
        due += rng.expovariate(scenario.arrival_rate)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        key = f"user-{rng.randrange(scenario.keys)}"
        pending.append(asyncio.ensure_future(one(number, key, True)))
    await asyncio.gather(*pending)
    wall = time.monotonic() - started
    await backend.remove(agent)
    return summarize("live", strategy, scenario, latencies, ran_on, wall)


async def live(
    strategies: Sequence[str], scenarios: Sequence[Scenario], tasks: int
) -> list[Result]:
    from ray_backend import RayAgentBackend, connect, disconnect

    # Ray workers import this module (the agent class) from the repository root.
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    namespace = f"bench-lb-{uuid.uuid4().hex[:8]}"
    connect(None, namespace=namespace, num_cpus=2, include_dashboard=False)
    backend = RayAgentBackend(namespace=namespace)
    await backend.start()
    try:
        return [
            await live_strategy(backend, strategy, scenario, tasks)
            for scenario in scenarios
            for strategy in strategies
        ]
    finally:
        await backend.destroy_all()
        await backend.shutdown()
        disconnect()


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


def markdown(results: Sequence[Result]) -> str:
    lines = [
        "| run | slots | load | strategy | p50 ms | p99 ms | mean ms | on slow replica |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.slots} | {r.load:.0%} | {r.strategy} | {r.p50_ms:.0f} | "
            f"{r.p99_ms:.0f} | {r.mean_ms:.0f} | {r.slow_share:.1%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=STRATEGIES)
    parser.add_argument("--slots", type=int, default=2, help="live: attempt slots per replica")
    parser.add_argument("--service", type=float, default=0.1, help="seconds per attempt")
    parser.add_argument("--slow-factor", type=float, default=5.0)
    parser.add_argument("--slow-replica", type=int, default=0, choices=range(REPLICAS))
    parser.add_argument("--loads", type=float, nargs="+", default=[0.3, 0.7], help="live")
    parser.add_argument("--live-tasks", type=int, default=600, help="per strategy and load")
    parser.add_argument("--sim-loads", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument("--sim-slots", type=int, nargs="+", default=[2, 32])
    parser.add_argument("--sim-tasks", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=64, help="consistent_hash keys")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-live", action="store_true", help="the simulation only")
    parser.add_argument("--out", type=Path, default=Path("out/bench_load_balancing.json"))
    args = parser.parse_args(argv)
    base = Scenario(
        slots=args.slots,
        service_s=args.service,
        slow_factor=args.slow_factor,
        slow_replica=args.slow_replica,
        keys=args.keys,
        seed=args.seed,
    )
    results = [
        simulate(strategy, replace(base, slots=slots, load=load), args.sim_tasks)
        for slots in args.sim_slots
        for load in args.sim_loads
        for strategy in args.strategies
    ]
    print(markdown(results), flush=True)
    if not args.no_live:
        scenarios = [replace(base, load=load) for load in args.loads]
        live_results = asyncio.run(live(args.strategies, scenarios, args.live_tasks))
        print()
        print(markdown(live_results))
        results += live_results
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "scenario": asdict(base),
        "sim_tasks": args.sim_tasks,
        "live_tasks": args.live_tasks,
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": [asdict(r) for r in results],
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
