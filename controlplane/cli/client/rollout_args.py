"""The `agents deploy` options that choose how the new spec is rolled out (rolling, blue-green,
canary) and the strategy they make. Without any of them the server's default applies (a rolling
update); a flag of one strategy implies it, and one of another strategy than --strategy is a
usage error naming the flag. Whether the values make sense together is the server's to say."""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import replace
from typing import Any

from controlplane.cli.arg_types import (
    INT32_MAX,
    duration_arg,
    integer_between,
    positive_number,
    share_arg,
)
from controlplane.cli.usage import UsageProblem
from models.agents import CanaryAnalysis, CanaryStep, RolloutStrategy, StrategyKind
from models.scaling_documents import MAX_REPLICAS

KINDS = {
    "rolling": StrategyKind.ROLLING,
    "blue-green": StrategyKind.BLUE_GREEN,
    "canary": StrategyKind.CANARY,
}
_NAMES = {kind: name for name, kind in KINDS.items()}
_COUNT = re.compile(r"(\d+)(%?)")
_min_attempts = integer_between(1, INT32_MAX)


def replica_count_arg(text: str) -> str:
    """`2` (replicas) or `25%` (of the desired count), as the strategy carries it."""
    match = _COUNT.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"expected a number of replicas (2) or a percentage of them (25%), got {text!r}"
        )
    value, is_percent = int(match.group(1)), bool(match.group(2))
    if is_percent and value > 100:
        raise argparse.ArgumentTypeError(f"a percentage must be at most 100%, got {text!r}")
    if not is_percent and value > MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_REPLICAS} replicas, got {text!r}")
    return f"{value}{match.group(2)}"


def canary_step_arg(text: str) -> CanaryStep:
    """`10%:1m`: send 10% of the attempts to the new version and hold for a minute."""
    weight_text, colon, hold_text = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError(f"expected WEIGHT%:HOLD such as 10%:1m, got {text!r}")
    try:
        weight = float(weight_text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"the weight must be a percentage such as 10%, got {weight_text!r} in {text!r}"
        ) from None
    if not (math.isfinite(weight) and 0 < weight < 100):
        raise argparse.ArgumentTypeError(
            f"the weight must be more than 0% and less than 100% (100% follows the last "
            f"step), got {weight_text!r} in {text!r}"
        )
    try:
        hold = duration_arg(hold_text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"the hold: {exc} in {text!r}") from None
    return CanaryStep(weight_percent=weight, hold_s=hold)


# Each flag (but --strategy) and the strategy it belongs to.
_FLAG_KINDS = {
    "--max-surge": StrategyKind.ROLLING,
    "--max-unavailable": StrategyKind.ROLLING,
    "--rollback-window": StrategyKind.BLUE_GREEN,
    "--step": StrategyKind.CANARY,
    "--max-error-rate-increase": StrategyKind.CANARY,
    "--max-latency-ratio": StrategyKind.CANARY,
    "--min-latency-increase": StrategyKind.CANARY,
    "--min-attempts": StrategyKind.CANARY,
}


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def add_arguments(deploy: argparse.ArgumentParser) -> None:
    group = deploy.add_argument_group("rollout (default: a rolling update)")
    group.add_argument(
        "--strategy",
        choices=list(KINDS),
        default=None,
        help="how the new spec replaces the serving one (default: rolling; implied by the "
        "flags below)",
    )
    for flag, note in (
        ("--max-surge", "rolling: replicas above the desired count, N or P%% (default 25%%)"),
        ("--max-unavailable", "rolling: replicas that may be unavailable, N or P%% (default 0)"),
    ):
        group.add_argument(flag, type=replica_count_arg, default=None, metavar="N|P%", help=note)
    group.add_argument(
        "--rollback-window",
        type=duration_arg,
        default=None,
        metavar="D",
        help="blue-green: how long the previous set stays up after the switch (default 5m)",
    )
    group.add_argument(
        "--step",
        action="append",
        type=canary_step_arg,
        default=None,
        metavar="WEIGHT%:HOLD",
        help="canary: a traffic step, e.g. --step 10%%:1m --step 50%%:2m (repeatable; "
        "default 10%%:1m then 50%%:1m)",
    )
    for flag, kind, metavar, note in (
        (
            "--max-error-rate-increase",
            share_arg,
            "R",
            "canary: error rate allowed over the stable version's, in [0, 1] (default 0.05)",
        ),
        (
            "--max-latency-ratio",
            positive_number,
            "F",
            "canary: p95 latency allowed as a multiple of the stable p95 (default 1.5)",
        ),
        (
            "--min-latency-increase",
            duration_arg,
            "D",
            "canary: a p95 increase below this never fails it (default 50ms)",
        ),
        (
            "--min-attempts",
            _min_attempts,
            "N",
            "canary: finished canary attempts a verdict needs (default 20)",
        ),
    ):
        group.add_argument(flag, type=kind, default=None, metavar=metavar, help=note)
    group.add_argument(
        "--wait",
        "-w",
        action="store_true",
        help="follow the rollout until it ends; exit 1 unless it succeeded",
    )


def _kind(args: argparse.Namespace, given: list[str]) -> StrategyKind | None:
    """The strategy --strategy names or the flags given imply (UsageProblem on a mix)."""
    if args.strategy is not None:
        chosen = KINDS[args.strategy]
        for flag in given:
            if _FLAG_KINDS[flag] is not chosen:
                raise UsageProblem(
                    f"{flag} applies to --strategy {_NAMES[_FLAG_KINDS[flag]]}, not {args.strategy}"
                )
        return chosen
    implied = {_FLAG_KINDS[flag]: flag for flag in given}
    if len(implied) > 1:
        first, second = list(implied.values())[:2]
        raise UsageProblem(
            f"{first} and {second} belong to different strategies "
            f"({_NAMES[_FLAG_KINDS[first]]}, {_NAMES[_FLAG_KINDS[second]]})"
        )
    return next(iter(implied), None)


def strategy(args: argparse.Namespace) -> RolloutStrategy | None:
    """The strategy the flags make; None when none of them was given (the server's default)."""
    given = [flag for flag in _FLAG_KINDS if getattr(args, _dest(flag)) is not None]
    kind = _kind(args, given)
    if kind is None:
        return None

    def values(**fields: Any) -> dict[str, Any]:
        return {key: value for key, value in fields.items() if value is not None}

    analysis = replace(
        CanaryAnalysis(),
        **values(
            max_error_rate_increase=args.max_error_rate_increase,
            max_latency_ratio=args.max_latency_ratio,
            min_latency_increase_s=args.min_latency_increase,
            min_attempts=args.min_attempts,
        ),
    )
    return replace(
        RolloutStrategy(kind=kind, analysis=analysis),
        **values(
            max_surge=args.max_surge,
            max_unavailable=args.max_unavailable,
            rollback_window_s=args.rollback_window,
            steps=tuple(args.step) if args.step else None,
        ),
    )
