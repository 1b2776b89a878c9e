"""The steps of a rollout, planned when it starts (pure): which replicas of the stable and the
new version run at each step, and what share of the attempts the new version takes."""

from __future__ import annotations

import math
import re

from models.agents import AgentSpec, RolloutStep, RolloutStrategy, StrategyKind, VersionTarget
from models.errors import FieldViolation

COUNT_RE = re.compile(r"^(\d{1,9})(%?)$")
MAX_CANARY_STEPS = 20
MAX_HOLD_S = 7 * 24 * 3600.0


def resolve_count(text: str, desired: int, round_up: bool) -> int:
    """A Kubernetes-style count: "2" replicas, or "25%" of `desired` (rounded up or down)."""
    match = COUNT_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a count or a percentage")
    number, percent = int(match.group(1)), match.group(2)
    if not percent:
        return number
    share = desired * number / 100
    return math.ceil(share) if round_up else math.floor(share)


def strategy_problems(
    strategy: RolloutStrategy, new: AgentSpec, stable: AgentSpec | None, prefix: str = "strategy"
) -> list[FieldViolation]:
    problems: list[FieldViolation] = []

    def bad(field: str, why: str) -> None:
        problems.append(FieldViolation(f"{prefix}.{field}", why))

    for field, text in (
        ("max_surge", strategy.max_surge),
        ("max_unavailable", strategy.max_unavailable),
    ):
        match = COUNT_RE.match(text.strip())
        if match is None:
            bad(field, f'{text!r} is not a replica count ("2") or a percentage ("25%")')
        elif match.group(2) and int(match.group(1)) > 100:
            bad(field, "a percentage must be at most 100%")
    if not problems and strategy.kind is StrategyKind.ROLLING:
        surge = resolve_count(strategy.max_surge, new.replicas, round_up=True)
        unavailable = resolve_count(strategy.max_unavailable, new.replicas, round_up=False)
        if surge == 0 and unavailable == 0 and new.replicas > 0:
            bad("max_surge", "max_surge and max_unavailable cannot both be 0: nothing could move")
    if strategy.kind is not StrategyKind.ROLLING and stable is not None:
        if stable.version == new.version:
            bad(
                "kind",
                f"a {strategy.kind.value.lower()} rollout splits traffic between two versions; "
                f"version {new.version!r} is the one serving",
            )
        if new.replicas == 0:
            bad(
                "kind", f"a {strategy.kind.value.lower()} rollout needs replicas of the new version"
            )
    if not 0 <= strategy.rollback_window_s <= MAX_HOLD_S:
        bad("rollback_window", "must be between 0 and 7 days")
    if strategy.kind is StrategyKind.CANARY:
        problems.extend(_canary_problems(strategy, prefix))
    return problems


def _canary_problems(strategy: RolloutStrategy, prefix: str) -> list[FieldViolation]:
    problems: list[FieldViolation] = []
    if len(strategy.steps) > MAX_CANARY_STEPS:
        problems.append(FieldViolation(f"{prefix}.steps", f"at most {MAX_CANARY_STEPS} steps"))
    previous = 0.0
    for i, step in enumerate(strategy.steps):
        where = f"{prefix}.steps[{i}]"
        if not math.isfinite(step.weight_percent) or not 0 < step.weight_percent < 100:
            problems.append(
                FieldViolation(
                    f"{where}.weight_percent",
                    "must be over 0 and under 100 (100% is the promotion)",
                )
            )
        elif step.weight_percent <= previous:
            problems.append(FieldViolation(f"{where}.weight_percent", "steps must increase"))
        else:
            previous = step.weight_percent
        if not math.isfinite(step.hold_s) or not 0 <= step.hold_s <= MAX_HOLD_S:
            problems.append(FieldViolation(f"{where}.hold", "must be between 0 and 7 days"))
    analysis = strategy.analysis
    where = f"{prefix}.analysis"
    if (
        not math.isfinite(analysis.max_error_rate_increase)
        or not 0 <= analysis.max_error_rate_increase <= 1
    ):
        problems.append(
            FieldViolation(f"{where}.max_error_rate_increase", "must be between 0 and 1")
        )
    if not math.isfinite(analysis.max_latency_ratio) or analysis.max_latency_ratio < 1:
        problems.append(FieldViolation(f"{where}.max_latency_ratio", "must be at least 1"))
    if not math.isfinite(analysis.min_latency_increase_s) or analysis.min_latency_increase_s < 0:
        problems.append(FieldViolation(f"{where}.min_latency_increase", "must not be negative"))
    if not 1 <= analysis.min_attempts <= 100_000:
        problems.append(FieldViolation(f"{where}.min_attempts", "must be between 1 and 100000"))
    return problems


def plan(
    strategy: RolloutStrategy, stable: AgentSpec | None, new: AgentSpec
) -> tuple[RolloutStep, ...]:
    """The steps from `stable` (None: nothing deployed) to `new`; the last one runs `new` alone."""
    final = RolloutStep(0, new.replicas)
    if stable is None or stable.replicas == 0:
        return (final,)
    if strategy.kind is StrategyKind.BLUE_GREEN:
        return (
            RolloutStep(stable.replicas, new.replicas, new_weight=0.0),
            RolloutStep(
                stable.replicas, new.replicas, new_weight=1.0, hold_s=strategy.rollback_window_s
            ),
            final,
        )
    if strategy.kind is StrategyKind.CANARY:
        steps = [
            RolloutStep(
                stable.replicas,
                max(1, math.ceil(new.replicas * step.weight_percent / 100)),
                new_weight=step.weight_percent / 100,
                hold_s=step.hold_s,
                analyse=True,
            )
            for step in strategy.steps
        ]
        return (*steps, final)
    return _rolling(strategy, stable.replicas, new.replicas)


def _rolling(strategy: RolloutStrategy, stable: int, desired: int) -> tuple[RolloutStep, ...]:
    """Kubernetes' rolling update: at most desired + surge replicas at once, at least
    desired - unavailable of them ready. A step's new replicas are ready before the next
    step retires old ones (each step's start waits for them)."""
    surge = resolve_count(strategy.max_surge, desired, round_up=True)
    unavailable = resolve_count(strategy.max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        surge = 1
    old, new = stable, 0
    steps: list[RolloutStep] = []
    while old > 0 or new < desired:
        grow = max(0, min(desired - new, desired + surge - old - new))
        new += grow
        # The new replicas are ready once the step is applied: retire what availability allows.
        keep = max(0, desired - unavailable - new)
        shrink = max(0, old - keep)
        if grow == 0 and shrink == 0:
            shrink = old  # defensive: never loop without progress
        old -= shrink
        steps.append(RolloutStep(old, new))
    return tuple(steps) or (RolloutStep(0, desired),)


def targets(step: RolloutStep, stable: AgentSpec | None, new: AgentSpec) -> list[VersionTarget]:
    """What the backend should run for one step."""
    new_weight = step.new_weight
    result = [VersionTarget(new, step.new_replicas, new_weight)]
    if stable is not None and step.stable_replicas > 0:
        stable_weight = None if new_weight is None else 1.0 - new_weight
        result.insert(0, VersionTarget(stable, step.stable_replicas, stable_weight))
    elif new_weight is not None:
        result = [VersionTarget(new, step.new_replicas, None)]
    return result
