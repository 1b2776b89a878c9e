"""`orchestrator ml train-policy|train-durations`'s arguments (no control plane needed)."""

from __future__ import annotations

import argparse
from typing import Any

from controlplane.cli.arg_types import count_arg, fraction_arg, positive_number, seed_arg
from controlplane.cli.lazy import handler

HANDLERS = "controlplane.cli.research.ml"


def register(top: argparse._SubParsersAction[Any]) -> None:
    """Adds `ml train-policy` and `ml train-durations` to the top-level subcommands."""
    ml = top.add_parser(
        "ml", help="train learned models", description="Train learned scheduling models."
    )
    cmds = ml.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
    policy = cmds.add_parser(
        "train-policy",
        help="imitation-learn a dispatching policy from CP-SAT",
        description="Generate seeded job shop / flexible job shop instances, label them with "
        "CP-SAT, replay CP-SAT's choices through the SGS and fit one classifier per SGS mode; "
        "writes the versioned policy file and its metadata to --out.",
    )
    policy.add_argument("--out", required=True, metavar="DIR", help="output folder")
    policy.add_argument(
        "--instances", type=count_arg, default=160, metavar="N", help="training instances"
    )
    policy.add_argument(
        "--holdout", type=count_arg, default=40, metavar="N", help="held-out instances"
    )
    policy.add_argument(
        "--seed", type=seed_arg, default=0, metavar="S", help="instance/solver seed"
    )
    policy.add_argument(
        "--cpsat-seconds-per-100-ops",
        type=positive_number,
        default=2.0,
        metavar="T",
        help="CP-SAT seconds per 100 operations of an instance, at least 1 (default: 2)",
    )
    policy.add_argument(
        "--cpsat-time-limit",
        type=positive_number,
        default=10.0,
        metavar="T",
        help="at most this many CP-SAT seconds per instance (default: 10)",
    )
    policy.add_argument(
        "--labels-cache",
        default="",
        metavar="FILE",
        help="keep the CP-SAT labels in FILE and reuse them when the recipe is the same",
    )
    policy.add_argument("--workers", type=count_arg, default=1, metavar="W", help="CP-SAT workers")
    policy.add_argument(
        "--kinds",
        default="logistic,pairwise,listwise,mlp,pairwise:shared,listwise:shared",
        metavar="LIST",
        help="scorers to compare (scheduler/ml/estimators.py): logistic, pairwise (a linear "
        "ranker on expert-minus-other differences), mlp (one small ReLU layer); a ':shared' "
        "suffix fits one model on every SGS mode's replays (default: all four per mode, and the "
        "two rankers shared)",
    )
    policy.add_argument(
        "--max-ms-per-decision",
        type=positive_number,
        default=0.5,
        metavar="MS",
        help="kinds slower than this per SGS decision are not selected (default: 0.5)",
    )
    policy.set_defaults(local_handler=handler(f"{HANDLERS}:run_train_policy"))

    durations = cmds.add_parser(
        "train-durations",
        help="fit a duration model on attempt history",
        description="Fit a DurationModel on a CSV with columns agent,kind,size,duration.",
    )
    durations.add_argument("--history", required=True, metavar="CSV")
    durations.add_argument("--out", required=True, metavar="FILE", help="joblib file to write")
    durations.add_argument(
        "--quantile",
        type=fraction_arg,
        action="append",
        default=[],
        metavar="Q",
        help="also fit a quantile model (e.g. 0.9); repeatable",
    )
    durations.set_defaults(local_handler=handler(f"{HANDLERS}:run_train_durations"))
