"""The version catalogue of every agent: which version serves, which served before (rollback
targets), which failed to start, and how each one's attempts went lately."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from controlplane.store import SqliteStore
from controlplane.store.agent_versions import AgentVersionStore
from models.agents import AgentSpec, AgentVersion, VersionHealth, VersionState
from models.errors import FailedPrecondition, FieldViolation, NotFound

HEALTH_WINDOW_S = 300.0
# A rollback returns to the newest version that served.
_SERVED = (VersionState.RETIRED, VersionState.ROLLED_BACK)
_NEVER_SERVED = (VersionState.FAILED, VersionState.CANARY)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The `q` quantile by the nearest-rank method (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, round(q * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def version_health(outcomes: list[tuple[str, float]], window_s: float) -> VersionHealth:
    """(status, seconds) of a version's finished attempts -> its health figures."""
    durations = sorted(seconds for _, seconds in outcomes)
    return VersionHealth(
        window_s=window_s,
        attempts=len(outcomes),
        succeeded=sum(1 for status, _ in outcomes if status == "SUCCEEDED"),
        p50_latency_s=percentile(durations, 0.5),
        p95_latency_s=percentile(durations, 0.95),
    )


class AgentVersions:
    def __init__(self, store: SqliteStore, clock: Callable[[], float]) -> None:
        self._versions = AgentVersionStore(store)
        self._clock = clock

    async def deployed(self, spec: AgentSpec) -> None:
        """`spec`'s version serves now; the one that served before is retired."""
        now = self._clock()
        moves = {
            v.spec.version: VersionState.RETIRED
            for v in self._versions.catalogue(spec.name)
            if v.state in (VersionState.ACTIVE, VersionState.CANARY)
            and v.spec.version != spec.version
        }
        await asyncio.to_thread(self._versions.move, spec.name, moves, now)
        await asyncio.to_thread(self._versions.put, spec, VersionState.ACTIVE, now)

    async def on_trial(self, spec: AgentSpec) -> None:
        """`spec`'s version takes a share of the attempts while a rollout analyses it."""
        await asyncio.to_thread(self._versions.put, spec, VersionState.CANARY, self._clock())

    async def failed(self, spec: AgentSpec) -> None:
        """`spec`'s replicas did not start; unless the version served before (a failed
        redeploy of it), it is recorded as FAILED."""
        known = {v.spec.version: v for v in self._versions.catalogue(spec.name)}
        if spec.version in known and known[spec.version].state not in _NEVER_SERVED:
            return
        await asyncio.to_thread(self._versions.put, spec, VersionState.FAILED, self._clock())

    async def known(self, spec: AgentSpec) -> None:
        """Records a serving agent's version if the catalogue lacks it (agents deployed before
        the catalogue existed)."""
        if not any(v.spec.version == spec.version for v in self._versions.catalogue(spec.name)):
            await asyncio.to_thread(self._versions.put, spec, VersionState.ACTIVE, self._clock())

    async def rolled_back(self, agent: str, from_version: str, to: AgentSpec) -> None:
        now = self._clock()
        await asyncio.to_thread(self._versions.put, to, VersionState.ACTIVE, now)
        moves = {from_version: VersionState.ROLLED_BACK}
        await asyncio.to_thread(self._versions.move, agent, moves, now)

    def forget(self, agent: str) -> None:
        self._versions.delete(agent)

    def with_health(self, agent: str) -> list[AgentVersion]:
        """Newest first, each with its health over the last five minutes."""
        since = self._clock() - HEALTH_WINDOW_S
        outcomes: dict[str, list[tuple[str, float]]] = {}
        for version, status, seconds in self._versions.finished_attempts(agent, since):
            outcomes.setdefault(version, []).append((status, seconds))
        return [
            dataclasses.replace(
                v, health=version_health(outcomes.get(v.spec.version, []), HEALTH_WINDOW_S)
            )
            for v in self._versions.catalogue(agent)
        ]

    def rollback_target(self, agent: str, current: str, version: str) -> AgentSpec:
        """The spec to roll `agent` back to: `version`, or the newest that served before."""
        versions = self._versions.catalogue(agent)
        if version:
            named = next((v for v in versions if v.spec.version == version), None)
            if named is None:
                raise NotFound(
                    f"agent {agent!r} has no version {version!r}",
                    [FieldViolation("version", "not in the agent's version catalogue")],
                )
            if named.state is VersionState.FAILED or version == current:
                why = "it never served" if version != current else "it is the version serving"
                raise FailedPrecondition(
                    f"cannot roll agent {agent!r} back to {version!r}: {why}",
                    [FieldViolation("version", why)],
                )
            return named.spec
        served = [v for v in versions if v.state in _SERVED and v.spec.version != current]
        if not served:
            raise FailedPrecondition(
                f"agent {agent!r} has no earlier version that served",
                [FieldViolation("version", "no RETIRED or ROLLED_BACK version to return to")],
            )
        return max(served, key=lambda v: v.update_time).spec
