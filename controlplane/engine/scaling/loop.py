"""The scaling control loop: every evaluation period, for each deployed agent with a scaling
policy, observe -> decide (the pure `scheduler.scaling.decide`) -> record -> act.

1. observe: the agent's recent load samples (arrival rate, queue depth, in-flight attempts,
   mean service time), its replica count (as set, and READY) and the last forecast the
   forecast worker fitted;
2. decide: `decide(observation, policy, state, now)`; the engine state (stabilisation
   windows, last scale-out/in) is kept per agent in memory and rebuilt from the recorded
   events after a restart;
3. record: the decision with its reason and inputs is committed as a scaling event before
   anything is done about it;
4. act: `AgentManager.scale` when the desired count differs (scale-in drains: a retired
   replica takes no new attempt and stops once its running ones end), then one
   `request_capacity` for every agent's desired replicas (so the cluster autoscaler adds nodes
   ahead of the load the forecast predicts).

`run_once()` is one pass (tests call it with a fixed clock); `run()` repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.periodic import run_every
from controlplane.engine.scaling.forecasts import ForecastWorker
from controlplane.engine.scaling.policies import ScalingManager
from controlplane.ports import AgentBackend
from controlplane.store.load_history import LoadHistoryStore
from controlplane.store.scaling import ScalingStore
from models.agents import AgentSpec, ReplicaState
from models.errors import NotFound, OrchestratorError, invalid
from models.load import RAW, LoadSample
from models.resources import ResourceAmounts
from models.scaling import ScalingEvent, ScalingPolicy, ScalingStatus
from scheduler.scaling import EngineState, ScalingObservation, decide

log = logging.getLogger(__name__)

# How far back the mean service time is looked for when no attempt completed in the window.
SERVICE_LOOKBACK_S = 600.0
PRUNE_EVERY_S = 3600.0
DEFAULT_STATUS_DECISIONS = 10
MAX_STATUS_DECISIONS = 100


@dataclass(frozen=True)
class Observed:
    """What the loop measured for one agent over the last evaluation window."""

    metrics: dict[str, float] = field(default_factory=dict)
    samples: int = 0


def observe(
    samples: Sequence[LoadSample],
    window_start: float,
    sample_s: float,
    ready: int,
    max_concurrency: int,
    service_fallback: float | None,
) -> Observed:
    """Per-replica metrics (the names target tracking and step scaling may use) plus totals.

    `in_flight`: attempts running or waiting per ready replica (time-averaged; grows with the
    queue, like Ray Serve's ongoing requests); `utilization`: running attempts over the ready
    replicas' slots; `queue_depth`, `arrival_rate`: per ready replica; `service_time_s`: the
    completion-weighted mean over the window, else the latest one seen before it.

    A sample is stamped with the start of the `sample_s` it covers and stored only once that
    has ended, so it counts when it ends inside the window, not when it starts there.
    """
    # By its start, the newest stored sample leaves the window just before the next one is
    # stored: a decision in between would see no load.
    recent = [s for s in samples if s.time + sample_s > window_start]
    metrics: dict[str, float] = {}
    done = sum(s.completions for s in recent)
    if done > 0:
        metrics["service_time_s"] = sum(s.service_time_s * s.completions for s in recent) / done
    else:
        earlier = [s for s in samples if s.completions > 0]
        if earlier:
            metrics["service_time_s"] = earlier[-1].service_time_s
        elif service_fallback is not None:
            metrics["service_time_s"] = service_fallback
    if not recent:
        return Observed(metrics, 0)
    span = max(recent[-1].time + sample_s - recent[0].time, sample_s)
    rate = sum(s.arrivals for s in recent) / span
    queue = sum(s.queue_depth for s in recent) / len(recent)
    running = sum(s.in_flight for s in recent) / len(recent)
    metrics.update(total_arrival_rate=rate, total_queue_depth=queue, total_in_flight=running)
    if ready > 0:
        metrics.update(
            in_flight=(running + queue) / ready,
            utilization=min(1.0, running / (ready * max(1, max_concurrency))),
            queue_depth=queue / ready,
            arrival_rate=rate / ready,
        )
    return Observed(metrics, len(recent))


def replica_amounts(spec: AgentSpec) -> ResourceAmounts:
    res = spec.resources
    return ResourceAmounts(
        cpu=res.num_cpus, memory=res.memory, gpu=res.num_gpus, custom=dict(res.custom)
    )


class ScalingLoop:
    def __init__(
        self,
        manager: ScalingManager,
        agents: AgentManager,
        backend: AgentBackend,
        history: LoadHistoryStore,
        events: ScalingStore,
        forecasts: ForecastWorker,
        clock: Callable[[], float],
        interval_s: float = 15.0,
        load_interval_s: float = 10.0,
    ) -> None:
        self._manager = manager
        self._agents = agents
        self._backend = backend
        self._history = history
        self._events = events
        self._forecasts = forecasts
        self._clock = clock
        self.interval_s = interval_s
        self._load_interval_s = load_interval_s
        self._states: dict[str, EngineState] = {}
        self._last: dict[str, ScalingEvent] = {}
        self._service: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self._requested: list[ResourceAmounts] | None = None
        self._pruned = 0.0
        manager.subscribe(self._policy_changed)

    def _policy_changed(self, agent: str) -> None:
        # The new policy's stabilisation windows start afresh; cooldowns still count from the
        # last scaling events.
        state = self._states.pop(agent, None)
        if state is not None:
            self._states[agent] = EngineState(
                last_scale_out=state.last_scale_out, last_scale_in=state.last_scale_in
            )
        self._forecasts.policy_changed(agent)

    async def _state(self, agent: str) -> EngineState:
        state = self._states.get(agent)
        if state is None:
            out, into = await asyncio.to_thread(self._events.last_change_times, agent)
            state = EngineState(last_scale_out=out, last_scale_in=into)
            self._states[agent] = state
        return state

    # -- one pass -----------------------------------------------------------------------------

    async def run_once(self) -> list[ScalingEvent]:
        """Decides, records and acts for every deployed agent with a policy; returns the
        recorded events."""
        policies = self._manager.policies()
        deployed = self._agents.names()
        events: list[ScalingEvent] = []
        for agent, policy in sorted(policies.items()):
            if agent not in deployed:
                continue
            try:
                events.append(await self._decide(agent, policy))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scaling decision for %s failed", agent)
        await asyncio.gather(*(self._act(e) for e in events if e.decision.change != 0))
        await self._request_capacity(policies, deployed)
        now = self._clock()
        if now - self._pruned >= PRUNE_EVERY_S:
            self._pruned = now
            await asyncio.to_thread(self._events.prune, now)
        return events

    async def _decide(self, agent: str, policy: ScalingPolicy) -> ScalingEvent:
        now = self._clock()
        spec = self._agents.get(agent).record.spec
        replicas = self._backend.replicas(agent)
        ready = sum(1 for r in replicas if r.state is ReplicaState.READY)
        window = max(self.interval_s, 2 * self._load_interval_s)
        samples = await asyncio.to_thread(
            self._history.read, agent, RAW, now - SERVICE_LOOKBACK_S, now + 1.0
        )
        observed = observe(
            samples,
            now - window,
            self._load_interval_s,
            ready,
            spec.max_concurrency,
            self._service.get(agent),
        )
        service = observed.metrics.get("service_time_s")
        if service is not None and service > 0:
            self._service[agent] = service
        fitted = self._forecasts.latest(agent)
        observation = ScalingObservation(
            agent=agent,
            replicas=spec.replicas,
            ready_replicas=ready,
            metrics=observed.metrics,
            forecast=fitted.forecast if fitted is not None else None,
            forecast_step_s=fitted.step_s if fitted is not None else None,
        )
        decision, state = decide(observation, policy, await self._state(agent), now)
        if fitted is not None:
            decision.inputs["forecast_fit"] = {
                "model": fitted.forecast.model,
                "fit_time": fitted.fit_time,
                "step_s": fitted.step_s,
            }
        decision.inputs["load_samples"] = observed.samples
        # Durable before it is acted on.
        event = await asyncio.to_thread(self._events.add_event, decision)
        self._states[agent] = state
        self._last[agent] = event
        return event

    async def _act(self, event: ScalingEvent) -> None:
        decision = event.decision
        try:
            await self._agents.scale(decision.agent, decision.desired)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = str(exc.message if isinstance(exc, OrchestratorError) else exc)
            error = error or type(exc).__name__
            log.warning("scaling %s to %d failed: %s", decision.agent, decision.desired, error)
            self._errors[decision.agent] = error
            try:
                await asyncio.to_thread(self._events.set_event_error, event.event_id, error)
            except Exception:
                log.exception("could not record the scaling error of %s", decision.agent)
            return
        self._errors.pop(decision.agent, None)

    def capacity_bundles(
        self, policies: dict[str, ScalingPolicy], deployed: set[str]
    ) -> list[ResourceAmounts]:
        """One bundle per desired replica of every deployed agent with a policy, outside
        pools (a pool's placement group already holds its capacity)."""
        bundles: list[ResourceAmounts] = []
        for agent in sorted(policies):
            if agent not in deployed:
                continue
            try:
                spec = self._agents.get(agent).record.spec
            except NotFound:
                continue
            if spec.pool:
                continue
            amounts = replica_amounts(spec)
            if amounts.is_zero():
                continue
            last = self._last.get(agent)
            desired = last.decision.desired if last is not None else spec.replicas
            bundles.extend([amounts] * desired)
        return bundles

    async def _request_capacity(
        self, policies: dict[str, ScalingPolicy], deployed: set[str]
    ) -> None:
        bundles = self.capacity_bundles(policies, deployed)
        if bundles == self._requested:
            return  # the autoscaler keeps the last request until it is replaced
        try:
            await self._backend.request_capacity(bundles)
        except Exception:
            log.exception("requesting cluster capacity failed")
            return
        self._requested = bundles

    async def run(self) -> None:
        """Rounds every ``interval_s`` until cancelled."""
        await run_every(self.interval_s, self.run_once, log, "scaling loop pass", first_wait=True)

    # -- status -------------------------------------------------------------------------------

    def status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        """GetScalingStatus: NotFound unless the agent is deployed or has a policy."""
        if decisions < 0:
            raise invalid("decisions", "must not be negative")
        count = min(decisions or DEFAULT_STATUS_DECISIONS, MAX_STATUS_DECISIONS)
        has_policy = agent in self._manager.policies()
        try:
            spec: AgentSpec | None = self._agents.get(agent).record.spec
        except NotFound:
            if not has_policy:
                raise
            spec = None
        replicas = self._backend.replicas(agent)
        recent = self._manager.recent_decisions(agent, count)
        current = spec.replicas if spec is not None else 0
        last = recent[0] if recent else None
        return ScalingStatus(
            agent=agent,
            has_policy=has_policy,
            current=current,
            ready=sum(1 for r in replicas if r.state is ReplicaState.READY),
            desired=last.decision.desired if last is not None else current,
            last_decision_time=last.decision.time if last is not None else None,
            decisions=recent,
            forecast=self._forecasts.latest(agent),
            forecast_error=self._forecasts.error(agent),
            actuation_error=self._errors.get(agent, ""),
            evaluation_period_s=self.interval_s,
        )
