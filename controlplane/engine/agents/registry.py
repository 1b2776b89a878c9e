"""Agent registry: the durable spec in the store, the live replicas in the backend."""

from __future__ import annotations

import asyncio
import builtins
import logging
import math
import re
from collections.abc import Callable
from dataclasses import replace

from controlplane.engine import paging
from controlplane.engine.agents.endpoints import endpoint_problems
from controlplane.engine.agents.node_fit import fits_nowhere_message, impossible_demands
from controlplane.engine.agents.packages import PackageService, code_location_problems
from controlplane.engine.agents.replica_health import replica_health_problems
from controlplane.engine.agents.rollout_plan import strategy_problems
from controlplane.engine.agents.rollouts import RolloutListener, Rollouts, no_listener
from controlplane.engine.agents.start_failures import FailedStart, StartFailures, start_failure
from controlplane.engine.agents.versions import AgentVersions
from controlplane.ports import AgentBackend
from controlplane.store import SqliteStore
from controlplane.store.agent_keys import in_namespace
from controlplane.store.capacity import CapacityStore
from controlplane.workflow.routing_keys import routing_key
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentVersion,
    AgentView,
    ReplicaInfo,
    ReplicaResources,
    ReplicaState,
    RolloutStrategy,
    StartFailure,
)
from models.backend import ReplicaStartError
from models.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from models.namespaces import split_qualified
from models.replica_health import BreakerState, HealthStatus
from models.security import DEFAULT_NAMESPACE

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMPORT_PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
MAX_REPLICAS = 1000
# Ray's own resources, requested through num_cpus, num_gpus and memory (Ray refuses them as
# custom resources).
RAY_BUILTIN_RESOURCES = frozenset({"CPU", "GPU", "memory", "object_store_memory"})


def validate_spec(spec: AgentSpec, prefix: str = "agent") -> list[FieldViolation]:
    problems: list[FieldViolation] = []

    def bad(field: str, why: str) -> None:
        problems.append(FieldViolation(f"{prefix}.{field}", why))

    name = split_qualified(spec.name)[1]  # spec.name is the agent's key
    if not NAME_RE.match(name) or len(name) > 63:
        bad(
            "name",
            "must be 1-63 lower-case letters, digits or '-', starting and ending alphanumeric",
        )
    if not spec.version or len(spec.version) > 63 or not re.match(r"^[\w.+-]+$", spec.version):
        bad("version", "must be 1-63 characters of letters, digits, '.', '_', '+' or '-'")
    if spec.import_path and spec.endpoint:
        bad("endpoint", "give either import_path or endpoint, not both")
    elif not spec.import_path and not spec.endpoint:
        bad("import_path", "one of import_path (a Python class) and endpoint is required")
    elif spec.import_path and not IMPORT_PATH_RE.match(spec.import_path):
        bad("import_path", "must look like 'package.module:ClassName'")
    for where, problem in endpoint_problems(spec):
        bad(where, problem)
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
        if (why := _amount_problem(value)) is not None:
            bad(f"resources.{field}", why)
    for key, value in res.custom.items():
        if key in RAY_BUILTIN_RESOURCES:
            bad(f"resources.custom[{key}]", "is one of Ray's own: use num_cpus, num_gpus or memory")
        elif (why := _amount_problem(value)) is not None:
            bad(f"resources.custom[{key}]", why)
    if spec.pool:
        if not NAME_RE.match(spec.pool) or len(spec.pool) > 63:
            bad("pool", "must name a resource pool: 1-63 lower-case letters, digits or '-'")
        elif not (res.num_cpus or res.memory or res.num_gpus or any(res.custom.values())):
            # A replica that asks for nothing draws nothing from the pool's placement group,
            # so the pool could not bound it.
            bad("resources", "a replica in a pool must request some resource")
    problems.extend(replica_health_problems(spec, prefix))
    problems.extend(code_location_problems(spec.runtime_env, prefix))
    return problems


def _amount_problem(value: float) -> str | None:
    if not math.isfinite(value):
        return f"must be a finite number, not {value}"
    if value < 0:
        return "must not be negative"
    return None


def agent_state(replicas: list[ReplicaInfo], desired: int) -> AgentState:
    ready = sum(1 for r in replicas if r.state is ReplicaState.READY)
    if ready >= desired:
        # A ready replica that is unhealthy or circuit-broken takes no (or only probe) attempts.
        if any(
            r.state is ReplicaState.READY
            and (r.health is not HealthStatus.HEALTHY or r.breaker is not BreakerState.CLOSED)
            for r in replicas
        ):
            return AgentState.DEGRADED
        return AgentState.READY
    if any(r.state is ReplicaState.DEAD for r in replicas):
        return AgentState.DEGRADED
    return AgentState.DEPLOYING


class AgentManager:
    def __init__(
        self,
        store: SqliteStore,
        backend: AgentBackend,
        clock: Callable[[], float],
        packages: PackageService | None = None,
        on_rollout_event: RolloutListener = no_listener,
    ) -> None:
        """`on_rollout_event` hears each rollout step once applied, and each rollout's end."""
        self._store = store
        self._backend = backend
        self._clock = clock
        self._packages = packages
        self._locks: dict[str, asyncio.Lock] = {}
        self._failures = StartFailures()
        self.versions = AgentVersions(store, clock)
        self.rollouts = Rollouts(
            store,
            backend,
            self.versions,
            clock,
            self._lock,
            self._failed_in_rollout,
            on_event=on_rollout_event,
        )

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _failed_in_rollout(self, spec: AgentSpec, exc: BaseException) -> None:
        self._failures.record(
            spec.name, FailedStart(start_failure(spec.version, exc, self._clock()))
        )

    async def reconcile(self) -> None:
        """Re-attaches to live replicas of every stored agent and recreates missing ones;
        rollouts in progress go on from the step they had reached."""
        for record in self._store.list_agents():
            spec = record.spec
            rollout = self.rollouts.active(spec.name)
            if rollout is not None:
                await self.rollouts.resume(rollout)
                continue
            try:
                await self._backend.deploy(spec)
            except Exception as exc:
                failure = start_failure(spec.version, exc, self._clock())
                self._failures.record(spec.name, FailedStart(failure))
                log.warning("could not restore agent %s: %s", spec.name, failure.summary)
            await self.versions.known(spec)

    async def stop(self) -> None:
        await self.rollouts.stop()

    def pool_of(self, name: str) -> str:
        """The pool an agent's replicas run in ("" when none, or not deployed)."""
        record = self._store.get_agent(name)
        return record.spec.pool if record is not None else ""

    def routing_key(self, name: str, task_input: object) -> str:
        """What the agent's consistent_hash strategy hashes for this input ("" for none)."""
        record = self._store.get_agent(name)
        if record is None or not record.spec.load_balancing.hash_key:
            return ""
        return routing_key(record.spec.load_balancing.hash_key, task_input)

    def max_concurrency(self, name: str) -> int:
        """Attempts one replica of the agent serves at once (1 when not deployed)."""
        record = self._store.get_agent(name)
        return record.spec.max_concurrency if record is not None else 1

    def names(self) -> set[str]:
        """The key of every stored agent (see models.namespaces.qualified_name)."""
        return {record.spec.name for record in self._store.list_agents()}

    async def deploy(self, spec: AgentSpec, strategy: RolloutStrategy | None = None) -> AgentView:
        """Stores `spec` and rolls it out by `strategy` (rolling by default): a rolling update
        ends before this returns; blue-green and canary rollouts go on in the background
        after their first step (GetAgent shows where they stand)."""
        strategy = strategy or RolloutStrategy()
        problems = validate_spec(spec)
        if problems:
            raise InvalidArgument("invalid agent spec", problems)
        missing = self._packages.missing(spec) if self._packages is not None else []
        if missing:
            raise FailedPrecondition(f"{missing[0].field}: {missing[0].description}", missing)
        if spec.pool and CapacityStore(self._store).get_pool(spec.pool) is None:
            raise FailedPrecondition(
                f"pool {spec.pool!r} does not exist",
                [FieldViolation("agent.pool", f"no resource pool named {spec.pool!r}")],
            )
        if spec.replicas > 0:
            await self._check_fits(spec.name, spec.resources)
        async with self._lock(spec.name):
            self._refuse_during_rollout(spec.name, "deploy")
            previous = self._store.get_agent(spec.name)
            stable = previous.spec if previous is not None else None
            problems = strategy_problems(strategy, spec, stable)
            if problems:
                raise InvalidArgument("invalid rollout strategy", problems)
            now = self._clock()
            record = AgentRecord(spec, previous.create_time if previous else now, now)
            await asyncio.to_thread(self._store.put_agent, record)
            try:
                await self.rollouts.begin(stable, spec, strategy)
            except Exception as exc:
                failure = start_failure(spec.version, exc, self._clock())
                if previous is None:
                    await self._withdraw(spec.name)
                self._failures.record(
                    spec.name, FailedStart(failure, spec if previous is None else None)
                )
                raise _start_refused(spec.name, failure, exc) from exc
            self._failures.forget(spec.name)
        return self.get(spec.name)

    def _refuse_during_rollout(self, name: str, what: str) -> None:
        rollout = self.rollouts.active(name)
        if rollout is not None:
            why = (
                f"agent {name!r} is rolling out version {rollout.new.version} "
                f"({rollout.message}); wait for it to end or roll it back before a {what}"
            )
            raise FailedPrecondition(why, [FieldViolation("name", "a rollout is in progress")])

    async def _withdraw(self, name: str) -> None:
        """A first deploy failed: nothing of the agent is kept or left running."""
        await asyncio.to_thread(self._store.delete_agent, name)
        try:
            await self._backend.remove(name)
        except Exception:
            log.exception("could not remove the replicas of agent %s", name)

    async def _check_fits(self, name: str, resources: ReplicaResources) -> None:
        """FailedPrecondition when no node of the cluster, as it is now, can hold a replica."""
        try:
            nodes = await self._backend.observe_nodes()
        except Exception:
            log.warning("could not observe the cluster's nodes", exc_info=True)
            return
        problems = impossible_demands(resources, nodes)
        if problems:
            raise FailedPrecondition(fits_nowhere_message(name, problems), problems)

    def get(self, name: str) -> AgentView:
        """A stored agent (NotFound otherwise)."""
        record = self._store.get_agent(name)
        if record is None:
            raise NotFound(f"agent {name!r} not found", [FieldViolation("name", "no such agent")])
        return self._view(record)

    def show(self, name: str) -> AgentView:
        """The agent as clients see it: a stored one, or one whose first deploy failed (FAILED,
        nothing running) until it is deployed again or deleted."""
        entry = self._failures.get(name)
        stored = self._store.get_agent(name)
        if stored is None and entry is not None and entry.withdrawn is not None:
            return _withdrawn_view(entry.withdrawn, entry.failure)
        return self.get(name)

    def _view(self, record: AgentRecord) -> AgentView:
        replicas = self._backend.replicas(record.spec.name)
        entry = self._failures.get(record.spec.name)
        return AgentView(
            record,
            agent_state(replicas, record.spec.replicas),
            replicas,
            entry.failure if entry is not None else None,
            self.rollouts.latest(record.spec.name),
        )

    def list(
        self, page_size: int, page_token: str, namespace: str = DEFAULT_NAMESPACE
    ) -> tuple[list[AgentView], str]:
        """The stored agents of `namespace` (`*`: of every one) and those whose first deploy
        failed, by key."""
        size = paging.page_size(page_size)
        query = "agents" if namespace == DEFAULT_NAMESPACE else {"agents": namespace}
        after = str(paging.decode(page_token, query) or "")
        records = self._store.list_agents(after_name=after, limit=size + 1, namespace=namespace)
        views = [self._view(r) for r in records]
        stored = {r.spec.name for r in records}
        withdrawn = [s for s in self._failures.withdrawn(after) if in_namespace(s.name, namespace)]
        for spec in withdrawn[: size + 1]:
            entry = self._failures.get(spec.name)
            if spec.name not in stored and entry is not None:
                views.append(_withdrawn_view(spec, entry.failure))
        views.sort(key=lambda view: view.record.spec.name)
        more = len(views) > size
        views = views[:size]
        token = paging.encode(views[-1].record.spec.name, query) if more else ""
        return views, token

    async def scale(self, name: str, replicas: int) -> AgentView:
        if not 0 <= replicas <= MAX_REPLICAS:
            raise InvalidArgument(
                "invalid replica count",
                [FieldViolation("replicas", f"must be between 0 and {MAX_REPLICAS}")],
            )
        async with self._lock(name):
            self._refuse_during_rollout(name, "scale")
            record = self._stored(name)
            if replicas > record.spec.replicas:
                await self._check_fits(name, record.spec.resources)
            spec = replace(record.spec, replicas=replicas)
            await asyncio.to_thread(
                self._store.put_agent, AgentRecord(spec, record.create_time, self._clock())
            )
            try:
                await self._backend.scale(name, replicas)
            except ReplicaStartError as exc:
                failure = start_failure(spec.version, exc, self._clock())
                await self._undo_scale(record)
                self._failures.record(name, FailedStart(failure))
                raise _start_refused(name, failure, exc) from exc
            self._failures.forget(name)
        return self.get(name)

    def _stored(self, name: str) -> AgentRecord:
        record = self._store.get_agent(name)
        if record is not None:
            return record
        entry = self._failures.get(name)
        if entry is not None and entry.withdrawn is not None:
            raise FailedPrecondition(
                f"agent {name!r} is not deployed: its deploy failed ({entry.failure.summary})",
                [FieldViolation("name", "the agent's first deploy failed; deploy it again")],
            )
        raise NotFound(f"agent {name!r} not found", [FieldViolation("name", "no such agent")])

    async def _undo_scale(self, previous: AgentRecord) -> None:
        """Back to the stored count: the replicas that did start are retired again."""
        name = previous.spec.name
        await asyncio.to_thread(self._store.put_agent, previous)
        try:
            await self._backend.scale(name, previous.spec.replicas)
        except Exception:
            log.exception("could not scale agent %s back after a failed scale", name)

    async def delete(self, name: str) -> None:
        async with self._lock(name):
            entry = self._failures.get(name)
            if (
                self._store.get_agent(name) is None
                and entry is not None
                and entry.withdrawn is not None
            ):
                self._failures.forget(name)  # nothing stored nor running: only the failure
                return
            self.get(name)
            await self.rollouts.forget(name)
            await asyncio.to_thread(self._store.delete_agent, name)
            await self._backend.remove(name)
            self._failures.forget(name)
            await asyncio.to_thread(self.versions.forget, name)

    def list_versions(self, name: str) -> builtins.list[AgentVersion]:
        """The agent's version catalogue, newest first, with each version's live health."""
        self.show(name)  # NotFound for an unknown agent
        return self.versions.with_health(name)

    async def rollback(self, name: str, version: str = "") -> AgentView:
        """During a rollout: aborts it (the stable version takes every attempt again at once).
        Otherwise deploys `version` again (or the newest version that served before the
        current one) as a rolling update; the version it replaces is ROLLED_BACK."""
        async with self._lock(name):
            rollout = self.rollouts.active(name)
            if rollout is not None and rollout.stable is not None:
                if version and version != rollout.stable.version:
                    raise FailedPrecondition(
                        f"agent {name!r} is rolling out {rollout.new.version}: a rollback "
                        f"returns to the stable version {rollout.stable.version}",
                        [FieldViolation("version", f"must be {rollout.stable.version} or empty")],
                    )
                await self.rollouts.abort(rollout, "RollbackAgent was called")
                return self.get(name)
        current = self._stored(name).spec
        target = self.versions.rollback_target(name, current.version, version)
        view = await self.deploy(replace(target, replicas=current.replicas))
        await self.versions.rolled_back(name, current.version, target)
        return view


def _start_refused(name: str, failure: StartFailure, exc: BaseException) -> FailedPrecondition:
    """The client's error: one line, the root cause first (the detail is in GetAgent). It
    names the spec field to fix when the cause is one (the import path, the pool)."""
    field = exc.field if isinstance(exc, ReplicaStartError) else "agent"
    if field == "agent":
        return FailedPrecondition(f"agent {name!r} failed to start: {failure.summary}")
    return FailedPrecondition(
        f"agent {name!r} failed to start: {field}: {failure.summary}",
        [FieldViolation(field, failure.summary)],
    )


def _withdrawn_view(spec: AgentSpec, failure: StartFailure) -> AgentView:
    record = AgentRecord(spec, failure.time, failure.time)
    return AgentView(record, AgentState.FAILED, [], failure)
