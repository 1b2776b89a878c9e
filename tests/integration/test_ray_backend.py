"""RayAgentBackend against a real local Ray cluster (one cluster for the whole module)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import pathlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import ray

from models.agents import AgentSpec, ReplicaResources, ReplicaState
from models.backend import AgentUnavailable, AttemptRequest
from ray_backend import DeployError, RayAgentBackend, connect
from samples.agents import CodeGenAgent
from tests.support.backend_runs import run, until
from tests.support.construct_agents import read_calls

NO_CPU = ReplicaResources(num_cpus=0)


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    ns = f"itest-{uuid.uuid4().hex[:8]}"
    if ray.is_initialized():  # a local Ray left connected by the module before
        ray.shutdown()
    connect(None, namespace=ns, num_cpus=2, include_dashboard=False)
    try:
        yield ns
    finally:
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry["namespace"] == ns:
                with contextlib.suppress(ValueError):
                    ray.kill(ray.get_actor(entry["name"], namespace=ns))
        ray.shutdown()


def spec(name: str, cls: str, **kwargs: Any) -> AgentSpec:
    return AgentSpec(
        name=name,
        version=kwargs.pop("version", "v1"),
        import_path=f"samples.agents:{cls}",
        resources=NO_CPU,
        **kwargs,
    )


def request(attempt: int = 1, **input: Any) -> AttemptRequest:
    return AttemptRequest(execution_id="exec-1", task_id="task-1", attempt=attempt, input=input)


async def named_replicas(namespace: str, agent: str) -> set[str]:
    entries = await asyncio.to_thread(ray.util.list_named_actors, all_namespaces=True)
    return {
        e["name"]
        for e in entries
        if e["namespace"] == namespace and e["name"].startswith(agent + "/")
    }


def test_deploy_and_invoke_codegen(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("codegen", "CodeGenAgent", config={"language": "go"}))
        [info] = backend.replicas("codegen")
        assert info.state is ReplicaState.READY
        assert info.version == "v1" and info.node_id
        payload: dict[str, Any] = {"kind": "api", "spec": "users"}
        async with backend.lease("codegen") as lease:
            assert lease.replica == info.name and lease.agent_version == "v1"
            outcome = await backend.invoke(lease, request(**payload))
        assert outcome.ok, outcome.error
        assert outcome.output == CodeGenAgent(language="go").execute(payload, {})
        assert outcome.duration_s > 0
        assert backend.replicas("codegen")[0].outstanding_attempts == 0

    run(namespace, body)


def test_agent_errors_become_error_info(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("failing", "FailingAgent"))
        await backend.deploy(spec("flaky", "FlakyAgent", config={"fail_times": 1}))
        async with backend.lease("failing") as lease:
            outcome = await backend.invoke(lease, request(x=1))
        assert not outcome.ok and not outcome.replica_crashed
        assert outcome.error is not None and outcome.error.type == "ValueError"
        assert "bad input" in outcome.error.message
        async with backend.lease("flaky") as lease:
            first = await backend.invoke(lease, request(attempt=1))
            second = await backend.invoke(lease, request(attempt=2))
        assert first.error is not None and first.error.type == "RuntimeError"
        assert second.ok and second.output == {"ok": True, "attempts_needed": 2}

    run(namespace, body)


def test_unknown_agent_and_bad_import_path(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        with pytest.raises(AgentUnavailable):
            async with backend.lease("nobody"):
                pass
        with pytest.raises(DeployError):
            await backend.deploy(spec("broken", "NoSuchAgent"))
        assert await named_replicas(namespace, "broken") == set()

    run(namespace, body)


def test_least_outstanding_dispatch_respects_max_concurrency(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("sleeper", "SleeperAgent", replicas=2, max_concurrency=2))
        leased: list[str] = []
        finished: list[str] = []
        release = asyncio.Event()

        async def attempt() -> None:
            async with backend.lease("sleeper") as lease:
                leased.append(lease.replica)
                outcome = await backend.invoke(lease, request(seconds=0.5))
                assert outcome.ok, outcome.error
                finished.append(lease.replica)
                await release.wait()

        tasks = [asyncio.create_task(attempt()) for _ in range(5)]
        await until(
            lambda: len(leased) == 4 and backend.queue_depth("sleeper") == 1,
            what="4 leases and 1 waiter",
        )
        counts = collections.Counter(leased)
        assert sorted(counts.values()) == [2, 2], counts
        assert [r.outstanding_attempts for r in backend.replicas("sleeper")] == [2, 2]
        await until(lambda: len(finished) == 4, what="4 attempts finished")
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert len(leased) == 5
        assert backend.queue_depth("sleeper") == 0

    run(namespace, body)


def test_crashed_replica_restarts_and_serves_again(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("crasher", "CrashAgent"))
        async with backend.lease("crasher") as lease:
            crashed = await backend.invoke(lease, request(attempt=1))
        assert not crashed.ok and crashed.replica_crashed
        assert crashed.error is not None and crashed.error.type == "ReplicaCrashed"
        await until(
            lambda: (
                [(r.state, r.restarts) for r in backend.replicas("crasher")]
                == [(ReplicaState.READY, 1)]
            ),
            what="replica READY after one restart",
        )
        async with backend.lease("crasher") as lease:
            recovered = await backend.invoke(lease, request(attempt=2))
        assert recovered.ok and recovered.output == {"ok": True, "survived_after": 1}

    run(namespace, body)


def test_cancelling_invoke_cancels_attempt_on_replica(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("canceller", "SleeperAgent", max_concurrency=1))

        async def long_attempt() -> None:
            async with backend.lease("canceller") as lease:
                await backend.invoke(lease, request(seconds=60))

        task = asyncio.create_task(long_attempt())
        await until(lambda: backend.replicas("canceller")[0].outstanding_attempts == 1)
        await asyncio.sleep(0.3)  # let the attempt start on the replica
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert backend.replicas("canceller")[0].outstanding_attempts == 0
        # The actor has one slot: this only finishes quickly if the 60 s sleep was cancelled.
        async with backend.lease("canceller") as lease:
            outcome = await asyncio.wait_for(backend.invoke(lease, request(seconds=0)), 15)
        assert outcome.ok and outcome.output == {"slept": 0.0}

    run(namespace, body)


def test_new_version_drains_old_replicas_without_dropping_attempts(
    namespace: str, tmp_path: pathlib.Path
) -> None:
    gate = tmp_path / "gate"

    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("roller", "SleeperAgent", version="v1"))
        [old] = backend.replicas("roller")
        leased = asyncio.Event()

        async def in_flight() -> Any:
            async with backend.lease("roller") as lease:
                assert lease.agent_version == "v1"
                leased.set()
                return await backend.invoke(lease, request(seconds=120, until_file=str(gate)))

        task = asyncio.create_task(in_flight())
        await asyncio.wait_for(leased.wait(), 10)
        await backend.deploy(spec("roller", "SleeperAgent", version="v2"))
        states = {r.version: r.state for r in backend.replicas("roller")}
        assert states == {"v1": ReplicaState.DRAINING, "v2": ReplicaState.READY}
        async with backend.lease("roller") as lease:
            assert lease.agent_version == "v2"
        assert not task.done()
        gate.touch()  # let the in-flight v1 attempt finish
        outcome = await asyncio.wait_for(task, 30)
        assert outcome.ok and outcome.output == {"gate": str(gate), "opened": True}
        await until(
            lambda: [r.version for r in backend.replicas("roller")] == ["v2"],
            what="only v2 replicas",
        )
        # ray.kill is asynchronous: the name is released once the GCS marks the actor dead.
        deadline = time.monotonic() + 20
        while (names := await named_replicas(namespace, "roller")) != {
            r.name for r in backend.replicas("roller")
        }:
            assert time.monotonic() < deadline, names
            await asyncio.sleep(0.05)
        assert old.name not in names

    run(namespace, body)


def test_scale_and_remove(namespace: str) -> None:
    async def body(backend: RayAgentBackend) -> None:
        await backend.deploy(spec("scaled", "SleeperAgent"))
        await backend.scale("scaled", 2)
        assert [r.state for r in backend.replicas("scaled")] == [ReplicaState.READY] * 2
        await backend.scale("scaled", 1)
        await until(lambda: len(backend.replicas("scaled")) == 1, what="scale down")
        assert backend.replicas("scaled")[0].name.endswith("/0")
        await backend.scale("scaled", 2)  # reuses the released name of replica 1
        assert [r.state for r in backend.replicas("scaled")] == [ReplicaState.READY] * 2
        await backend.scale("scaled", 1)
        await until(lambda: len(backend.replicas("scaled")) == 1, what="scale down again")

        holding = asyncio.Event()

        async def hold() -> Any:
            async with backend.lease("scaled") as lease:
                holding.set()
                return await backend.invoke(lease, request(seconds=0.5))

        async def wait_for_slot() -> None:
            async with backend.lease("scaled"):
                pass

        holder = asyncio.create_task(hold())
        await asyncio.wait_for(holding.wait(), 10)
        waiter = asyncio.create_task(wait_for_slot())
        await until(lambda: backend.queue_depth("scaled") == 1)
        await backend.remove("scaled")
        outcome = await holder  # the in-flight attempt finished before the kill
        assert outcome.ok
        with pytest.raises(AgentUnavailable):
            await waiter
        assert backend.replicas("scaled") == []
        assert await named_replicas(namespace, "scaled") == set()
        with pytest.raises(AgentUnavailable):
            async with backend.lease("scaled"):
                pass

    run(namespace, body)


def test_second_backend_reattaches_to_live_replicas(namespace: str) -> None:
    agent_spec = spec("echo", "EchoAgent", replicas=2, max_concurrency=4)

    async def pids() -> dict[str, int]:
        result = {}
        for name in sorted(await named_replicas(namespace, "echo")):
            handle = await asyncio.to_thread(ray.get_actor, name, namespace=namespace)
            result[name] = (await handle.info.remote())["pid"]
        return result

    async def main() -> None:
        first = RayAgentBackend(namespace=namespace)
        await first.start()
        await first.deploy(agent_spec)
        before = await pids()
        assert len(before) == 2
        await first.shutdown()  # detaches; replicas keep running

        second = RayAgentBackend(namespace=namespace)
        await second.start()
        try:
            await second.deploy(agent_spec)
            assert {r.name for r in second.replicas("echo")} == set(before)
            assert await pids() == before
            async with second.lease("echo") as lease:
                outcome = await second.invoke(lease, request(value=42))
            assert outcome.ok and outcome.output == {"value": 42}
        finally:
            await second.destroy_all()
            await second.shutdown()
        assert await named_replicas(namespace, "echo") == set()

    asyncio.run(main())


def _worker(name: str, calls_file: pathlib.Path, max_concurrency: int) -> AgentSpec:
    return AgentSpec(
        name=name,
        version="v1",
        import_path="tests.support.construct_agents:Worker",
        resources=NO_CPU,
        max_concurrency=max_concurrency,
        config={"calls_file": str(calls_file)},
    )


async def gated_attempt(
    backend: RayAgentBackend, agent: str, execution_id: str, task_id: str, gate: pathlib.Path
) -> Any:
    """One attempt of a Worker that answers once `gate` exists."""
    async with backend.lease(agent) as lease:
        request = AttemptRequest(execution_id, task_id, 1, {"until_file": str(gate)})
        return await backend.invoke(lease, request)


async def started_together(
    backend: RayAgentBackend, agent: str, calls: pathlib.Path, gate: pathlib.Path, tasks: str
) -> tuple[list[asyncio.Task[Any]], int]:
    """Deploys a Worker `agent` (one replica, 4 slots), starts a gated attempt of each task
    (one letter each, execution `exec-{agent}`) in the same turn of the loop, and waits until
    all run on the replica: returns them and the Ray calls they took."""
    await backend.deploy(_worker(agent, calls, max_concurrency=4))
    before = backend.call_stats()
    execution_id = f"exec-{agent}"
    attempts = [
        asyncio.create_task(gated_attempt(backend, agent, execution_id, task_id, gate))
        for task_id in tasks
    ]
    running = lambda: len(read_calls(str(calls), execution_id)) == len(tasks)  # noqa: E731
    await until(running, what=f"{len(tasks)} attempts running")
    after = backend.call_stats()
    assert after.attempts - before.attempts == len(tasks)
    return attempts, after.calls - before.calls


def test_attempts_started_together_share_one_call_and_are_cancelled_alone(
    namespace: str, tmp_path: pathlib.Path
) -> None:
    calls, gate = tmp_path / "calls", tmp_path / "gate"

    async def body(backend: RayAgentBackend) -> None:
        # The first goes out at once, the other three follow in one call.
        attempts, ray_calls = await started_together(backend, "batched", calls, gate, "abcd")
        assert ray_calls == 2

        attempts[2].cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempts[2]
        # Only the cancelled attempt stops on the replica; its neighbours go on.
        cancelled = lambda: read_calls(str(calls), "exec-batched", "cancelled")  # noqa: E731
        await until(lambda: cancelled() == ["c"], what="c cancelled")
        gate.touch()
        outcomes = await asyncio.wait_for(asyncio.gather(*attempts[:2], attempts[3]), 30)
        assert [o.output for o in outcomes] == [{"until_file": str(gate)}] * 3
        assert cancelled() == ["c"]

    run(namespace, body)


def test_a_replica_dying_fails_every_attempt_of_its_batch(
    namespace: str, tmp_path: pathlib.Path
) -> None:
    calls, gate = tmp_path / "calls", tmp_path / "gate"

    async def body(backend: RayAgentBackend) -> None:
        attempts, ray_calls = await started_together(backend, "doomed", calls, gate, "abc")
        assert ray_calls == 2  # a alone, b and c together
        [replica] = await named_replicas(namespace, "doomed")
        ray.kill(ray.get_actor(replica, namespace=namespace), no_restart=True)
        outcomes = await asyncio.wait_for(asyncio.gather(*attempts), 60)
        assert all(not o.ok and o.replica_crashed for o in outcomes), outcomes
        assert {o.error.type for o in outcomes if o.error is not None} == {"ReplicaCrashed"}

    run(namespace, body)
