"""The scaling policy engine: `decide(observed, policy, state, now) -> (decision, new state)`.

Pure and deterministic: the caller passes the time and the previous state and keeps the new
one; nothing is read from a clock or mutated. One decision per evaluation period per agent:

1. every policy recommends a replica count or abstains (with its reason and inputs):
   - target tracking as the Kubernetes HPA computes it: ratio = value / target; within the
     tolerance, keep the current count; else ceil(ready x value / target), counting replicas
     that are still starting at 0 when scaling up and at the target when scaling down (and
     holding when that reverses the direction). The raw count is recorded in the state;
     the recommendation is then stabilised as the HPA does: never above the current count
     unless every raw count within the scale-up window is, never below it unless every raw
     count within the scale-down window is (so scale-down takes the window's maximum);
   - step scaling, scheduled (cron) capacity, predictive: see `policies`;
2. conflict resolution: the largest recommendation wins (scale-out wins with the largest
   amount; when nobody scales out, the smallest scale-in); nobody recommends: hold;
3. the largest step per decision (scale-out / scale-in limits);
4. cooldowns: no scale-out within `scale_out_cooldown_s` of the last scale-out, no scale-in
   within `scale_in_cooldown_s` of the last scaling event;
5. clamping to [min_replicas, max_replicas] (always applied, even during a cooldown).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from models.forecasting import Forecast, ScalingDecision
from models.scaling import (
    PredictiveScaling,
    ScalingPolicy,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)
from scheduler.scaling.capacity import replicas_for_rate, replicas_for_wait_slo

_EPS = 1e-9
History = tuple[tuple[float, int], ...]
_TIME = itemgetter(0)
_REPLICAS = itemgetter(1)


@dataclass(frozen=True)
class ScalingObservation:
    """What the control loop saw for one agent at decision time.

    `replicas`: the current desired count (ready plus starting); `ready_replicas`: how many
    of them serve (None: all). `metrics`: per-replica averages over the last evaluation
    period (e.g. `utilization`, `in_flight`) plus `service_time_s` (measured mean). `forecast`:
    of the arrival rate in requests/s, each value covering [timestamp, timestamp + step);
    `forecast_step_s` None: the spacing of its timestamps.
    """

    agent: str
    replicas: int
    ready_replicas: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    forecast: Forecast | None = None
    forecast_step_s: float | None = None


@dataclass(frozen=True)
class EngineState:
    """What the engine remembers between decisions: per target-tracking policy the raw
    recommendations still inside its stabilisation windows, and the last scaling events."""

    history: Mapping[str, History] = field(default_factory=dict)
    last_scale_out: float | None = None
    last_scale_in: float | None = None


@dataclass(slots=True)
class Recommendation:
    """One policy's vote: a replica count, or None when it abstains (a plain value: not
    frozen only because frozen dataclasses are slow to build, several per decision)."""

    policy: str
    replicas: int | None
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)


def _ceil(x: float) -> int:
    return max(0, math.ceil(x - _EPS))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def target_tracking(
    config: TargetTracking, observed: ScalingObservation, history: History, now: float
) -> tuple[Recommendation, History]:
    """The HPA's recommendation and the updated raw-recommendation history."""
    value = observed.metrics.get(config.metric)
    if value is None or not math.isfinite(value):
        return Recommendation(config.name, None, f"no {config.metric} metric"), history
    current = observed.replicas
    ready = current if observed.ready_replicas is None else observed.ready_replicas
    if ready <= 0:
        return Recommendation(config.name, None, "no ready replica reports metrics"), history
    unready = current - ready if current > ready else 0
    ratio = value / config.target
    if abs(ratio - 1.0) <= config.tolerance:
        raw, why = current, f"{config.metric} {value:.3g} within tolerance of {config.target:g}"
    elif ratio > 1.0:
        raw_f = value * ready / config.target  # starting replicas count as 0
        if current > 0 and raw_f / current <= 1.0 + config.tolerance:
            raw, why = current, "starting replicas already cover the scale-up"
        else:
            raw = _ceil(raw_f)
            why = f"{config.metric} {value:.3g} above target {config.target:g}"
    else:
        raw_f = value * ready / config.target + unready  # starting replicas at the target
        if current > 0 and raw_f / current >= 1.0 - config.tolerance:
            raw, why = current, "starting replicas counted at target: hold"
        else:
            raw = _ceil(raw_f)
            why = f"{config.metric} {value:.3g} below target {config.target:g}"

    # History entries are in time order: drop those older than both windows.
    up_window = config.scale_up_stabilization_s
    down_window = config.scale_down_stabilization_s
    keep_after = now - (up_window if up_window > down_window else down_window)
    kept = history
    if kept and kept[0][0] <= keep_after:
        kept = kept[bisect_right(kept, keep_after, key=_TIME) :]
    up, down = raw, raw
    if up_window > 0 and kept:
        since = 0 if up_window >= down_window else bisect_right(kept, now - up_window, key=_TIME)
        up = min(raw, min(map(_REPLICAS, kept[since:]), default=raw))
    if down_window > 0 and kept:
        since = 0 if down_window >= up_window else bisect_right(kept, now - down_window, key=_TIME)
        down = max(raw, max(map(_REPLICAS, kept[since:]), default=raw))
    stabilised = current
    if stabilised < up:
        stabilised = up
    if stabilised > down:
        stabilised = down
    if stabilised != raw:
        why += f"; stabilised {raw} -> {stabilised}"
    new_history = (*kept, (now, raw))
    inputs = {"metric": config.metric, "value": value, "target": config.target, "raw": raw}
    return Recommendation(config.name, stabilised, why, inputs), new_history


def step_scaling(config: StepScaling, observed: ScalingObservation) -> Recommendation:
    value = observed.metrics.get(config.metric)
    if value is None or not _finite(value):
        return Recommendation(config.name, None, f"no {config.metric} metric")
    step = next((s for s in config.steps if s.contains(value)), None)
    if step is None:
        return Recommendation(config.name, None, f"{config.metric} {value:.3g} in no step")
    current = observed.replicas
    if config.adjustment_type == "exact":
        wanted = round(step.adjustment)
    elif config.adjustment_type == "change":
        wanted = current + int(step.adjustment)
    else:
        magnitude = int(abs(current * step.adjustment) / 100.0 + _EPS)
        if step.adjustment != 0:
            magnitude = max(magnitude, config.min_adjustment_magnitude)
        wanted = current + (magnitude if step.adjustment > 0 else -magnitude)
    wanted = max(0, wanted)
    band = f"[{'-inf' if step.lower is None else step.lower}, "
    band += f"{'inf' if step.upper is None else step.upper})"
    why = f"{config.metric} {value:.3g} in {band}: {config.adjustment_type} {step.adjustment:g}"
    inputs = {"metric": config.metric, "value": value, "adjustment": step.adjustment}
    return Recommendation(config.name, wanted, why, inputs)


def scheduled(config: ScheduledCapacity, now: float) -> Recommendation:
    opened = config.expr.previous_match(now, now - config.duration_s, config.utc_offset_s)
    if opened is None or now >= opened + config.duration_s:
        return Recommendation(config.name, None, f"outside '{config.cron}'")
    why = f"'{config.cron}' window open since {opened:.0f} for {config.duration_s:g}s"
    inputs = {"cron": config.cron, "opened": opened, "closes": opened + config.duration_s}
    return Recommendation(config.name, config.replicas, why, inputs)


def _forecast_window(
    forecast: Forecast, step_s: float | None, start: float, end: float
) -> tuple[int, int]:
    """Indexes [lo, hi) of the forecast steps overlapping [start, end)."""
    stamps = forecast.timestamps
    if step_s is None:
        step_s = stamps[1] - stamps[0] if len(stamps) > 1 else math.inf
    lo = bisect_left(stamps, start - step_s)
    while lo < len(stamps) and stamps[lo] + step_s <= start:
        lo += 1
    hi = bisect_left(stamps, end)
    return lo, max(lo, hi)


def predictive(
    config: PredictiveScaling, observed: ScalingObservation, now: float
) -> Recommendation:
    forecast = observed.forecast
    if forecast is None or not forecast.timestamps:
        return Recommendation(config.name, None, "no forecast")
    service_time = config.service_time_s or observed.metrics.get("service_time_s")
    if service_time is None or not _finite(service_time) or service_time <= 0:
        return Recommendation(config.name, None, "no service time")
    end = now + config.lead_time_s
    lo, hi = _forecast_window(forecast, observed.forecast_step_s, now, max(end, now + _EPS))
    values = forecast.upper if config.bound == "upper" else forecast.mean
    window = [v for v in values[lo:hi] if _finite(v)]
    if not window:
        return Recommendation(config.name, None, "forecast does not cover the lead window")
    rate = max(0.0, max(window))
    wanted = replicas_for_rate(rate, service_time, config.target_utilization, config.concurrency)
    inputs: dict[str, Any] = {
        "model": forecast.model,
        "level": forecast.level,
        "bound": config.bound,
        "window": [now, end],
        "rate": rate,
        "service_time_s": service_time,
        "by_utilization": wanted,
    }
    why = (
        f"forecast {config.bound} {rate:.3g}/s within {config.lead_time_s:g}s x "
        f"{service_time:.3g}s at {config.target_utilization:g} utilisation"
    )
    if config.slo_wait_s is not None and rate > 0:
        by_slo = replicas_for_wait_slo(
            rate, service_time, config.slo_wait_s, config.max_violation, config.concurrency
        )
        inputs["by_wait_slo"] = by_slo
        if by_slo > wanted:
            wanted = by_slo
            why += f"; Erlang C: {by_slo} for P(wait > {config.slo_wait_s:g}s) <= "
            why += f"{config.max_violation:g}"
    return Recommendation(config.name, wanted, why, inputs)


def recommendations(
    observed: ScalingObservation, policy: ScalingPolicy, state: EngineState, now: float
) -> tuple[list[Recommendation], dict[str, History]]:
    """Every policy's vote, and the target-tracking histories to keep."""
    votes: list[Recommendation] = []
    history: dict[str, History] = {}
    for config in policy.target_tracking:
        vote, history[config.name] = target_tracking(
            config, observed, state.history.get(config.name, ()), now
        )
        votes.append(vote)
    if policy.step_scaling:
        votes.extend(step_scaling(config, observed) for config in policy.step_scaling)
    if policy.scheduled:
        votes.extend(scheduled(config, now) for config in policy.scheduled)
    if policy.predictive is not None:
        votes.append(predictive(policy.predictive, observed, now))
    return votes, history


def decide(
    observed: ScalingObservation, policy: ScalingPolicy, state: EngineState, now: float
) -> tuple[ScalingDecision, EngineState]:
    """One decision for `observed.agent` at time `now`, and the state for the next one."""
    current = observed.replicas
    votes, history = recommendations(observed, policy, state, now)
    voting = [v for v in votes if v.replicas is not None]
    inputs: dict[str, Any] = {
        "current": current,
        "ready": observed.ready_replicas,
        "metrics": dict(observed.metrics),
        "recommendations": {v.policy: v.replicas for v in votes},
        "reasons": {v.policy: v.reason for v in votes},
    }
    for vote in votes:
        if vote.inputs:
            inputs[vote.policy] = vote.inputs
    if voting:
        best = max(voting, key=lambda v: v.replicas or 0)  # the first of equals
        wanted = best.replicas or 0
        winner = best.policy
        others = ", ".join(f"{v.policy} {v.replicas}" for v in voting)
        if wanted > current:
            reason = f"scale-out to {wanted}: {winner} wants the most ({others}); {best.reason}"
        elif wanted < current:
            reason = (
                f"scale-in to {wanted}: {winner} wants the smallest scale-in ({others}); "
                f"{best.reason}"
            )
        else:
            reason = f"hold at {current}: {winner} ({others}); {best.reason}"
    else:
        wanted, winner = current, "none"
        reason = (
            "hold: no policy recommends a count ("
            + "; ".join(f"{v.policy}: {v.reason}" for v in votes)
            + ")"
        )
    inputs["winner"] = winner
    inputs["wanted"] = wanted
    desired, label = wanted, winner

    if desired > current:
        allowance = policy.scale_out_limit.allowance(current)
        if allowance is not None and desired > current + allowance:
            desired = current + allowance
            reason += f"; limited to +{allowance} per decision"
    elif desired < current:
        allowance = policy.scale_in_limit.allowance(current)
        if allowance is not None and desired < current - allowance:
            desired = current - allowance
            reason += f"; limited to -{allowance} per decision"

    if desired > current and policy.scale_out_cooldown_s > 0 and state.last_scale_out is not None:
        since = now - state.last_scale_out
        if since < policy.scale_out_cooldown_s:
            desired, label = current, "cooldown"
            reason += f"; scale-out cooldown ({since:g}s of {policy.scale_out_cooldown_s:g}s)"
    if desired < current and policy.scale_in_cooldown_s > 0:
        events = [t for t in (state.last_scale_out, state.last_scale_in) if t is not None]
        since = now - max(events) if events else math.inf
        if since < policy.scale_in_cooldown_s:
            desired, label = current, "cooldown"
            reason += f"; scale-in cooldown ({since:g}s of {policy.scale_in_cooldown_s:g}s)"

    clamped = min(max(desired, policy.min_replicas), policy.max_replicas)
    if clamped != desired:
        reason += f"; clamped {desired} -> {clamped} to [{policy.min_replicas}, "
        reason += f"{policy.max_replicas}]"
        desired, label = clamped, "clamp"

    decision = ScalingDecision(
        agent=observed.agent,
        time=now,
        current=current,
        desired=desired,
        policy=label,
        reason=reason,
        inputs=inputs,
    )
    new_state = EngineState(
        history=history,
        last_scale_out=now if desired > current else state.last_scale_out,
        last_scale_in=now if desired < current else state.last_scale_in,
    )
    return decision, new_state
