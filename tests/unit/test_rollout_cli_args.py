"""`agents deploy` rollout flags: the strategy they make (a flag implies its strategy, none
leaves the server's default), and one usage line naming the flag for a malformed value or a flag
of another strategy (exit 2, nothing sent)."""

from __future__ import annotations

import argparse

import pytest

from controlplane.cli.client import rollout_args
from controlplane.cli.client.rollout_args import canary_step_arg, replica_count_arg
from controlplane.cli.main import main
from controlplane.cli.parser import build_parser
from controlplane.cli.usage import UsageProblem
from models.agents import (
    DEFAULT_CANARY_STEPS,
    CanaryAnalysis,
    CanaryStep,
    RolloutStrategy,
    StrategyKind,
)

DEPLOY = ["agents", "deploy", "coder", "--version", "v2", "--import-path", "m:Coder"]
# Nothing listens here: a usage error must come before any call.
NOWHERE = ["--address", "127.0.0.1:9", "--timeout", "1"]


def strategy(*flags: str) -> RolloutStrategy | None:
    return rollout_args.strategy(build_parser().parse_args([*DEPLOY, *flags]))


# -- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2", "2"), ("0", "0"), ("25%", "25%"), (" 100% ", "100%"), ("007", "7"), ("0%", "0%")],
)
def test_replica_counts_are_numbers_or_percentages(text: str, expected: str) -> None:
    assert replica_count_arg(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a number of replicas (2) or a percentage of them (25%)"),
        ("-1", "expected a number of replicas"),
        ("1.5", "expected a number of replicas"),
        ("25 %", "expected a number of replicas"),
        ("%", "expected a number of replicas"),
        ("101%", "a percentage must be at most 100%"),
        ("5000", "must be at most 1000 replicas"),
    ],
)
def test_bad_replica_counts_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        replica_count_arg(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10%:1m", CanaryStep(10.0, 60.0)),
        ("12.5%:90s", CanaryStep(12.5, 90.0)),
        ("50:1h30m", CanaryStep(50.0, 5400.0)),
        ("99.9%:0", CanaryStep(99.9, 0.0)),
        (" 5% : 500ms ", CanaryStep(5.0, 0.5)),
    ],
)
def test_canary_steps_are_weight_and_hold(text: str, expected: CanaryStep) -> None:
    assert canary_step_arg(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10%", "expected WEIGHT%:HOLD such as 10%:1m, got '10%'"),
        ("ten%:1m", "the weight must be a percentage such as 10%, got 'ten%'"),
        ("0%:1m", "more than 0% and less than 100%"),
        ("100%:1m", "more than 0% and less than 100% (100% follows the last step)"),
        ("nan%:1m", "more than 0% and less than 100%"),
        ("10%:soon", "the hold: invalid duration 'soon'"),
        ("10%:-1m", "the hold: invalid duration '-1m': must not be negative"),
        ("10%:", "the hold: invalid duration: empty"),
    ],
)
def test_bad_canary_steps_say_which_part_is_wrong(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        canary_step_arg(text)
    assert message in str(raised.value)


# -- the strategy -----------------------------------------------------------------------------


def test_no_rollout_flag_leaves_the_servers_default() -> None:
    assert strategy() is None
    assert build_parser().parse_args(DEPLOY).wait is False


def test_each_strategy_with_its_defaults() -> None:
    assert strategy("--strategy", "rolling") == RolloutStrategy()
    assert strategy("--strategy", "blue-green") == RolloutStrategy(kind=StrategyKind.BLUE_GREEN)
    canary = strategy("--strategy", "canary")
    assert canary == RolloutStrategy(kind=StrategyKind.CANARY)
    assert canary is not None and canary.steps == DEFAULT_CANARY_STEPS


def test_every_flag_lands_in_the_strategy() -> None:
    assert strategy("--max-surge", "2", "--max-unavailable", "10%", "--wait") == RolloutStrategy(
        max_surge="2", max_unavailable="10%"
    )
    assert strategy("--strategy", "blue-green", "--rollback-window", "0") == RolloutStrategy(
        kind=StrategyKind.BLUE_GREEN, rollback_window_s=0.0
    )
    canary = strategy(
        "--step", "10%:1m", "--step", "50%:2m",
        "--max-error-rate-increase", "0.02", "--max-latency-ratio", "2",
        "--min-latency-increase", "100ms", "--min-attempts", "50",
    )  # fmt: skip
    assert canary == RolloutStrategy(
        kind=StrategyKind.CANARY,
        steps=(CanaryStep(10.0, 60.0), CanaryStep(50.0, 120.0)),
        analysis=CanaryAnalysis(
            max_error_rate_increase=0.02,
            max_latency_ratio=2.0,
            min_latency_increase_s=0.1,
            min_attempts=50,
        ),
    )


def test_a_flag_implies_its_strategy() -> None:
    implied = strategy("--min-attempts", "5")
    assert implied is not None and implied.kind is StrategyKind.CANARY
    assert implied.analysis == CanaryAnalysis(min_attempts=5)
    implied = strategy("--rollback-window", "10m")
    assert implied == RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=600.0)
    assert strategy("--max-unavailable", "1") == RolloutStrategy(max_unavailable="1")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--strategy", "rolling", "--step", "10%:1m"],
            "--step applies to --strategy canary, not rolling",
        ),
        (
            ["--strategy", "canary", "--max-surge", "1"],
            "--max-surge applies to --strategy rolling, not canary",
        ),
        (
            ["--strategy", "blue-green", "--min-attempts", "3"],
            "--min-attempts applies to --strategy canary, not blue-green",
        ),
        (
            ["--max-surge", "1", "--rollback-window", "1m"],
            "--max-surge and --rollback-window belong to different strategies "
            "(rolling, blue-green)",
        ),
    ],
)
def test_a_flag_of_another_strategy_is_named(flags: list[str], message: str) -> None:
    with pytest.raises(UsageProblem) as raised:
        strategy(*flags)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--strategy", "linear"], "argument --strategy: invalid choice: 'linear'"),
        (["--max-surge", "lots"], "argument --max-surge: expected a number of replicas"),
        (["--max-unavailable", "150%"], "--max-unavailable: a percentage must be at most 100%"),
        (["--step", "10%"], "argument --step: expected WEIGHT%:HOLD such as 10%:1m"),
        (["--step", "10%:1m", "--step", "150%:1m"], "--step: the weight must be more than 0%"),
        (["--rollback-window", "5 minutes"], "argument --rollback-window: invalid duration"),
        (["--max-error-rate-increase", "5"], "--max-error-rate-increase: must be within [0, 1]"),
        (["--max-latency-ratio", "0"], "argument --max-latency-ratio: must be a finite number > 0"),
        (["--min-attempts", "0"], "argument --min-attempts: must be at least 1"),
        (["--min-latency-increase", "x"], "argument --min-latency-increase: invalid duration"),
    ],
)  # fmt: skip
def test_malformed_flags_are_one_usage_line_naming_the_flag(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*NOWHERE, *DEPLOY, *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_mix_of_strategies_is_refused_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([*NOWHERE, *DEPLOY, "--strategy", "rolling", "--step", "10%:1m"])
    assert code == 2
    assert capsys.readouterr().err == ("error: --step applies to --strategy canary, not rolling\n")
