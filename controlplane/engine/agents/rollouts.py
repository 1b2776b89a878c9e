"""Rollouts of new agent versions, step by step: each step is stored before it is applied,
holds and canary analyses run in the background, and a restarted control plane resumes each
rollout in progress at the step it had reached.

A deploy takes its steps up to the first that holds (a rolling update has none: it ends
before DeployAgent answers); the rest go on in a task of their own. The agent's stored spec is
the new one from the start; a rollback or a failed start stores the stable one again before
the backend returns to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable

from controlplane.engine.agents.canary_analysis import analyse
from controlplane.engine.agents.rollout_plan import plan, targets
from controlplane.engine.agents.versions import AgentVersions
from controlplane.ports import AgentBackend
from controlplane.store import SqliteStore
from controlplane.store.agent_versions import AgentVersionStore
from controlplane.store.rollouts import RolloutStore
from models.agents import (
    ROLLOUT_LIFECYCLE,
    AgentRecord,
    AgentSpec,
    RolloutRecord,
    RolloutState,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
    VersionTarget,
)

log = logging.getLogger(__name__)

ANALYSIS_INTERVAL_S = 1.0

# Called when the new version's replicas fail to start in a background step.
StartFailed = Callable[[AgentSpec, BaseException], None]
# Hears each step once it is applied, and the end, once stored; must not block.
RolloutListener = Callable[[RolloutRecord], None]


def no_listener(record: RolloutRecord) -> None:
    return None


def describe(record: RolloutRecord) -> str:
    """One line on the step a rollout is at ("step 2 of 3: 50% to v2 for 60s")."""
    step = record.current
    where = f"step {record.step + 1} of {len(record.steps)}"
    new = record.new.version
    if step.new_weight is None:
        return (
            f"{where}: {step.new_replicas} replicas of {new}, {step.stable_replicas} of the stable"
        )
    share = f"{step.new_weight:.0%} of attempts to {new}"
    return f"{where}: {share}" + (f", held {step.hold_s:g}s" if step.hold_s else "")


class Rollouts:
    def __init__(
        self,
        store: SqliteStore,
        backend: AgentBackend,
        versions: AgentVersions,
        clock: Callable[[], float],
        lock: Callable[[str], asyncio.Lock],
        start_failed: StartFailed,
        analysis_interval_s: float = ANALYSIS_INTERVAL_S,
        on_event: RolloutListener = no_listener,
    ) -> None:
        self._store = store
        self._rollouts = RolloutStore(store)
        self._attempts = AgentVersionStore(store)
        self._backend = backend
        self._versions = versions
        self._clock = clock
        self._lock = lock
        self._start_failed = start_failed
        self._interval = analysis_interval_s
        self._on_event = on_event
        self._latest: dict[str, RolloutRecord | None] = {}
        self._runs: dict[str, asyncio.Task[None]] = {}

    # -- reading -------------------------------------------------------------------------

    def latest(self, agent: str) -> RolloutRecord | None:
        """The agent's rollout in progress, or else its latest one."""
        if agent not in self._latest:
            self._latest[agent] = self._rollouts.latest(agent)
        return self._latest[agent]

    def active(self, agent: str) -> RolloutRecord | None:
        record = self.latest(agent)
        return record if record is not None and record.active else None

    def _is_current(self, record: RolloutRecord) -> bool:
        latest = self.latest(record.agent)
        return latest is not None and latest.rollout_id == record.rollout_id and latest.active

    # -- starting and resuming -----------------------------------------------------------

    async def begin(
        self, stable: AgentSpec | None, new: AgentSpec, strategy: RolloutStrategy
    ) -> RolloutRecord:
        """Stores a rollout from `stable` to `new` and takes its steps up to the first that
        holds. The caller holds the agent's lock and has stored `new` as the agent's spec.
        Raises what the backend raised when new replicas fail to start (the stable version is
        restored first)."""
        now = self._clock()
        record = RolloutRecord(
            rollout_id=uuid.uuid4().hex,
            agent=new.name,
            strategy=strategy,
            stable=stable,
            new=new,
            steps=plan(strategy, stable, new),
            step=0,
            state=RolloutState.PROGRESSING,
            create_time=now,
            update_time=now,
        )
        await self._save(record)
        if len(record.steps) > 1 and strategy.kind is not StrategyKind.ROLLING:
            await self._versions.on_trial(new)
        record = await self._take_steps(record)
        if record.active:
            self._spawn(record)
        return record

    async def resume(self, record: RolloutRecord) -> None:
        """After a restart: the current step's replicas found again (or started), then the
        rollout goes on. Failures are logged; the rollout stays where it was."""
        try:
            if record.step_start_time is None:  # stored, not yet applied
                record = await self._take_steps(record)
            else:
                await self._backend.apply(record.agent, self._targets(record))
        except Exception:
            log.exception("could not resume the rollout of agent %s", record.agent)
            if not self._is_current(record):
                return
        if record.active:
            self._spawn(record)

    def _spawn(self, record: RolloutRecord) -> None:
        previous = self._runs.get(record.agent)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(self._run(record))
        self._runs[record.agent] = task
        task.add_done_callback(lambda done: self._forget_run(record.agent, done))

    def _forget_run(self, agent: str, task: asyncio.Task[None]) -> None:
        if self._runs.get(agent) is task:
            del self._runs[agent]

    async def stop(self) -> None:
        """Shutting down: background steps stop where they are (resumed at the next start)."""
        runs = list(self._runs.values())
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    async def forget(self, agent: str) -> None:
        """The agent is deleted: its rollout stops and its history goes."""
        task = self._runs.pop(agent, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._rollouts.delete, agent)
        self._latest.pop(agent, None)

    # -- steps ---------------------------------------------------------------------------

    def _targets(self, record: RolloutRecord) -> list[VersionTarget]:
        return targets(record.current, record.stable, record.new)

    async def _take_steps(self, record: RolloutRecord) -> RolloutRecord:
        """Applies steps from the current one until one holds (returned with its hold
        started) or the last is applied (the rollout then SUCCEEDED)."""
        while True:
            record = await self._save(
                dataclasses.replace(
                    record,
                    step_start_time=None,
                    update_time=self._clock(),
                    message=describe(record),
                )
            )
            try:
                await self._backend.apply(record.agent, self._targets(record))
            except Exception as exc:
                await self._end(record, RolloutState.FAILED, f"replicas did not start: {exc}")
                await self._versions.failed(record.new)
                raise
            now = self._clock()
            record = await self._save(
                dataclasses.replace(record, step_start_time=now, update_time=now)
            )
            self._on_event(record)
            step = record.current
            if step.hold_s > 0 or step.analyse:
                log.info("agent %s rollout: %s", record.agent, record.message)
                return record
            if record.step + 1 >= len(record.steps):
                return await self._succeed(record)
            record = dataclasses.replace(record, step=record.step + 1)

    async def _run(self, record: RolloutRecord) -> None:
        """The holds and analyses of a rollout, and the steps after each."""
        while True:
            verdict = await self._hold(record)
            async with self._lock(record.agent):
                if not self._is_current(record):
                    return  # rolled back or superseded meanwhile
                if verdict is not None and verdict.verdict == "fail":
                    await self._roll_back(
                        dataclasses.replace(record, analysis=verdict), verdict.reason
                    )
                    return
                record = dataclasses.replace(
                    record, analysis=verdict, step=record.step + 1, update_time=self._clock()
                )
                if record.step >= len(record.steps):
                    await self._succeed(dataclasses.replace(record, step=record.step - 1))
                    return
                try:
                    record = await self._take_steps(record)
                except Exception as exc:
                    log.warning("agent %s rollout failed: %s", record.agent, exc)
                    self._start_failed(record.new, exc)
                    return
            if not record.active:
                return

    async def _hold(self, record: RolloutRecord) -> StepAnalysis | None:
        """Waits out the current step's hold; with analysis, until a verdict (returned)."""
        step = record.current
        start = record.step_start_time if record.step_start_time is not None else self._clock()
        while True:
            elapsed = self._clock() - start
            hold_over = elapsed >= step.hold_s
            if step.analyse:
                verdict = await self._analyse(record, start, hold_over)
                if self._is_current(record):
                    self._latest[record.agent] = dataclasses.replace(record, analysis=verdict)
                if verdict.verdict != "inconclusive":
                    return verdict
            elif hold_over:
                return None
            left = step.hold_s - elapsed
            await asyncio.sleep(self._interval if hold_over else min(self._interval, left))

    async def _analyse(self, record: RolloutRecord, since: float, hold_over: bool) -> StepAnalysis:
        rows = await asyncio.to_thread(self._attempts.finished_attempts, record.agent, since)
        stable_version = record.stable.version if record.stable is not None else ""
        canary = [(status, s) for version, status, s in rows if version == record.new.version]
        stable = [(status, s) for version, status, s in rows if version == stable_version]
        return analyse(canary, stable, record.strategy.analysis, hold_over)

    # -- endings -------------------------------------------------------------------------

    async def abort(self, record: RolloutRecord, reason: str) -> RolloutRecord:
        """RollbackAgent during a rollout: the stable version takes every attempt again (the
        caller holds the agent's lock)."""
        return await self._roll_back(record, reason)

    async def _roll_back(self, record: RolloutRecord, reason: str) -> RolloutRecord:
        log.warning("agent %s: rolling back from %s: %s", record.agent, record.new.version, reason)
        ended = await self._end(record, RolloutState.ROLLED_BACK, f"rolled back: {reason}")
        if record.stable is not None:
            await self._versions.rolled_back(record.agent, record.new.version, record.stable)
        return ended

    async def _end(self, record: RolloutRecord, state: RolloutState, message: str) -> RolloutRecord:
        """Stores the end (and the stable spec as the agent's), then returns the backend to
        the stable version alone; in-flight attempts of the new one finish as they drain."""
        stable = record.stable
        restored: AgentRecord | None = None
        if stable is not None:
            agent = self._store.get_agent(record.agent)
            created = agent.create_time if agent is not None else record.create_time
            restored = AgentRecord(stable, created, self._clock())
        ended = await self._save(
            ROLLOUT_LIFECYCLE.replaced(record, state, message=message, update_time=self._clock()),
            restored,
        )
        self._on_event(ended)
        if stable is not None:
            try:
                await self._backend.apply(record.agent, [VersionTarget(stable, stable.replicas)])
            except Exception:
                log.exception(
                    "could not return agent %s to version %s", record.agent, stable.version
                )
        return ended

    async def _succeed(self, record: RolloutRecord) -> RolloutRecord:
        await self._versions.deployed(record.new)
        message = f"version {record.new.version} serves every attempt"
        log.info("agent %s rollout: %s", record.agent, message)
        ended = await self._save(
            ROLLOUT_LIFECYCLE.replaced(
                record, RolloutState.SUCCEEDED, message=message, update_time=self._clock()
            )
        )
        self._on_event(ended)
        return ended

    async def _save(self, record: RolloutRecord, agent: AgentRecord | None = None) -> RolloutRecord:
        """Stores the rollout (with `agent`: and the agent's spec, in one transaction)."""
        await asyncio.to_thread(self._rollouts.put, record, agent)
        self._latest[record.agent] = record
        return record
