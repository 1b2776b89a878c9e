"""An agent's rollout as a detail block (strategy, state, step i of n with its weight and
replicas, the latest analysis, the message) and a table of its steps; the same block is the
live view of `agents deploy --wait` and `agents rollout --watch` (pure: data in, rich
renderables out)."""

from __future__ import annotations

import time

from rich.console import Group
from rich.table import Table
from rich.text import Text

from controlplane.cli.json_text import display_text
from controlplane.cli.quantities import number, seconds_text, when
from models.agents import (
    CanaryAnalysis,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
)

# As the CLI spells the kinds (`--strategy blue-green`).
KIND_NAMES = {
    StrategyKind.ROLLING: "rolling",
    StrategyKind.BLUE_GREEN: "blue-green",
    StrategyKind.CANARY: "canary",
}
STATE_STYLES = {
    RolloutState.PROGRESSING: "cyan",
    RolloutState.SUCCEEDED: "green",
    RolloutState.ROLLED_BACK: "yellow",
    RolloutState.FAILED: "red",
}
_VERDICT_STYLES = {"pass": "green", "fail": "red", "inconclusive": "yellow"}
MESSAGE_LIMIT = 300


def percent(value: float) -> str:
    """A percentage as given: `10%`, `12.5%`."""
    return f"{number(value)}%"


def share(value: float) -> str:
    """A share in [0, 1] as a percentage: 0.1 -> `10%`."""
    return percent(value * 100)


def _millis(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def state_text(state: RolloutState) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state, ""))


# -- the strategy -----------------------------------------------------------------------------


def analysis_rule_text(analysis: CanaryAnalysis) -> str:
    """`fails on an error rate > stable + 5%, or a p95 > 1.5x stable and > stable + 50ms;
    a verdict after 20 attempts`."""
    return (
        f"fails on an error rate > stable + {share(analysis.max_error_rate_increase)}, or a "
        f"p95 > {number(analysis.max_latency_ratio)}x stable and > stable + "
        f"{_millis(analysis.min_latency_increase_s)}; a verdict after {analysis.min_attempts} "
        "canary attempts"
    )


def strategy_text(strategy: RolloutStrategy) -> str:
    """`rolling (max surge 25%, max unavailable 0)`, `blue-green (rollback window 5m)`,
    `canary 10% for 1m -> 50% for 1m -> 100%`."""
    name = KIND_NAMES.get(strategy.kind, strategy.kind.value.lower())
    if strategy.kind is StrategyKind.ROLLING:
        return (
            f"{name} (max surge {strategy.max_surge}, max unavailable {strategy.max_unavailable})"
        )
    if strategy.kind is StrategyKind.BLUE_GREEN:
        return f"{name} (rollback window {seconds_text(strategy.rollback_window_s)})"
    steps = [f"{percent(s.weight_percent)} for {seconds_text(s.hold_s)}" for s in strategy.steps]
    return f"{name} {' -> '.join([*steps, '100%'])}"


# -- the rollout ------------------------------------------------------------------------------


def weight_text(step: RolloutStep) -> str:
    return "by replicas" if step.new_weight is None else share(step.new_weight)


def versions_text(rollout: RolloutRecord) -> str:
    stable = rollout.stable.version if rollout.stable is not None else "(first deploy)"
    return f"{stable} -> {rollout.new.version}"


def step_text(rollout: RolloutRecord, now: float | None = None) -> str:
    """`2/3: 50% of the attempts to v2, 2 stable + 2 new replicas, held 34s of 1m`."""
    if not rollout.steps:
        return "-"
    step = rollout.current
    index = min(rollout.step, len(rollout.steps) - 1)
    traffic = (
        "attempts by replica count"
        if step.new_weight is None
        else f"{share(step.new_weight)} of the attempts to {rollout.new.version}"
    )
    text = (
        f"{index + 1}/{len(rollout.steps)}: {traffic}, {step.stable_replicas} stable + "
        f"{step.new_replicas} new replicas"
    )
    if rollout.active and rollout.step_start_time is not None and step.hold_s > 0:
        held = max(0.0, (time.time() if now is None else now) - rollout.step_start_time)
        text += f", held {seconds_text(held)} of {seconds_text(step.hold_s)}"
    return text


def analysis_text(analysis: StepAnalysis) -> Text:
    """`pass: canary 25 attempts, 4% errors, p95 120ms; stable 80 attempts, 2.5% errors, p95
    100ms (why)`."""
    line = Text.assemble(
        (analysis.verdict, _VERDICT_STYLES.get(analysis.verdict, "")),
        f": canary {analysis.canary_attempts} attempts, {share(analysis.canary_error_rate)} "
        f"errors, p95 {_millis(analysis.canary_p95_s)}; stable {analysis.stable_attempts} "
        f"attempts, {share(analysis.stable_error_rate)} errors, p95 "
        f"{_millis(analysis.stable_p95_s)}",
    )
    if analysis.reason:
        line.append(f" ({display_text(analysis.reason, MESSAGE_LIMIT)})")
    return line


def _field(label: str, value: str | Text) -> Text:
    return Text.assemble(f"  {label:<15} ", value)


def rollout_lines(rollout: RolloutRecord, now: float | None = None) -> list[Text]:
    lines = [
        Text.assemble(
            ("rollout ", "bold"), (rollout.rollout_id, "bold"), "  ", state_text(rollout.state)
        ),
        _field("versions", versions_text(rollout)),
        _field("strategy", strategy_text(rollout.strategy)),
    ]
    if rollout.strategy.kind is StrategyKind.CANARY:
        lines.append(_field("analysis rule", analysis_rule_text(rollout.strategy.analysis)))
    lines.append(_field("step", step_text(rollout, now)))
    if rollout.analysis is not None:
        lines.append(_field("analysis", analysis_text(rollout.analysis)))
    if rollout.message:
        lines.append(_field("message", display_text(rollout.message, MESSAGE_LIMIT)))
    lines.append(_field("started", when(rollout.create_time)))
    lines.append(_field("updated", when(rollout.update_time)))
    return lines


def steps_table(rollout: RolloutRecord) -> Table:
    """Every step, the current one marked (`>`) while the rollout is in progress."""
    table = Table("", "STEP", "STABLE", "NEW", "NEW WEIGHT", "HOLD", "ANALYSED")
    for index, step in enumerate(rollout.steps):
        current = rollout.active and index == rollout.step
        table.add_row(
            ">" if current else "",
            str(index + 1),
            str(step.stable_replicas),
            str(step.new_replicas),
            weight_text(step),
            seconds_text(step.hold_s),
            "yes" if step.analyse else "-",
            style="bold" if current else None,
        )
    return table


def rollout_view(rollout: RolloutRecord, now: float | None = None) -> Group:
    return Group(*rollout_lines(rollout, now), steps_table(rollout))
