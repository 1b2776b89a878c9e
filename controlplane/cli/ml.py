"""`orchestrator ml ...`: train the learned models (no control plane needed).

  train-policy     imitation-learn a dispatching policy from CP-SAT on generated instances and
                   write `dispatch_policy_v1.joblib` + `.json` (the versioned policy file)
  train-durations  fit a duration model on an attempt history CSV (agent,kind,size,duration)

Solvers only load these files; the default policy shipped in `scheduler/ml/models/` was made
with `train-policy` (its metadata holds the exact command).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controlplane.cli.parsing import positive_float, positive_int
from controlplane.cli.render import make_console

EXIT_USAGE = 2


def register(
    top: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
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
        "--instances", type=positive_int, default=80, metavar="N", help="training instances"
    )
    policy.add_argument(
        "--holdout", type=positive_int, default=12, metavar="N", help="held-out instances"
    )
    policy.add_argument("--seed", type=int, default=0, metavar="S", help="instance/solver seed")
    policy.add_argument(
        "--cpsat-time-limit",
        type=positive_float,
        default=3.0,
        metavar="T",
        help="CP-SAT seconds per instance (default: 3)",
    )
    policy.add_argument(
        "--workers", type=positive_int, default=1, metavar="W", help="CP-SAT workers"
    )
    policy.add_argument(
        "--kinds",
        default="logistic,hgb",
        metavar="LIST",
        help="estimator kinds to compare: logistic (standardized logistic regression), hgb "
        "(HistGradientBoostingClassifier); default: both",
    )
    policy.add_argument(
        "--max-ms-per-decision",
        type=positive_float,
        default=0.5,
        metavar="MS",
        help="kinds slower than this per SGS decision are not selected (default: 0.5)",
    )
    policy.set_defaults(local_handler=run_train_policy)

    durations = cmds.add_parser(
        "train-durations",
        help="fit a duration model on attempt history",
        description="Fit a DurationModel on a CSV with columns agent,kind,size,duration.",
    )
    durations.add_argument("--history", required=True, metavar="CSV")
    durations.add_argument("--out", required=True, metavar="FILE", help="joblib file to write")
    durations.add_argument(
        "--quantile",
        type=float,
        action="append",
        default=[],
        metavar="Q",
        help="also fit a quantile model (e.g. 0.9); repeatable",
    )
    durations.set_defaults(local_handler=run_train_durations)
    return ml


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=make_console(),
        transient=False,
    )


def _command(args: argparse.Namespace) -> str:
    parts = [
        "orchestrator ml train-policy",
        f"--out {shlex.quote(str(args.out))}",
        f"--instances {args.instances}",
        f"--holdout {args.holdout}",
        f"--seed {args.seed}",
        f"--cpsat-time-limit {args.cpsat_time_limit:g}",
        f"--workers {args.workers}",
        f"--kinds {args.kinds}",
        f"--max-ms-per-decision {args.max_ms_per_decision:g}",
    ]
    return " ".join(parts)


def run_train_policy(args: argparse.Namespace) -> int:
    from scheduler.ml import imitation, model_store

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in imitation.ESTIMATOR_KINDS]
    if not kinds or unknown:
        sys.stderr.write(f"error: --kinds must name {', '.join(imitation.ESTIMATOR_KINDS)}\n")
        return EXIT_USAGE
    recipe = imitation.Recipe(
        instances=args.instances,
        holdout=args.holdout,
        seed=args.seed,
        cpsat_time_limit_s=args.cpsat_time_limit,
        workers=args.workers,
    )
    console = make_console()
    started = time.monotonic()
    problems = imitation.training_instances(recipe) + imitation.holdout_instances(recipe)
    with _progress() as progress:
        task = progress.add_task("CP-SAT labels", total=len(problems))
        labels = imitation.label_all(problems, recipe, on_done=lambda _: progress.advance(task))
    label_seconds = time.monotonic() - started
    pairs = list(zip(problems, labels, strict=True))
    train, holdout = pairs[: recipe.instances], pairs[recipe.instances :]
    from threadpoolctl import threadpool_limits

    results = []
    limits = threadpool_limits(limits=args.workers)  # fitting threads: as many as CP-SAT had
    for kind in kinds:
        console.print(f"fitting {kind} (one model per SGS mode: {', '.join(recipe.replay_modes)})")
        result = imitation.train_kind(kind, train, holdout, recipe.replay_modes, recipe.seed)
        console.print(f"  held-out: {result.to_json()}")
        results.append(result)
    limits.restore_original_limits()
    chosen = imitation.select_kind(results, args.max_ms_per_decision)
    train_data = imitation.build_dataset(
        [p for p, _ in train], [s for _, s in train], recipe.replay_modes
    )
    metadata: dict[str, Any] = {
        "description": "dispatching policy imitating CP-SAT: one classifier per SGS mode "
        "scores the candidates of each step; see scheduler/ml/imitation.py",
        "command": _command(args),
        "estimator": chosen.kind,
        "modes": list(chosen.models),
        "recipe": recipe.to_json(),
        "training": {
            "instances": len(train),
            "holdout_instances": len(holdout),
            "decisions": train_data.decisions,
            "rows": len(train_data.y),
            "cpsat_optimal": sum(1 for _, s in pairs if s.status.value == "OPTIMAL"),
            "label_seconds": round(label_seconds, 1),
            "total_seconds": round(time.monotonic() - started, 1),
        },
        "holdout": chosen.to_json(),
        "compared": [r.to_json() for r in results],
    }
    name = model_store.DEFAULT_MODEL_NAME
    model_path, meta_path = model_store.save_policy(chosen.models, Path(args.out) / name, metadata)
    console.print(
        f"chose {chosen.kind}: held-out best-of-modes gap to CP-SAT "
        f"{100 * chosen.best_of_modes_gap:.2f}%; wrote {model_path} "
        f"({model_path.stat().st_size // 1024} KiB) and {meta_path}"
    )
    return 0


def read_history(path: Path | str) -> list[tuple[str, str, float, float]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"agent", "kind", "size", "duration"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        return [
            (row["agent"], row["kind"], float(row["size"] or 0.0), float(row["duration"]))
            for row in reader
        ]


def run_train_durations(args: argparse.Namespace) -> int:
    import joblib

    from scheduler.ml.durations import DurationModel

    try:
        records = read_history(args.history)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    model = DurationModel(quantiles=args.quantile).fit(records)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out, compress=3)
    make_console().print(f"fitted on {len(records)} records; wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `ml ...` on its own (what the `orchestrator` entry point dispatches to)."""
    parser = argparse.ArgumentParser(prog="orchestrator")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.local_handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
