"""orchestrator.v1 RolloutStrategy and Rollout <-> the rollout models of models.agents.

A request's unset strategy fields read as the model defaults (an empty `steps` as the default
canary steps); a response sets every field, so it shows the strategy in force. Only conversion
here: whether a strategy makes sense is the engine's to say.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import duration_pb2

from controlplane.api.codec.agent_keys import key_from_wire, key_to_wire
from controlplane.api.codec.agent_specs import agent_spec_from_proto, agent_spec_to_proto
from controlplane.api.codec.enums import EnumTable, matching_table
from controlplane.api.codec.wellknown import (
    duration,
    duration_seconds,
    optional_seconds,
    seconds,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agents import (
    DEFAULT_CANARY_STEPS,
    CanaryAnalysis,
    CanaryStep,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
)

STRATEGY_KINDS = matching_table(
    agent_pb2.RolloutStrategyKind, StrategyKind, unspecified=StrategyKind.ROLLING
)
ROLLOUT_STATES = matching_table(agent_pb2.RolloutState, RolloutState)
# The model spells a verdict in lower case ("pass"); the wire has an enum.
VERDICTS: EnumTable[Any, str] = EnumTable(
    agent_pb2.CanaryVerdict,
    {
        agent_pb2.CANARY_VERDICT_PASS: "pass",
        agent_pb2.CANARY_VERDICT_FAIL: "fail",
        agent_pb2.CANARY_VERDICT_INCONCLUSIVE: "inconclusive",
    },
)
_STRATEGY = RolloutStrategy()
_ANALYSIS = CanaryAnalysis()


def _number(message: Any, name: str, default: Any) -> Any:
    return getattr(message, name) if message.HasField(name) else default


def _seconds(message: Any, name: str, default: float) -> float:
    value = optional_seconds(message, name)
    return default if value is None else value


def _optional_duration(seconds_value: float | None) -> duration_pb2.Duration | None:
    return None if seconds_value is None else duration(seconds_value)


# -- strategy ---------------------------------------------------------------------------------


def canary_analysis_to_proto(analysis: CanaryAnalysis) -> agent_pb2.CanaryAnalysis:
    return agent_pb2.CanaryAnalysis(
        max_error_rate_increase=analysis.max_error_rate_increase,
        max_latency_ratio=analysis.max_latency_ratio,
        min_latency_increase=duration(analysis.min_latency_increase_s),
        min_attempts=analysis.min_attempts,
    )


def canary_analysis_from_proto(message: agent_pb2.CanaryAnalysis) -> CanaryAnalysis:
    return CanaryAnalysis(
        max_error_rate_increase=_number(
            message, "max_error_rate_increase", _ANALYSIS.max_error_rate_increase
        ),
        max_latency_ratio=_number(message, "max_latency_ratio", _ANALYSIS.max_latency_ratio),
        min_latency_increase_s=_seconds(
            message, "min_latency_increase", _ANALYSIS.min_latency_increase_s
        ),
        min_attempts=_number(message, "min_attempts", _ANALYSIS.min_attempts),
    )


def strategy_to_proto(strategy: RolloutStrategy) -> agent_pb2.RolloutStrategy:
    return agent_pb2.RolloutStrategy(
        kind=STRATEGY_KINDS.to_proto(strategy.kind),
        max_surge=strategy.max_surge,
        max_unavailable=strategy.max_unavailable,
        rollback_window=duration(strategy.rollback_window_s),
        steps=[
            agent_pb2.CanaryStep(weight_percent=s.weight_percent, hold=duration(s.hold_s))
            for s in strategy.steps
        ],
        analysis=canary_analysis_to_proto(strategy.analysis),
    )


def strategy_from_proto(
    message: agent_pb2.RolloutStrategy, field: str = "strategy"
) -> RolloutStrategy:
    """`field`: the strategy's path in the request, named when its kind is unknown."""
    steps = tuple(
        CanaryStep(weight_percent=s.weight_percent, hold_s=_seconds(s, "hold", 0.0))
        for s in message.steps
    )
    return RolloutStrategy(
        kind=STRATEGY_KINDS.from_proto(message.kind, f"{field}.kind"),
        max_surge=message.max_surge or _STRATEGY.max_surge,
        max_unavailable=message.max_unavailable or _STRATEGY.max_unavailable,
        rollback_window_s=_seconds(message, "rollback_window", _STRATEGY.rollback_window_s),
        steps=steps or DEFAULT_CANARY_STEPS,
        analysis=canary_analysis_from_proto(message.analysis),
    )


# -- rollout ----------------------------------------------------------------------------------


def rollout_step_to_proto(step: RolloutStep) -> agent_pb2.RolloutStep:
    return agent_pb2.RolloutStep(
        stable_replicas=step.stable_replicas,
        new_replicas=step.new_replicas,
        new_weight=step.new_weight,
        hold=duration(step.hold_s),
        analyse=step.analyse,
    )


def rollout_step_from_proto(message: agent_pb2.RolloutStep) -> RolloutStep:
    return RolloutStep(
        stable_replicas=message.stable_replicas,
        new_replicas=message.new_replicas,
        new_weight=_number(message, "new_weight", None),
        hold_s=_seconds(message, "hold", 0.0),
        analyse=message.analyse,
    )


def step_analysis_to_proto(analysis: StepAnalysis) -> agent_pb2.StepAnalysis:
    return agent_pb2.StepAnalysis(
        canary_attempts=analysis.canary_attempts,
        canary_error_rate=analysis.canary_error_rate,
        canary_p95_latency=_optional_duration(analysis.canary_p95_s),
        stable_attempts=analysis.stable_attempts,
        stable_error_rate=analysis.stable_error_rate,
        stable_p95_latency=_optional_duration(analysis.stable_p95_s),
        verdict=VERDICTS.to_proto(analysis.verdict),
        reason=analysis.reason,
    )


def step_analysis_from_proto(message: agent_pb2.StepAnalysis) -> StepAnalysis:
    def p95(name: str) -> float | None:
        return duration_seconds(getattr(message, name)) if message.HasField(name) else None

    return StepAnalysis(
        canary_attempts=message.canary_attempts,
        canary_error_rate=message.canary_error_rate,
        canary_p95_s=p95("canary_p95_latency"),
        stable_attempts=message.stable_attempts,
        stable_error_rate=message.stable_error_rate,
        stable_p95_s=p95("stable_p95_latency"),
        verdict=VERDICTS.from_proto(message.verdict, "rollout.analysis.verdict"),
        reason=message.reason,
    )


def rollout_to_proto(rollout: RolloutRecord) -> agent_pb2.Rollout:
    return agent_pb2.Rollout(
        rollout_id=rollout.rollout_id,
        namespace=key_to_wire(rollout.agent)[0],
        agent=key_to_wire(rollout.agent)[1],
        strategy=strategy_to_proto(rollout.strategy),
        stable_spec=None if rollout.stable is None else agent_spec_to_proto(rollout.stable),
        new_spec=agent_spec_to_proto(rollout.new),
        steps=[rollout_step_to_proto(s) for s in rollout.steps],
        step=rollout.step,
        state=ROLLOUT_STATES.to_proto(rollout.state),
        create_time=timestamp(rollout.create_time),
        update_time=timestamp(rollout.update_time),
        step_start_time=timestamp(rollout.step_start_time),
        message=rollout.message,
        analysis=None if rollout.analysis is None else step_analysis_to_proto(rollout.analysis),
    )


def rollout_from_proto(message: agent_pb2.Rollout) -> RolloutRecord:
    return RolloutRecord(
        rollout_id=message.rollout_id,
        agent=key_from_wire(message.namespace, message.agent),
        strategy=strategy_from_proto(message.strategy, "rollout.strategy"),
        stable=(
            agent_spec_from_proto(message.stable_spec) if message.HasField("stable_spec") else None
        ),
        new=agent_spec_from_proto(message.new_spec),
        steps=tuple(rollout_step_from_proto(s) for s in message.steps),
        step=message.step,
        state=ROLLOUT_STATES.from_proto(message.state, "rollout.state"),
        create_time=seconds(message.create_time),
        update_time=seconds(message.update_time),
        step_start_time=optional_seconds(message, "step_start_time"),
        message=message.message,
        analysis=(
            step_analysis_from_proto(message.analysis) if message.HasField("analysis") else None
        ),
    )
