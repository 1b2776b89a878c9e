"""Each load-balancing strategy on a real local Ray: the agent's setting selects it, and leases
go where it says (exact sequences where the strategy is deterministic, its invariant where it
is random); consistent_hash end to end, keyed by the task input of a workflow."""

from __future__ import annotations

import collections
import contextlib
from typing import Any

from controlplane.api.client import OrchestratorClient
from models.agents import AgentSpec, ReplicaResources
from models.backend import AttemptRequest
from models.executions import ExecutionStatus
from models.replica_health import LoadBalancing, LoadBalancingStrategy
from ray_backend import RayAgentBackend
from tests.support.backend_runs import run
from tests.support.server_thread import ServerThread

S = LoadBalancingStrategy
NO_CPU = ReplicaResources(num_cpus=0)


def uneven(name: str, replicas: int, strategy: S, seconds: float = 0.0, **kwargs: Any) -> AgentSpec:
    return AgentSpec(
        name=name,
        version="v1",
        import_path="tests.support.health_agents:UnevenAgent",
        replicas=replicas,
        resources=NO_CPU,
        max_concurrency=kwargs.pop("max_concurrency", 8),
        config={"seconds": seconds, "slow_factor": kwargs.pop("slow_factor", 1.0)},
        load_balancing=LoadBalancing(strategy, kwargs.pop("hash_key", "")),
        **kwargs,
    )


def index(replica: str) -> int:
    return int(replica.rsplit("/", 1)[1])


async def sequential(backend: RayAgentBackend, agent: str, count: int, key: str = "") -> list[int]:
    """Replica indices of `count` attempts, one after the other."""
    chosen = []
    for number in range(count):
        async with backend.lease(agent, routing_key=key) as lease:
            outcome = await backend.invoke(lease, AttemptRequest("e", f"t{number}", 1, {}))
            assert outcome.ok, outcome.error
            chosen.append(index(lease.replica))
    return chosen


async def held(
    backend: RayAgentBackend, agent: str, keys: list[str], stack: contextlib.AsyncExitStack
) -> list[int]:
    """Replica indices of leases taken one after the other and all kept."""
    return [
        index((await stack.enter_async_context(backend.lease(agent, routing_key=key))).replica)
        for key in keys
    ]


def test_least_outstanding_takes_the_least_loaded_then_the_lowest_index(
    ray_namespace: str,
) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(uneven("lo", 3, S.LEAST_OUTSTANDING))
        assert await sequential(backend, "lo", 3) == [0, 0, 0]
        async with contextlib.AsyncExitStack() as stack:
            assert await held(backend, "lo", [""] * 6, stack) == [0, 1, 2, 0, 1, 2]

    run(ray_namespace, body)


def test_round_robin_takes_each_replica_in_turn(ray_namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(uneven("rr", 3, S.ROUND_ROBIN))
        assert await sequential(backend, "rr", 7) == [0, 1, 2, 0, 1, 2, 0]

    run(ray_namespace, body)


def test_power_of_two_never_gives_an_attempt_to_the_single_most_loaded_replica(
    ray_namespace: str,
) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(uneven("p2c", 4, S.POWER_OF_TWO, max_concurrency=32))
        chosen: collections.Counter[int] = collections.Counter()
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(40):
                loads = {index(r.name): r.outstanding_attempts for r in backend.replicas("p2c")}
                [picked] = await held(backend, "p2c", [""], stack)
                others = [load for i, load in loads.items() if i != picked]
                assert loads[picked] <= max(others), (picked, loads)
                chosen[picked] += 1
        assert set(chosen) == {0, 1, 2, 3}
        assert max(chosen.values()) - min(chosen.values()) <= 6  # two choices keep it even

    run(ray_namespace, body)


def test_least_latency_sends_attempts_to_the_fast_replica(ray_namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        spec = uneven("ll", 2, S.LEAST_LATENCY, seconds=0.05, slow_factor=5.0)
        await backend.deploy(spec)
        # Both unknown: the first index; then the replica with no latency yet; then the fast.
        assert await sequential(backend, "ll", 8) == [0, 1, 1, 1, 1, 1, 1, 1]
        fast, slow = sorted(backend.replicas("ll"), key=lambda r: r.name, reverse=True)
        assert fast.latency_p50_s is not None and slow.latency_p50_s is not None
        assert slow.latency_p50_s > 3 * fast.latency_p50_s
        # Under load the fast one takes attempts while its latency x load stays lower.
        async with contextlib.AsyncExitStack() as stack:
            assert await held(backend, "ll", [""] * 3, stack) == [1, 1, 1]

    run(ray_namespace, body)


def test_consistent_hash_keeps_keys_on_their_replica_and_spills_a_hot_key(
    ray_namespace: str,
) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(uneven("ch", 4, S.CONSISTENT_HASH, hash_key="${input.k}"))
        homes = {}
        for key in [f"user-{i}" for i in range(12)]:
            places = await sequential(backend, "ch", 3, key)
            assert len(set(places)) == 1, (key, places)
            homes[key] = places[0]
        assert len(set(homes.values())) >= 3
        # One hot key held four times. The bound is ceil(1.25 x (held + 1) / 4): 1 for the
        # second and third lease (each moves on along the ring), 2 for the fourth (home again).
        async with contextlib.AsyncExitStack() as stack:
            spread = await held(backend, "ch", ["hot"] * 4, stack)
        home = (await sequential(backend, "ch", 1, "hot"))[0]
        assert spread[0] == home and spread[3] == home
        assert len(set(spread[:3])) == 3

    run(ray_namespace, body)


def test_consistent_hash_routes_tasks_by_their_input_through_the_engine(
    server: ServerThread,
) -> None:
    users = ["alpha", "beta", "gamma", "alpha", "beta", "gamma", "alpha"]
    tasks = "\n".join(
        f"  - {{id: t{i}, agent: sticky, input: {{user: {u}}}"
        + (f", depends_on: [t{i - 1}]}}" if i else "}")
        for i, u in enumerate(users)
    )
    with OrchestratorClient(server.address, timeout_s=30) as client:
        client.deploy_agent(uneven("sticky", 3, S.CONSISTENT_HASH, hash_key="${input.user}"))
        client.create_workflow(f"name: affinity\ntasks:\n{tasks}\n")
        done = client.start_execution("affinity").result(timeout=60)
        assert done.status is ExecutionStatus.SUCCEEDED, done.error
        by_user: dict[str, set[str]] = collections.defaultdict(set)
        for i, user in enumerate(users):
            [attempt] = done.tasks[f"t{i}"].attempts
            by_user[user].add(attempt.replica)
            assert done.tasks[f"t{i}"].output == {"replica": attempt.replica}
        assert all(len(replicas) == 1 for replicas in by_user.values()), by_user
        shown = client.get_agent("sticky").record.spec.load_balancing
        assert shown.strategy is S.CONSISTENT_HASH and shown.hash_key == "${input.user}"
