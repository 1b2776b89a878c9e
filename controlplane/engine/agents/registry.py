"""Agent registry: the durable spec in the store, the live replicas in the backend."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace

from controlplane.engine import paging
from controlplane.ports import AgentBackend
from controlplane.store import SqliteStore
from controlplane.store.capacity import CapacityStore
from models.agents import (
    ROLLOUT_LIFECYCLE,
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentView,
    ReplicaInfo,
    ReplicaState,
    Rollout,
    RolloutPhase,
)
from models.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMPORT_PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MAX_REPLICAS = 1000


def validate_spec(spec: AgentSpec, prefix: str = "agent") -> list[FieldViolation]:
    problems: list[FieldViolation] = []

    def bad(field: str, why: str) -> None:
        problems.append(FieldViolation(f"{prefix}.{field}", why))

    if not NAME_RE.match(spec.name) or len(spec.name) > 63:
        bad(
            "name",
            "must be 1-63 lower-case letters, digits or '-', starting and ending alphanumeric",
        )
    if not spec.version or len(spec.version) > 63 or not re.match(r"^[\w.+-]+$", spec.version):
        bad("version", "must be 1-63 characters of letters, digits, '.', '_', '+' or '-'")
    if not IMPORT_PATH_RE.match(spec.import_path):
        bad("import_path", "must look like 'package.module:ClassName'")
    if not 0 <= spec.replicas <= MAX_REPLICAS:
        bad("replicas", f"must be between 0 and {MAX_REPLICAS}")
    if spec.max_concurrency < 1:
        bad("max_concurrency", "must be at least 1")
    res = spec.resources
    for field, value in (
        ("num_cpus", res.num_cpus),
        ("memory", res.memory),
        ("num_gpus", res.num_gpus),
    ):
        if value < 0:
            bad(f"resources.{field}", "must not be negative")
    for key, value in res.custom.items():
        if value < 0:
            bad(f"resources.custom[{key}]", "must not be negative")
    if spec.pool:
        if not NAME_RE.match(spec.pool) or len(spec.pool) > 63:
            bad("pool", "must name a resource pool: 1-63 lower-case letters, digits or '-'")
        elif not (res.num_cpus or res.memory or res.num_gpus or any(res.custom.values())):
            # A replica that asks for nothing draws nothing from the pool's placement group,
            # so the pool could not bound it.
            bad("resources", "a replica in a pool must request some resource")
    return problems


def agent_state(replicas: list[ReplicaInfo], desired: int) -> AgentState:
    ready = sum(1 for r in replicas if r.state is ReplicaState.READY)
    if ready >= desired:
        return AgentState.READY
    if any(r.state is ReplicaState.DEAD for r in replicas):
        return AgentState.DEGRADED
    return AgentState.DEPLOYING


def _advance(rollout: Rollout, phase: RolloutPhase) -> Rollout:
    advanced = ROLLOUT_LIFECYCLE.replaced(rollout, phase)
    log.info("agent %s version %s: %s", rollout.agent, rollout.version, phase.value)
    return advanced


class AgentManager:
    def __init__(
        self, store: SqliteStore, backend: AgentBackend, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._backend = backend
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def reconcile(self) -> None:
        """Re-attaches to live replicas of every stored agent and recreates missing ones."""
        for record in self._store.list_agents():
            try:
                await self._backend.deploy(record.spec)
            except Exception:
                log.exception("could not restore agent %s", record.spec.name)

    def pool_of(self, name: str) -> str:
        """The pool an agent's replicas run in ("" when none, or not deployed)."""
        record = self._store.get_agent(name)
        return record.spec.pool if record is not None else ""

    def max_concurrency(self, name: str) -> int:
        """Attempts one replica of the agent serves at once (1 when not deployed)."""
        record = self._store.get_agent(name)
        return record.spec.max_concurrency if record is not None else 1

    def names(self) -> set[str]:
        return {record.spec.name for record in self._store.list_agents()}

    async def deploy(self, spec: AgentSpec) -> AgentView:
        problems = validate_spec(spec)
        if problems:
            raise InvalidArgument("invalid agent spec", problems)
        if spec.pool and CapacityStore(self._store).get_pool(spec.pool) is None:
            raise FailedPrecondition(
                f"pool {spec.pool!r} does not exist",
                [FieldViolation("agent.pool", f"no resource pool named {spec.pool!r}")],
            )
        async with self._lock(spec.name):
            previous = self._store.get_agent(spec.name)
            now = self._clock()
            record = AgentRecord(spec, previous.create_time if previous else now, now)
            await asyncio.to_thread(self._store.put_agent, record)
            rollout = Rollout(spec.name, spec.version)
            try:
                await self._backend.deploy(spec)
            except Exception as exc:
                await self._roll_back(_advance(rollout, RolloutPhase.ROLLING_BACK), previous)
                raise FailedPrecondition(
                    f"agent {spec.name} {spec.version} failed to start: {exc}",
                    [FieldViolation("agent.import_path", str(exc))],
                ) from exc
            _advance(rollout, RolloutPhase.SERVING)
        return self.get(spec.name)

    async def _roll_back(self, rollout: Rollout, previous: AgentRecord | None) -> Rollout:
        name = rollout.agent
        if previous is None:
            await asyncio.to_thread(self._store.delete_agent, name)
            await self._backend.remove(name)
            return _advance(rollout, RolloutPhase.WITHDRAWN)
        await asyncio.to_thread(self._store.put_agent, previous)
        try:
            await self._backend.deploy(previous.spec)
        except Exception:
            log.exception("could not restore agent %s after a failed deploy", name)
        return _advance(rollout, RolloutPhase.ROLLED_BACK)

    def get(self, name: str) -> AgentView:
        record = self._store.get_agent(name)
        if record is None:
            raise NotFound(f"agent {name!r} not found", [FieldViolation("name", "no such agent")])
        return self._view(record)

    def _view(self, record: AgentRecord) -> AgentView:
        replicas = self._backend.replicas(record.spec.name)
        return AgentView(record, agent_state(replicas, record.spec.replicas), replicas)

    def list(self, page_size: int, page_token: str) -> tuple[list[AgentView], str]:
        size = paging.page_size(page_size)
        after = paging.decode(page_token, "agents") or ""
        records = self._store.list_agents(after_name=str(after), limit=size + 1)
        more = len(records) > size
        records = records[:size]
        token = paging.encode(records[-1].spec.name, "agents") if more else ""
        return [self._view(r) for r in records], token

    async def scale(self, name: str, replicas: int) -> AgentView:
        if not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidArgument(
                "invalid replica count",
                [FieldViolation("replicas", f"must be between 0 and {MAX_REPLICAS}")],
            )
        async with self._lock(name):
            record = self.get(name).record
            spec = replace(record.spec, replicas=replicas)
            await asyncio.to_thread(
                self._store.put_agent, AgentRecord(spec, record.create_time, self._clock())
            )
            await self._backend.scale(name, replicas)
        return self.get(name)

    async def delete(self, name: str) -> None:
        async with self._lock(name):
            self.get(name)
            await asyncio.to_thread(self._store.delete_agent, name)
            await self._backend.remove(name)
