"""The rows a user would otherwise write: plain `@ray.remote` actors called directly, and the
project's replica actor called the same way (so the wrapper's own cost shows on its own).

Every row runs on actors created with `num_cpus=0` in the caller's Ray; the callers below are
synchronous (the driver submits, then `ray.get`s), as a hand-rolled Ray script would be.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray

from bench.stats import rate


class BareSync:
    """A plain actor whose execute returns its input."""

    def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input


class BareAsync:
    """The same with `async def execute` (Ray runs it on the actor's event loop)."""

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        return input


@dataclass(frozen=True)
class CallRate:
    calls: int
    seconds: float

    @property
    def per_s(self) -> float:
        return rate(self.calls, self.seconds)

    @property
    def ms_per_call(self) -> float:
        return self.seconds * 1000 / self.calls


def context_for(i: int) -> dict[str, Any]:
    """The context the control plane passes with an attempt, built the same for every row."""
    return {"execution_id": "direct", "task_id": f"t{i}", "attempt": 1, "agent_version": "v1"}


def bare_actors(kind: str, count: int, max_concurrency: int = 1) -> list[Any]:
    cls: type = BareSync if kind == "sync" else BareAsync
    remote: Any = ray.remote(cls)
    handles = [
        remote.options(num_cpus=0, max_concurrency=max_concurrency).remote() for _ in range(count)
    ]
    ray.get([h.execute.remote(None, context_for(0)) for h in handles])
    return handles


def replica_actors(import_path: str, count: int, max_concurrency: int) -> list[Any]:
    """The project's replica actor hosting `import_path`, as the control plane deploys it."""
    from ray_backend.replica_actor import AgentReplicaActor

    handles = [
        AgentReplicaActor.options(num_cpus=0, max_concurrency=max_concurrency).remote(
            import_path, {}, agent="bench", version="v1", max_concurrency=max_concurrency
        )
        for _ in range(count)
    ]
    for envelope in ray.get([h.execute.remote(None, context_for(0)) for h in handles]):
        if not envelope.get("ok"):
            raise RuntimeError(f"replica warm-up failed: {envelope!r}")
    return handles


def pipelined(handles: Sequence[Any], calls: int, *, envelope: bool = False) -> CallRate:
    """`calls` calls submitted round-robin at once, then one `ray.get` of all of them."""
    started = time.perf_counter()
    refs = [
        handles[i % len(handles)].execute.remote({"n": i}, context_for(i)) for i in range(calls)
    ]
    results = ray.get(refs)
    seconds = time.perf_counter() - started
    if envelope and not all(r.get("ok") for r in results):
        raise RuntimeError("a replica call failed")
    return CallRate(calls, seconds)


def chained(handle: Any, calls: int) -> CallRate:
    """`calls` blocking calls one after the other: each waits for the previous answer."""
    started = time.perf_counter()
    value: Any = {"n": 0}
    for i in range(calls):
        value = ray.get(handle.execute.remote(value, context_for(i)))
    return CallRate(calls, time.perf_counter() - started)


def kill(handles: Sequence[Any]) -> None:
    for handle in handles:
        ray.kill(handle)
