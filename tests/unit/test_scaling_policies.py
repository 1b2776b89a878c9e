"""The scaling policy engine: target tracking (tolerance, starting replicas, stabilisation),
step scaling, scheduled (cron) capacity, predictive, limits, cooldowns, conflicts, clamping."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from models.cron import CronError, CronExpr
from models.forecasting import Forecast
from models.scaling import (
    HPA_SCALE_UP_LIMIT,
    PredictiveScaling,
    ScaleLimit,
    ScalingPolicy,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from scheduler.scaling.capacity import (
    erlang_c,
    mmc_mean_wait,
    mmc_wait_exceeds,
    replicas_for_rate,
    replicas_for_wait_slo,
)
from scheduler.scaling.engine import EngineState, ScalingObservation, decide

HPA = TargetTracking(metric="utilization", target=0.5)  # 300 s down, 0 s up, tolerance 0.1


def observe(replicas: int, ready: int | None = None, **metrics: float) -> ScalingObservation:
    return ScalingObservation("agent", replicas, ready, metrics)


def policy(**overrides: object) -> ScalingPolicy:
    fields: dict[str, object] = {
        "agent": "agent",
        "min_replicas": 1,
        "max_replicas": 100,
        "target_tracking": (HPA,),
    }
    fields.update(overrides)
    return ScalingPolicy(**fields)  # type: ignore[arg-type]


def at(text: str) -> float:
    """Epoch seconds of a UTC time such as '2024-05-06 09:30'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# -- target tracking -------------------------------------------------------------------------------


def test_target_tracking_uses_the_hpa_formula() -> None:
    d, _ = decide(observe(4, utilization=0.9), policy(), EngineState(), 0.0)
    assert d.desired == math.ceil(4 * 0.9 / 0.5) == 8
    assert d.policy == "target"
    assert "scale-out" in d.reason
    assert d.inputs["recommendations"] == {"target": 8}
    assert d.inputs["metrics"] == {"utilization": 0.9}
    assert d.inputs["target"]["raw"] == 8


def test_within_tolerance_nothing_changes() -> None:
    for value in (0.46, 0.5, 0.549):
        d, _ = decide(observe(10, utilization=value), policy(), EngineState(), 0.0)
        assert d.desired == 10, value
        assert "within tolerance" in d.reason
    d, _ = decide(observe(10, utilization=0.56), policy(), EngineState(), 0.0)
    assert d.desired == 12  # outside the band: ceil(10 x 1.12)


def test_exact_ratios_do_not_round_up_by_float_error() -> None:
    d, _ = decide(
        observe(7, utilization=0.7),
        policy(target_tracking=(TargetTracking(metric="utilization", target=0.35),)),
        EngineState(),
        0.0,
    )
    assert d.desired == 14


def test_starting_replicas_count_as_zero_when_scaling_up() -> None:
    # 4 ready at 0.9 with 4 more starting: the HPA recomputes with the 4 at 0 -> 0.45 < 0.5.
    d, _ = decide(observe(8, ready=4, utilization=0.9), policy(), EngineState(), 0.0)
    assert d.desired == 8
    assert "starting replicas already cover" in d.reason
    # Much more load: ceil(4 x 1.5 / 0.5) = 12 even counting the starting ones at 0.
    d, _ = decide(observe(8, ready=4, utilization=1.5), policy(), EngineState(), 0.0)
    assert d.desired == 12


def test_starting_replicas_count_at_target_when_scaling_down() -> None:
    # 4 ready at 0.1, 4 starting counted at 0.5: ceil(4 x 0.1 / 0.5 + 4) = 5.
    fast = policy(target_tracking=(TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0),))
    d, _ = decide(observe(8, ready=4, utilization=0.1), fast, EngineState(), 0.0)
    assert d.desired == 5


def test_missing_metric_or_no_ready_replica_abstains() -> None:
    d, _ = decide(observe(3), policy(), EngineState(), 0.0)
    assert d.desired == 3 and d.policy == "none"
    assert "no utilization metric" in d.reason
    d, _ = decide(observe(3, ready=0, utilization=1.0), policy(), EngineState(), 0.0)
    assert d.desired == 3 and "no ready replica" in d.reason


def test_scale_down_waits_for_the_stabilisation_window() -> None:
    """Scale-down takes the largest raw recommendation of the last 300 s."""
    state = EngineState()
    d, state = decide(observe(10, utilization=0.5), policy(), state, 0.0)  # raw 10
    assert d.desired == 10
    desired, reasons = [], []
    for t in range(15, 301, 15):
        d, state = decide(observe(10, utilization=0.2), policy(), state, float(t))  # raw 4
        desired.append(d.desired)
        reasons.append(d.reason)
    assert desired[:-1] == [10] * (len(desired) - 1)  # the 10 at t=0 is inside the window
    assert desired[-1] == 4  # at t=300 it has left the window (strictly after the cutoff)
    assert "stabilised 4 -> 10" in reasons[0]


def test_scale_down_takes_the_window_maximum_not_the_latest() -> None:
    state = EngineState()
    for t, value in ((0.0, 0.2), (60.0, 0.35), (120.0, 0.2)):  # raw 4, 7, 4
        d, state = decide(observe(10, utilization=value), policy(), state, t)
    assert d.desired == 7


def test_scale_up_is_immediate_without_a_window_and_stabilised_with_one() -> None:
    d, _ = decide(observe(4, utilization=1.0), policy(), EngineState(), 0.0)
    assert d.desired == 8
    slow = policy(
        target_tracking=(TargetTracking("utilization", 0.5, 0.1, scale_up_stabilization_s=60),)
    )
    state = EngineState()
    d, state = decide(observe(4, utilization=0.5), slow, state, 0.0)  # raw 4
    d, state = decide(observe(4, utilization=1.0), slow, state, 30.0)  # raw 8, min(4, 8)
    assert d.desired == 4
    d, state = decide(observe(4, utilization=1.0), slow, state, 61.0)  # only 8s in window
    assert d.desired == 8


def test_history_only_keeps_the_window() -> None:
    state = EngineState()
    for t in range(0, 3000, 15):
        _, state = decide(observe(10, utilization=0.5), policy(), state, float(t))
    assert len(state.history["target"]) == 20  # 300 s / 15 s


# -- limits, cooldowns, clamping ---------------------------------------------------------------


def test_scale_out_limit_hpa_default_is_max_of_4_and_100_percent() -> None:
    limited = policy(scale_out_limit=HPA_SCALE_UP_LIMIT)
    d, _ = decide(observe(2, utilization=5.0), limited, EngineState(), 0.0)
    assert d.desired == 6  # max(4, 2) replicas more
    assert "limited to +4" in d.reason
    d, _ = decide(observe(10, utilization=5.0), limited, EngineState(), 0.0)
    assert d.desired == 20  # max(4, 10)


def test_scale_in_limit() -> None:
    limited = policy(
        target_tracking=(TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0),),
        scale_in_limit=ScaleLimit(replicas=2),
    )
    d, _ = decide(observe(10, utilization=0.05), limited, EngineState(), 0.0)
    assert d.desired == 8
    assert ScaleLimit(percent=50).allowance(9) == 4
    assert ScaleLimit().allowance(9) is None


def test_scale_out_cooldown_blocks_a_second_scale_out() -> None:
    cool = policy(scale_out_cooldown_s=60)
    d, state = decide(observe(4, utilization=1.0), cool, EngineState(), 0.0)
    assert d.desired == 8 and state.last_scale_out == 0.0
    d, state = decide(observe(8, utilization=1.0), cool, state, 30.0)
    assert d.desired == 8 and d.policy == "cooldown"
    assert "scale-out cooldown" in d.reason
    assert d.inputs["wanted"] == 16
    d, state = decide(observe(8, utilization=1.0), cool, state, 60.0)
    assert d.desired == 16


def test_scale_in_cooldown_counts_from_any_scaling_event() -> None:
    cool = policy(
        target_tracking=(TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0),),
        scale_in_cooldown_s=120,
    )
    d, state = decide(observe(4, utilization=1.0), cool, EngineState(), 0.0)  # scale-out
    d, state = decide(observe(8, utilization=0.1), cool, state, 60.0)
    assert d.desired == 8 and "scale-in cooldown" in d.reason
    d, state = decide(observe(8, utilization=0.1), cool, state, 120.0)
    assert d.desired == 2 and state.last_scale_in == 120.0


def test_clamping_to_min_and_max() -> None:
    bounded = policy(min_replicas=3, max_replicas=6)
    d, _ = decide(observe(4, utilization=5.0), bounded, EngineState(), 0.0)
    assert (d.desired, d.policy) == (6, "clamp")
    fast = policy(
        min_replicas=3, target_tracking=(TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0),)
    )
    d, _ = decide(observe(4, utilization=0.01), fast, EngineState(), 0.0)
    assert (d.desired, d.policy) == (3, "clamp")
    # Out of bounds with no recommendation at all: still clamped, even in a cooldown.
    d, _ = decide(
        observe(9),
        policy(max_replicas=5, scale_in_cooldown_s=1e9),
        EngineState(last_scale_out=0.0),
        1.0,
    )
    assert d.desired == 5


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_replicas"):
        ScalingPolicy("a", min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match="unique"):
        ScalingPolicy("a", target_tracking=(HPA, HPA))
    with pytest.raises(ValueError, match="tolerance"):
        TargetTracking(tolerance=1.5)
    with pytest.raises(ValueError, match="overlap"):
        StepScaling("q", (ScalingStep(1, lower=0, upper=10), ScalingStep(2, lower=5)))
    with pytest.raises(ValueError):
        PredictiveScaling(level=1.0)


# -- step scaling ----------------------------------------------------------------------------------


QUEUE_STEPS = StepScaling(
    metric="queue",
    steps=(
        ScalingStep(-1, upper=5),
        ScalingStep(2, lower=50, upper=200),
        ScalingStep(5, lower=200),
    ),
)


def test_step_scaling_picks_the_band() -> None:
    steps = policy(target_tracking=(), step_scaling=(QUEUE_STEPS,))
    for queue, expected in ((0, 3), (4.9, 3), (5, 4), (49, 4), (50, 6), (199, 6), (500, 9)):
        d, _ = decide(observe(4, queue=queue), steps, EngineState(), 0.0)
        assert d.desired == expected, queue
    d, _ = decide(observe(4, queue=20), steps, EngineState(), 0.0)
    assert d.policy == "none" and "in no step" in d.inputs["reasons"]["step"]


def test_step_scaling_percent_and_exact() -> None:
    percent = StepScaling(
        "cpu",
        (ScalingStep(50, lower=0.8), ScalingStep(-30, upper=0.2)),
        adjustment_type="percent",
        min_adjustment_magnitude=2,
    )
    steps = policy(target_tracking=(), step_scaling=(percent,))
    assert decide(observe(10, cpu=0.9), steps, EngineState(), 0.0)[0].desired == 15
    assert decide(observe(2, cpu=0.9), steps, EngineState(), 0.0)[0].desired == 4  # at least 2
    assert decide(observe(10, cpu=0.1), steps, EngineState(), 0.0)[0].desired == 7
    exact = StepScaling("cpu", (ScalingStep(12, lower=0.9),), adjustment_type="exact")
    only = policy(target_tracking=(), step_scaling=(exact,))
    assert decide(observe(3, cpu=0.95), only, EngineState(), 0.0)[0].desired == 12


# -- conflict resolution ---------------------------------------------------------------------------


def test_scale_out_wins_with_the_largest_amount() -> None:
    both = policy(step_scaling=(QUEUE_STEPS,))
    # target wants ceil(4 x 0.6 / 0.5) = 5, step wants 4 + 5 = 9
    d, _ = decide(observe(4, utilization=0.6, queue=300), both, EngineState(), 0.0)
    assert (d.desired, d.policy) == (9, "step")
    assert d.inputs["recommendations"] == {"target": 5, "step": 9}
    assert "scale-out to 9" in d.reason


def test_a_scale_out_beats_any_scale_in() -> None:
    fast = TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0)
    both = policy(target_tracking=(fast,), step_scaling=(QUEUE_STEPS,))
    d, _ = decide(observe(10, utilization=0.1, queue=60), both, EngineState(), 0.0)
    assert (d.desired, d.policy) == (12, "step")  # target says 2, step says +2


def test_otherwise_the_smallest_scale_in_wins() -> None:
    fast = TargetTracking("utilization", 0.5, 0.1, 0.0, 0.0)
    both = policy(target_tracking=(fast,), step_scaling=(QUEUE_STEPS,))
    d, _ = decide(observe(10, utilization=0.1, queue=1), both, EngineState(), 0.0)
    assert (d.desired, d.policy) == (9, "step")  # target says 2, step says 9
    assert "smallest scale-in" in d.reason
    # A policy that holds beats one that scales in.
    d, _ = decide(observe(10, utilization=0.5, queue=1), both, EngineState(), 0.0)
    assert (d.desired, d.policy) == (10, "target")


# -- cron and scheduled capacity ------------------------------------------------------------------


def test_cron_fields() -> None:
    expr = CronExpr.parse("*/15 9-17 * * mon-fri")
    assert expr.minutes == frozenset({0, 15, 30, 45})
    assert expr.hours == frozenset(range(9, 18))
    assert expr.weekdays == frozenset({1, 2, 3, 4, 5})
    assert CronExpr.parse("0 0 * * 7").weekdays == frozenset({0})  # 7 is Sunday too
    assert CronExpr.parse("5,10-12,40/10 * * * *").minutes == frozenset({5, 10, 11, 12, 40, 50})
    assert CronExpr.parse("0 0 1 jan,jul *").months == frozenset({1, 7})
    daily = CronExpr.parse("@daily")
    assert (daily.minutes, daily.hours, daily.weekdays) == ({0}, {0}, frozenset(range(7)))


@pytest.mark.parametrize(
    "text",
    [
        "* * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "*/0 * * * *",
        "5-1 * * * *",
        "* * * foo *",
        "a * * * *",
        ", * * * *",
    ],
)
def test_cron_rejects_bad_expressions(text: str) -> None:
    with pytest.raises(CronError):
        CronExpr.parse(text)


def test_cron_matches_fixed_times() -> None:
    expr = CronExpr.parse("30 9 * * mon-fri")
    assert expr.matches(at("2024-05-06 09:30"))  # a Monday
    assert expr.matches(at("2024-05-06 09:30") + 59)
    assert not expr.matches(at("2024-05-06 09:31"))
    assert not expr.matches(at("2024-05-05 09:30"))  # a Sunday
    # Day-of-month and day-of-week both restricted: either matches (Vixie cron).
    either = CronExpr.parse("0 12 1 * fri")
    assert either.matches(at("2024-05-01 12:00"))  # a Wednesday, the 1st
    assert either.matches(at("2024-05-03 12:00"))  # a Friday
    assert not either.matches(at("2024-05-02 12:00"))
    # A UTC offset: 09:30 at UTC+2 is 07:30 UTC.
    assert expr.matches(at("2024-05-06 07:30"), utc_offset_s=7200)


def test_cron_previous_match() -> None:
    expr = CronExpr.parse("0 8 * * mon-fri")
    monday = at("2024-05-06 08:00")
    assert expr.previous_match(at("2024-05-06 10:17"), monday - 86400) == monday
    assert expr.previous_match(at("2024-05-06 07:59"), monday - 86400) is None
    friday = at("2024-05-03 08:00")
    assert expr.previous_match(at("2024-05-06 07:59"), friday) == friday  # over the weekend


def test_scheduled_capacity_with_a_fixed_clock() -> None:
    business = ScheduledCapacity("0 8 * * mon-fri", duration_s=10 * 3600, replicas=12)
    scheduled = policy(target_tracking=(), scheduled=(business,))
    inside = at("2024-05-06 12:00")
    d, _ = decide(observe(2), scheduled, EngineState(), inside)
    assert (d.desired, d.policy) == (12, "scheduled")
    assert d.inputs["scheduled"]["closes"] == at("2024-05-06 18:00")
    for outside in ("2024-05-06 07:59", "2024-05-06 18:00", "2024-05-05 12:00"):
        d, _ = decide(observe(2), scheduled, EngineState(), at(outside))
        assert d.desired == 2, outside


def test_scheduled_capacity_is_a_floor_under_target_tracking() -> None:
    business = ScheduledCapacity("0 8 * * *", duration_s=3600, replicas=6, name="morning")
    both = policy(scheduled=(business,))
    now = at("2024-05-06 08:30")
    d, _ = decide(observe(4, utilization=0.5), both, EngineState(), now)
    assert (d.desired, d.policy) == (6, "morning")
    d, _ = decide(observe(6, utilization=2.0), both, EngineState(), now)
    assert (d.desired, d.policy) == (24, "target")  # more load than scheduled: target wins


# -- predictive ---------------------------------------------------------------------------------


def forecast_of(upper: list[float], start: float = 0.0, step: float = 60.0) -> Forecast:
    mean = [u * 0.8 for u in upper]
    return Forecast(
        model="test",
        period=None,
        timestamps=tuple(start + i * step for i in range(len(upper))),
        mean=tuple(mean),
        lower=tuple(m * 0.8 for m in mean),
        upper=tuple(upper),
        level=0.9,
    )


def test_predictive_sizes_the_upper_bound_over_the_lead_window() -> None:
    forecast = forecast_of([10.0, 10.0, 30.0, 50.0, 5.0])  # requests/s per minute
    config = PredictiveScaling(target_utilization=0.5, lead_time_s=90.0)
    predictive = policy(target_tracking=(), predictive=config)
    observed = ScalingObservation(
        "agent", 2, 2, {"service_time_s": 0.2}, forecast=forecast, forecast_step_s=60.0
    )
    # now = 30: the window [30, 120) touches the steps at 0 and 60 (10/s) -> ceil(10 x 0.2 / 0.5)
    d, _ = decide(observed, predictive, EngineState(), 30.0)
    assert (d.desired, d.policy) == (4, "predictive")
    assert d.inputs["predictive"]["rate"] == 10.0
    # now = 60: [60, 150) reaches the step at 120 (30/s) -> 12
    assert decide(observed, predictive, EngineState(), 60.0)[0].desired == 12
    # now = 200: [200, 290) covers 180 (50/s) and 240 (5/s) -> 20
    assert decide(observed, predictive, EngineState(), 200.0)[0].desired == 20
    # the mean instead of the upper bound
    mean_cfg = PredictiveScaling(target_utilization=0.5, lead_time_s=90.0, bound="mean")
    d, _ = decide(observed, policy(target_tracking=(), predictive=mean_cfg), EngineState(), 200.0)
    assert d.desired == 16  # 40/s


def test_predictive_abstains_without_forecast_service_time_or_coverage() -> None:
    config = PredictiveScaling(lead_time_s=60.0)
    predictive = policy(target_tracking=(), predictive=config)
    d, _ = decide(observe(3, service_time_s=1.0), predictive, EngineState(), 0.0)
    assert d.desired == 3 and d.inputs["reasons"]["predictive"] == "no forecast"
    observed = ScalingObservation("agent", 3, 3, {}, forecast=forecast_of([10.0]))
    d, _ = decide(observed, predictive, EngineState(), 0.0)
    assert d.inputs["reasons"]["predictive"] == "no service time"
    stale = ScalingObservation(
        "agent", 3, 3, {"service_time_s": 1.0}, forecast_of([10.0, 10.0]), 60.0
    )
    d, _ = decide(stale, predictive, EngineState(), 600.0)
    assert "does not cover" in d.inputs["reasons"]["predictive"]


def test_predictive_with_reactive_floor_scale_out_wins() -> None:
    config = PredictiveScaling(target_utilization=0.5, lead_time_s=60.0, service_time_s=0.1)
    combined = policy(predictive=config)
    observed = ScalingObservation(
        "agent", 4, 4, {"utilization": 1.5}, forecast_of([10.0, 10.0]), 60.0
    )
    d, _ = decide(observed, combined, EngineState(), 0.0)
    assert d.inputs["recommendations"] == {"target": 12, "predictive": 2}
    assert (d.desired, d.policy) == (12, "target")  # the forecast under-reacts: target wins


def test_predictive_wait_slo_sizing() -> None:
    forecast = forecast_of([0.2, 0.2])
    slo = PredictiveScaling(
        target_utilization=0.7,
        lead_time_s=60,
        service_time_s=6.0,
        slo_wait_s=2.0,
        max_violation=0.01,
    )
    d, _ = decide(
        ScalingObservation("agent", 1, 1, {}, forecast, 60.0),
        policy(target_tracking=(), predictive=slo),
        EngineState(),
        0.0,
    )
    assert d.inputs["predictive"]["by_utilization"] == 2  # ceil(1.2 / 0.7)
    assert d.desired == replicas_for_wait_slo(0.2, 6.0, 2.0, 0.01) > 2


# -- capacity -------------------------------------------------------------------------------------


def test_capacity_formulas() -> None:
    assert replicas_for_rate(10.0, 0.5, 0.7) == 8  # ceil(7.14)
    assert replicas_for_rate(14.0, 0.5, 0.7) == 10  # exactly 10, not 11
    assert replicas_for_rate(0.0, 0.5, 0.7) == 0
    assert replicas_for_rate(10.0, 0.5, 0.5, concurrency=4) == 3
    # M/M/1: P(wait) = rho, mean wait = rho / (mu - lambda).
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    # A textbook M/M/2 value: a = 1 erlang -> C = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mmc_wait_exceeds(2, 1.0, 1.0, 0.0) == pytest.approx(1 / 3)
    assert mmc_wait_exceeds(2, 1.0, 1.0, 1.0) == pytest.approx(math.exp(-1.0) / 3)
    assert erlang_c(3, 3.0) == 1.0 and mmc_mean_wait(3, 3.0, 1.0) == math.inf
    c = replicas_for_wait_slo(5.0, 1.0, 0.5, 0.05)
    assert mmc_wait_exceeds(c, 5.0, 1.0, 0.5) <= 0.05 < mmc_wait_exceeds(c - 1, 5.0, 1.0, 0.5)
