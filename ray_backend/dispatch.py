"""Attempts on replicas: a lease on a free slot of a usable replica (first come, first
served; which replica is the agent's load-balancing strategy's choice), and the call on it, with
the outcome as the engine records it and as the replica's circuit breaker and latency count it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from models.backend import (
    AgentUnavailable,
    AttemptOutcome,
    AttemptRequest,
    HeartbeatListener,
    NoUsableReplica,
    ReplicaLease,
)
from models.executions import ErrorInfo
from ray_backend.backend_state import BackendState
from ray_backend.breaker import Admission
from ray_backend.call_batches import CallBatches, CallStats
from ray_backend.health import ReplicaHealth, node_died
from ray_backend.heartbeat_relay import HeartbeatRelay
from ray_backend.replica_actor import (
    ERROR_MESSAGE,
    ERROR_RETRYABLE,
    ERROR_TRACEBACK,
    ERROR_TYPE,
    OK,
    OUTPUT,
    PENDING,
    RETRY_AFTER_S,
)
from ray_backend.replica_conditions import ReplicaConditions
from ray_backend.replica_set import Replica, ReplicaSet

REPLICA_CRASHED = "ReplicaCrashed"
NODE_LOST = "NodeLost"
# How Ray words an actor's death that came with its node's.
NODE_DIED_BY_RAY = "because its node has died"
# How it words every other cause it knows (the worker process died, a kill, the owner died).
OTHER_DEATH_BY_RAY = "The actor is dead because"
# How long an actor's death waits for Ray to declare its node dead, and how often it looks.
NODE_DEATH_WAIT_S = 2.0
NODE_DEATH_POLL_S = 0.25


class ReplicaDispatch:
    """Leases replicas of deployed agents and runs attempts on them."""

    def __init__(
        self,
        state: BackendState,
        health: ReplicaHealth,
        heartbeats: HeartbeatRelay,
        conditions: ReplicaConditions,
    ) -> None:
        self._state = state
        self._health = health
        self.heartbeats = heartbeats
        self._conditions = conditions
        # The breaker's admission of each leased attempt, by the lease object's id (the lease
        # object lives until its attempt ends, so the id is not reused meanwhile).
        self._admissions: dict[int, Admission] = {}
        self._batches = CallBatches()

    def lease(
        self,
        agent: str,
        nodes: frozenset[str] | None = None,
        *,
        routing_key: str = "",
        unusable_timeout_s: float | None = None,
        avoid_version: str = "",
    ) -> contextlib.AbstractAsyncContextManager[ReplicaLease]:
        return self._lease(agent, nodes, routing_key, unusable_timeout_s, avoid_version)

    @contextlib.asynccontextmanager
    async def _lease(
        self,
        agent: str,
        nodes: frozenset[str] | None,
        routing_key: str,
        unusable_timeout_s: float | None,
        avoid_version: str,
    ) -> AsyncIterator[ReplicaLease]:
        rs = self._state.sets.get(agent)
        if rs is None or rs.removing:
            raise AgentUnavailable(f"agent {agent!r} is not deployed")
        rs.waiting += 1
        try:
            replica = await self._wait_for_replica(
                rs, nodes, routing_key, unusable_timeout_s, avoid_version
            )
        finally:
            rs.waiting -= 1
        admission, moved = replica.breaker.admit(rs.clock(), rs.spec.circuit_breaker)
        if moved is not None:
            self._conditions.breaker_moved(rs, replica, moved)
        replica.outstanding += 1
        lease = ReplicaLease(agent=agent, replica=replica.name, agent_version=replica.version)
        self._admissions[id(lease)] = admission
        try:
            yield lease
        finally:
            self._admissions.pop(id(lease), None)
            replica.breaker.release(admission)
            replica.outstanding -= 1
            rs.slot_freed()

    async def _wait_for_replica(
        self,
        rs: ReplicaSet,
        nodes: frozenset[str] | None,
        routing_key: str,
        unusable_timeout_s: float | None,
        avoid_version: str,
    ) -> Replica:
        """Waits for a usable replica with a free slot. While no replica is usable at all, the
        wait counts against `unusable_timeout_s` (a wait for a busy slot is only a queue)."""
        agent = rs.agent
        woken = False
        blocked_s = 0.0
        while True:
            if rs.removing or self._state.sets.get(agent) is not rs:
                raise AgentUnavailable(f"agent {agent!r} was removed")
            waiter: Awaitable[None]
            if nodes is not None:
                # Placed by the dispatcher: only a replica on those nodes will do, so wait
                # for any change rather than a place in the FIFO (whose slot may be
                # elsewhere).
                replica = rs.pick(nodes, routing_key, avoid_version)
                if replica is not None:
                    return replica
                waiter = rs.wait_changed()
            else:
                # A newcomer does not overtake leases already queued (first come, first served).
                replica = (
                    rs.pick(None, routing_key, avoid_version)
                    if woken or not rs.has_slot_waiters
                    else None
                )
                if replica is not None:
                    return replica
                waiter = rs.wait_for_slot(front=woken)
                woken = True
            why = rs.unusable_reason(nodes) if unusable_timeout_s is not None else ""
            if not why or unusable_timeout_s is None:
                await waiter
                continue
            started = time.monotonic()
            try:
                await asyncio.wait_for(waiter, max(unusable_timeout_s - blocked_s, 0.0))
            except TimeoutError:
                raise NoUsableReplica(
                    f"waited {unusable_timeout_s:g}s (the task's timeout) for a usable replica: "
                    f"{rs.unusable_reason(nodes) or why}"
                ) from None
            finally:
                blocked_s += time.monotonic() - started

    @property
    def call_stats(self) -> CallStats:
        """Ray calls made for attempts so far, and the attempts they carried."""
        return self._batches.stats

    def queue_depth(self, agent: str) -> int:
        """Leases waiting for a free slot of `agent`."""
        rs = self._state.sets.get(agent)
        return rs.waiting if rs is not None else 0

    def waiting_reason(self, agent: str) -> str:
        """Why leases of `agent` wait beyond a queue for a slot ("" if they do not)."""
        rs = self._state.sets.get(agent)
        if rs is None:
            return f"agent {agent!r} is not deployed"
        return rs.unusable_reason()

    async def invoke(
        self,
        lease: ReplicaLease,
        request: AttemptRequest,
        on_heartbeat: HeartbeatListener | None = None,
    ) -> AttemptOutcome:
        rs = self._state.sets.get(lease.agent)
        replica = rs.replicas.get(lease.replica) if rs is not None else None
        if rs is None or replica is None:
            return AttemptOutcome(
                ok=False,
                replica_crashed=True,
                error=ErrorInfo(REPLICA_CRASHED, f"replica {lease.replica} is gone"),
            )
        context = {
            "execution_id": request.execution_id,
            "task_id": request.task_id,
            "attempt": request.attempt,
            "agent_version": lease.agent_version,
            "replica": lease.replica,
            "last_heartbeat": request.last_heartbeat,
            "deadline": request.deadline,
        }
        metrics = self._state.metrics
        if metrics is not None:
            metrics.attempt_started(lease.agent)
        started = time.monotonic()
        key = (request.execution_id, request.task_id, request.attempt)

        async def answer(pending: Awaitable[Any]) -> Any:
            if on_heartbeat is None:
                return await pending
            return await self.heartbeats.relayed(
                pending, key, replica.name, replica.handle, on_heartbeat
            )

        call = self._batches.submit(replica.name, replica.handle, request.input, context)
        cancel: Callable[[], None] = call.cancel
        try:
            envelope = await answer(call.pending)
            while isinstance(envelope, dict) and PENDING in envelope:
                ref = replica.handle.wait.remote(envelope[PENDING], context)
                cancel = functools.partial(_cancel_ref, ref)
                envelope = await self._parked(rs, replica, answer(ref))
        except asyncio.CancelledError:
            cancel()  # the call on the replica too (whose agent hears of it by its cancel)
            raise
        except RayActorError as exc:
            node_lost = await _went_with_its_node(exc, replica)
            error = (
                ErrorInfo(
                    NODE_LOST,
                    f"replica {lease.replica} went down with its node "
                    f"{replica.node_id or '(unknown)'}: {_short(exc, 300)}",
                )
                if node_lost
                else ErrorInfo(REPLICA_CRASHED, f"replica {lease.replica} died: {_short(exc)}")
            )
            outcome = AttemptOutcome(
                ok=False, replica_crashed=True, node_lost=node_lost, error=error
            )
            self._health.on_replica_error(rs, replica)
        except RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            outcome = AttemptOutcome(ok=False, error=ErrorInfo(type(cause).__name__, _short(cause)))
        except RayError as exc:
            outcome = AttemptOutcome(ok=False, error=ErrorInfo(type(exc).__name__, _short(exc)))
        else:
            outcome = _outcome(envelope)
        duration = time.monotonic() - started
        if metrics is not None:
            metrics.attempt_finished(lease.agent, outcome.ok, duration)
        self._observe(rs, replica, lease, outcome, duration)
        return dataclasses.replace(outcome, duration_s=duration)

    def _observe(
        self,
        rs: ReplicaSet,
        replica: Replica,
        lease: ReplicaLease,
        outcome: AttemptOutcome,
        duration_s: float,
    ) -> None:
        """The outcome as the replica's latency, last error and circuit breaker count it."""
        if outcome.ok:
            replica.latency.observe(duration_s)
        elif outcome.error is not None:
            replica.failed(f"{outcome.error.type}: {outcome.error.message}")
        admission = self._admissions.get(id(lease))
        if admission is None:
            return  # invoked outside its lease: the breaker does not count it
        # An error no retry can cure is the request's fault: the replica answered as it should.
        served = outcome.ok or not outcome.retryable
        moved = replica.breaker.record(admission, served, rs.clock(), rs.spec.circuit_breaker)
        if moved is not None:
            self._conditions.breaker_moved(rs, replica, moved)

    @staticmethod
    async def _parked(rs: ReplicaSet, replica: Replica, waiting: Awaitable[Any]) -> Any:
        """Waits for an attempt the agent runs asynchronously; meanwhile its slot serves
        other attempts (the attempt still counts as outstanding, so a drain waits for it)."""
        replica.parked += 1
        rs.slot_freed()
        try:
            return await waiting
        finally:
            replica.parked -= 1


async def _went_with_its_node(error: RayActorError, replica: Replica) -> bool:
    """The actor died because its node did (Ray says so in the error, or lists the node dead),
    not because of what the attempt did. The actor's death can reach the caller just before
    Ray declares its node dead, so the node table is read a few times over a short while; a
    node Ray takes longer to declare dead than that counts as a crash (charged)."""
    text = str(error)
    if error.preempted or NODE_DIED_BY_RAY in text:
        return True
    if not replica.node_id or OTHER_DEATH_BY_RAY in text:
        return False  # Ray named another cause: the process, a kill, its owner
    deadline = time.monotonic() + NODE_DEATH_WAIT_S
    while not await node_died(replica):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(NODE_DEATH_POLL_S)
    return True


def _cancel_ref(ref: Any) -> None:
    with contextlib.suppress(Exception):
        ray.cancel(ref)


def _outcome(envelope: Any) -> AttemptOutcome:
    if not isinstance(envelope, dict):  # pragma: no cover - the actor always returns an envelope
        return AttemptOutcome(ok=True, output=envelope)
    if envelope.get(OK):
        return AttemptOutcome(ok=True, output=envelope.get(OUTPUT))
    retry_after = envelope.get(RETRY_AFTER_S)
    return AttemptOutcome(
        ok=False,
        error=ErrorInfo(
            str(envelope.get(ERROR_TYPE, "Exception")), str(envelope.get(ERROR_MESSAGE, ""))
        ),
        extra={"traceback": envelope[ERROR_TRACEBACK]} if ERROR_TRACEBACK in envelope else {},
        retryable=envelope.get(ERROR_RETRYABLE) is not False,
        retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


def _short(exc: BaseException, limit: int = 2000) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."
