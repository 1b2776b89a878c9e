"""The scaling control loop against an in-process backend, real SQLite and a fixed clock: a
rising arrival series and its forecast scale an agent out before any queue builds, it scales
back in only after the stabilisation window, every decision is recorded with its reason before
it is acted on, and the cluster is asked for the capacity of the desired replicas."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.scaling.forecasts import ForecastSettings, ForecastWorker
from controlplane.engine.scaling.loop import ScalingLoop, observe
from controlplane.engine.scaling.policies import ScalingManager
from controlplane.store import SqliteStore
from controlplane.store.load_history import LoadHistoryStore
from controlplane.store.scaling import ScalingStore
from models.agents import AgentSpec, ReplicaResources
from models.forecasting import Forecast, Series
from models.load import RAW, LoadSample
from models.resources import ResourceAmounts
from models.scaling import ScalingEvent
from tests.unit.fake_backend import FakeBackend

T0 = 1_700_000_000.0  # a multiple of 10 s
INTERVAL = 10.0  # load samples
PERIOD = 15.0  # scaling evaluations
SERVICE_S = 1.0


def trend_fit(
    series: Series, horizon: int, model: str, level: float, hints: tuple[int, ...]
) -> Forecast:
    """A deterministic stand-in for the forecasting library (tested on its own): the
    least-squares line through the last six values, extended, with a +-10% interval."""
    values = [v for v in series.values[-6:] if math.isfinite(v)]
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / max(
        1e-9, sum((i - mean_x) ** 2 for i in range(n))
    )
    ahead = [max(0.0, mean_y + slope * (n - 1 - mean_x + h)) for h in range(1, horizon + 1)]
    return Forecast(
        model=model,
        period=None,
        timestamps=tuple(series.end + h * series.step_s for h in range(1, horizon + 1)),
        mean=tuple(ahead),
        lower=tuple(0.9 * v for v in ahead),
        upper=tuple(1.1 * v for v in ahead),
        level=level,
    )


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    clock: Clock
    backend: FakeBackend
    agents: AgentManager
    history: LoadHistoryStore
    events: ScalingStore
    manager: ScalingManager
    forecasts: ForecastWorker
    loop: ScalingLoop
    store: SqliteStore

    def record(self, start: float, rates: list[float], *, in_flight: float = -1.0) -> float:
        """Appends one raw sample per load interval from `start` at these arrival rates
        (attempts/s), served without queueing; returns the time after the last one."""
        samples = []
        for i, rate in enumerate(rates):
            arrivals = rate * INTERVAL
            samples.append(
                LoadSample(
                    "work",
                    start + i * INTERVAL,
                    RAW,
                    arrivals=arrivals,
                    completions=arrivals,
                    queue_depth=0.0,
                    in_flight=rate * SERVICE_S if in_flight < 0 else in_flight,
                    service_time_s=SERVICE_S,
                    replicas=1.0,
                )
            )
        self.history.append(samples)
        return start + len(rates) * INTERVAL


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    clock = Clock(T0)
    store = SqliteStore(tmp_path / "db.sqlite")
    backend = FakeBackend()
    agents = AgentManager(store, backend, clock)
    history = LoadHistoryStore(store)
    events = ScalingStore(store)
    manager = ScalingManager(events, history, agents, clock, INTERVAL)
    forecasts = ForecastWorker(
        history,
        manager.policies,
        clock,
        ForecastSettings(
            refit_interval_s=30.0,
            step_s=INTERVAL,
            history_s=3600.0,
            model="trend",
            evaluation_period_s=PERIOD,
            load_interval_s=INTERVAL,
        ),
        fit=trend_fit,
    )
    loop = ScalingLoop(
        manager, agents, backend, history, events, forecasts, clock, PERIOD, INTERVAL
    )
    yield Rig(clock, backend, agents, history, events, manager, forecasts, loop, store)
    forecasts.close()
    store.close()


POLICY = {
    "agent": "work",
    "min_replicas": 1,
    "max_replicas": 8,
    # Reactive floor: in-flight attempts per ready replica at 0.7, HPA-style.
    "target_tracking": [{"metric": "in_flight", "target": 0.7, "scale_down_stabilization_s": 60.0}],
    "predictive": {"lead_time_s": 120.0, "target_utilization": 0.7},
}


def test_rising_load_scales_out_before_a_queue_builds_and_in_after_stabilisation(
    rig: Rig,
) -> None:
    async def main() -> None:
        await rig.agents.deploy(
            AgentSpec(
                "work",
                "v1",
                "m:W",
                replicas=1,
                resources=ReplicaResources(num_cpus=1.0, memory=1 << 30),
            )
        )
        await rig.manager.set_policy(dict(POLICY))
        # 5 minutes of arrivals rising from 0.2/s to 0.6/s: one replica (1 s each) is at most
        # 60% busy and nothing queues, but the trend reaches 0.7/s within the lead time.
        rates = [0.2 + 0.4 * k / 29 for k in range(30)]
        now = rig.record(T0, rates)
        rig.clock.now = now
        assert await rig.forecasts.run_once() == ["work"]
        fitted = rig.forecasts.latest("work")
        assert fitted is not None and fitted.forecast.mean[-1] > rates[-1]

        (event,) = await rig.loop.run_once()
        decision = event.decision
        assert (decision.current, decision.policy) == (1, "predictive")
        assert decision.desired >= 2
        assert decision.inputs["metrics"]["total_queue_depth"] == 0
        assert decision.inputs["metrics"]["in_flight"] < 0.7  # reactive alone would hold
        assert decision.reason.startswith(f"scale-out to {decision.desired}: predictive")
        assert rig.backend.scale_calls == [("work", decision.desired)]
        assert rig.agents.get("work").record.spec.replicas == decision.desired
        # The cluster is asked for one replica-sized bundle per desired replica.
        bundle = ResourceAmounts(cpu=1.0, memory=1 << 30)
        assert rig.backend.capacity_requests == [[bundle] * decision.desired]

        async def step(t: float, rate: float, in_flight: float) -> tuple[float, list[ScalingEvent]]:
            """One evaluation period later: two more samples, a refit if due, a decision."""
            t = rig.record(t, [rate] * 2, in_flight=in_flight)
            rig.clock.now = t
            await rig.forecasts.run_once()
            return t, await rig.loop.run_once()

        # A plateau at 0.8/s served by the new replicas: target tracking now also wants them.
        t = now
        plateau: list[ScalingEvent] = []
        for _ in range(4):
            t, (later,) = await step(t, 0.8, 0.8 * SERVICE_S)
            plateau.append(later)
        assert plateau[-1].decision.inputs["target"]["raw"] >= 2
        replicas = rig.agents.get("work").record.spec.replicas
        assert replicas >= 2

        # The load falls to 0.1/s: the refitted forecast soon wants one replica, target
        # tracking too, but its 60 s scale-down window keeps the replicas meanwhile.
        low: list[ScalingEvent] = []
        while not low or low[-1].decision.desired > 1:
            assert t < now + 600, "\n".join(
                f"{e.decision.time - now} {e.decision.reason}" for e in low
            )
            t, (later,) = await step(t, 0.1, 0.1 * SERVICE_S)
            low.append(later)
        first_in = next(e.decision for e in low if e.decision.change < 0)
        assert first_in.desired == 1 and first_in.current == replicas
        assert first_in.reason.startswith("scale-in to 1")
        history = plateau + low
        wanted_two = [e.decision.time for e in history if e.decision.inputs["target"]["raw"] >= 2]
        assert first_in.time - max(wanted_two) >= 60
        assert any(
            "stabilised" in e.decision.inputs["reasons"]["target"]
            for e in low
            if e.decision.time < first_in.time
        )
        assert rig.agents.get("work").record.spec.replicas == 1
        assert rig.backend.capacity_requests[-1] == [bundle]
        decisions = plateau + low

        # Recorded durably: changes by default, every decision with the holds.
        changes, _ = rig.manager.list_events("work", False, 0, "")
        assert changes[-1].event_id == event.event_id  # oldest: the predictive scale-out
        assert changes[0].decision == first_in
        assert {e.action for e in changes} == {"scale_out", "scale_in"}
        everything, _ = rig.manager.list_events("work", True, 0, "")
        assert len(everything) == 1 + len(decisions)
        assert everything[-1].decision.reason == decision.reason

    asyncio.run(main())


def test_a_decision_just_before_the_next_sample_is_stored_still_sees_the_load(
    rig: Rig,
) -> None:
    async def main() -> None:
        await rig.agents.deploy(AgentSpec("work", "v1", "m:W", replicas=1))
        await rig.manager.set_policy(dict(POLICY))
        rates = [0.2 + 0.4 * k / 29 for k in range(30)]
        end = rig.record(T0, rates)
        # The sample of [end, end + INTERVAL) has ended but the recorder, a little late, has
        # not stored it yet: the newest stored one started more than a window ago.
        window = max(PERIOD, 2 * INTERVAL)
        rig.clock.now = end + INTERVAL + 0.5
        assert rig.clock.now - window > end - INTERVAL
        await rig.forecasts.run_once()

        (event,) = await rig.loop.run_once()
        decision = event.decision
        assert decision.inputs["load_samples"] == 1
        metrics = decision.inputs["metrics"]
        assert metrics["total_queue_depth"] == 0
        assert metrics["total_arrival_rate"] == pytest.approx(rates[-1])
        assert metrics["in_flight"] == pytest.approx(rates[-1] * SERVICE_S)
        assert (decision.policy, decision.change > 0) == ("predictive", True)

    asyncio.run(main())


def test_a_new_loop_rebuilds_cooldowns_from_the_recorded_events(rig: Rig) -> None:
    async def main() -> None:
        await rig.agents.deploy(AgentSpec("work", "v1", "m:W", replicas=1))
        await rig.manager.set_policy(
            {
                "agent": "work",
                "max_replicas": 4,
                "step_scaling": [
                    {
                        "metric": "arrival_rate",
                        "steps": [
                            {"lower": 1.0, "adjustment": 1},
                            {"upper": 1.0, "adjustment": -1},
                        ],
                    }
                ],
                "scale_out_cooldown_s": 120.0,
            }
        )
        t = rig.record(T0, [2.0] * 3)
        rig.clock.now = t
        (first,) = await rig.loop.run_once()
        assert (first.decision.current, first.decision.desired) == (1, 2)
        # A restarted control plane (a new loop over the same store) still honours the
        # cooldown of the scale-out recorded a minute ago.
        again = ScalingLoop(
            rig.manager,
            rig.agents,
            rig.backend,
            rig.history,
            ScalingStore(rig.store),
            rig.forecasts,
            rig.clock,
            PERIOD,
            INTERVAL,
        )
        t = rig.record(t, [4.0] * 6)
        rig.clock.now = t
        (held,) = await again.run_once()
        assert held.decision.desired == 2 and held.decision.policy == "cooldown"
        # The agent asks for no resources: each loop's first pass withdraws whatever an
        # earlier control plane asked for (an empty request), and repeats nothing after.
        assert rig.backend.capacity_requests == [[], []]

    asyncio.run(main())


def test_agents_without_a_policy_or_not_deployed_are_left_alone(rig: Rig) -> None:
    async def main() -> None:
        await rig.agents.deploy(AgentSpec("work", "v1", "m:W", replicas=3))
        await rig.agents.deploy(AgentSpec("other", "v1", "m:W", replicas=1))
        await rig.manager.set_policy({"agent": "work", "max_replicas": 2})
        await rig.agents.delete("other")
        rig.clock.now = T0 + 100
        (event,) = await rig.loop.run_once()
        # No policy votes: hold, then clamp to the policy's maximum.
        assert (event.decision.desired, event.decision.policy) == (2, "clamp")
        assert rig.backend.scale_calls == [("work", 2)]
        status = rig.loop.status("work")
        assert (status.current, status.desired, status.has_policy) == (2, 2, True)
        assert status.decisions[0].event_id == event.event_id

    asyncio.run(main())


def test_a_failed_scale_is_recorded_on_its_event(rig: Rig) -> None:
    async def main() -> None:
        await rig.agents.deploy(AgentSpec("work", "v1", "m:W", replicas=1))
        await rig.manager.set_policy({"agent": "work", "min_replicas": 2, "max_replicas": 4})

        async def broken(name: str, replicas: int) -> None:
            raise RuntimeError("cluster is full")

        rig.backend.scale = broken  # type: ignore[method-assign]
        rig.clock.now = T0 + 100
        (event,) = await rig.loop.run_once()
        assert event.decision.desired == 2
        (stored,) = rig.events.list_events("work", None, 10)
        assert stored.error == "cluster is full"
        assert rig.loop.status("work").actuation_error == "cluster is full"

    asyncio.run(main())


def test_observe_turns_samples_into_per_replica_metrics() -> None:
    samples = [
        LoadSample(
            "a",
            100.0,
            RAW,
            arrivals=20,
            completions=10,
            queue_depth=2,
            in_flight=2,
            service_time_s=0.5,
        ),
        LoadSample(
            "a",
            110.0,
            RAW,
            arrivals=40,
            completions=30,
            queue_depth=4,
            in_flight=4,
            service_time_s=1.5,
        ),
    ]
    observed = observe(samples, 100.0, 10.0, ready=2, max_concurrency=2, service_fallback=None)
    m = observed.metrics
    assert m["total_arrival_rate"] == pytest.approx(3.0)  # 60 arrivals over 20 s
    assert m["arrival_rate"] == pytest.approx(1.5)
    assert m["in_flight"] == pytest.approx((3 + 3) / 2)  # running + waiting per replica
    assert m["utilization"] == pytest.approx(3 / 4)
    assert m["queue_depth"] == pytest.approx(1.5)
    assert m["service_time_s"] == pytest.approx((10 * 0.5 + 30 * 1.5) / 40)
    # Nothing completed in the window: the last service time seen before it.
    later = observe(samples, 200.0, 10.0, ready=0, max_concurrency=1, service_fallback=None)
    assert later.metrics == {"service_time_s": 1.5}
    assert math.isfinite(later.metrics["service_time_s"])
