"""The rollout strategy as a request carries it: what is left unset reads as the model's
default, what is set (zero included) is kept, an unknown kind names its field; and the agent
carries its rollout (or none). Full round trips: test_codec_roundtrip."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2

from controlplane.api.codec.agents import agent_from_proto, agent_to_proto
from controlplane.api.codec.enums import UnknownEnumValue
from controlplane.api.codec.rollouts import rollout_from_proto, strategy_from_proto
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agents import (
    DEFAULT_CANARY_STEPS,
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentView,
    CanaryAnalysis,
    CanaryStep,
    RolloutStrategy,
    StrategyKind,
)


def test_an_empty_strategy_is_the_default_rolling_update() -> None:
    assert strategy_from_proto(agent_pb2.RolloutStrategy()) == RolloutStrategy()


def test_a_canary_given_by_its_kind_alone_takes_the_default_steps_and_analysis() -> None:
    message = agent_pb2.RolloutStrategy(kind=agent_pb2.ROLLOUT_STRATEGY_KIND_CANARY)
    strategy = strategy_from_proto(message)
    assert strategy.kind is StrategyKind.CANARY
    assert strategy.steps == DEFAULT_CANARY_STEPS
    assert strategy.analysis == CanaryAnalysis()


def test_set_fields_are_kept_and_unset_ones_default_one_by_one() -> None:
    message = agent_pb2.RolloutStrategy(
        kind=agent_pb2.ROLLOUT_STRATEGY_KIND_CANARY,
        max_surge="0",
        steps=[agent_pb2.CanaryStep(weight_percent=20.0)],  # no hold
        analysis=agent_pb2.CanaryAnalysis(min_attempts=5, max_error_rate_increase=0.0),
    )
    strategy = strategy_from_proto(message)
    assert strategy.max_surge == "0"
    assert strategy.max_unavailable == RolloutStrategy().max_unavailable
    assert strategy.steps == (CanaryStep(20.0, 0.0),)
    assert strategy.analysis == CanaryAnalysis(max_error_rate_increase=0.0, min_attempts=5)


def test_a_zero_rollback_window_is_kept_and_an_unset_one_defaults() -> None:
    zero = agent_pb2.RolloutStrategy(
        kind=agent_pb2.ROLLOUT_STRATEGY_KIND_BLUE_GREEN, rollback_window=duration_pb2.Duration()
    )
    assert strategy_from_proto(zero).rollback_window_s == 0.0
    unset = agent_pb2.RolloutStrategy(kind=agent_pb2.ROLLOUT_STRATEGY_KIND_BLUE_GREEN)
    assert strategy_from_proto(unset).rollback_window_s == RolloutStrategy().rollback_window_s


def test_an_unknown_kind_names_the_field() -> None:
    message = agent_pb2.RolloutStrategy(kind=42)  # type: ignore[arg-type]
    with pytest.raises(UnknownEnumValue) as raised:
        strategy_from_proto(message)
    assert raised.value.violations[0].field == "strategy.kind"


def test_a_rollout_without_a_state_is_refused_naming_it() -> None:
    with pytest.raises(UnknownEnumValue, match=r"rollout\.state: must be set"):
        rollout_from_proto(agent_pb2.Rollout(rollout_id="r", agent="a"))


def test_an_agent_without_a_rollout_reads_back_without_one() -> None:
    view = AgentView(AgentRecord(AgentSpec("a", "v1", "m:A"), 1.0, 2.0), AgentState.READY, [])
    message = agent_to_proto(view)
    assert not message.HasField("rollout")
    assert agent_from_proto(message) == view
