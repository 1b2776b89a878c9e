"""`orchestrator ml ...`: train the learned models (no control plane needed).

  train-policy     imitation-learn a dispatching policy from CP-SAT on generated instances and
                   write `dispatch_policy_v2.joblib` + `.json` (the versioned policy file)
  train-durations  fit a duration model on an attempt history CSV (agent,kind,size,duration)

Solvers only load these files; the default policy shipped in `scheduler/ml/models/` was made
with `train-policy` (its metadata holds the exact command).
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from controlplane.cli.render import make_console

EXIT_USAGE = 2


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
        f"--cpsat-seconds-per-100-ops {args.cpsat_seconds_per_100_ops:g}",
        f"--cpsat-time-limit {args.cpsat_time_limit:g}",
        f"--workers {args.workers}",
        f"--kinds {args.kinds}",
        f"--max-ms-per-decision {args.max_ms_per_decision:g}",
    ]
    return " ".join(parts)


def _labels(
    problems: list[Any], recipe: Any, cache: Path | None, progress: Progress
) -> tuple[list[Any], float, bool]:
    """CP-SAT labels and the seconds labelling took; read from `cache` when it holds the same
    recipe's (then True, with the seconds of the run that made them)."""
    import joblib

    from scheduler.ml import imitation

    key = (recipe.to_json(), [p.name for p in problems])
    if cache is not None and cache.exists():
        stored_key, stored, seconds = joblib.load(cache)
        if stored_key == key:
            return stored, seconds, True
    started = time.monotonic()
    task = progress.add_task("CP-SAT labels", total=len(problems))
    labels = imitation.label_all(problems, recipe, on_done=lambda _: progress.advance(task))
    seconds = time.monotonic() - started
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump((key, labels, seconds), cache, compress=3)
    return labels, seconds, False


def run_train_policy(args: argparse.Namespace) -> int:
    from scheduler.ml import estimators, imitation, model_store
    from scheduler.rules.solvers import CLASSIC_RULES

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [
        k
        for k in kinds
        if k.removesuffix(imitation.SHARED_SUFFIX) not in estimators.ESTIMATOR_KINDS
    ]
    if not kinds or unknown:
        names = ", ".join(estimators.ESTIMATOR_KINDS)
        sys.stderr.write(f"error: --kinds must name {names} (each optionally with ':shared')\n")
        return EXIT_USAGE
    recipe = imitation.Recipe(
        instances=args.instances,
        holdout=args.holdout,
        seed=args.seed,
        cpsat_seconds_per_100_ops=args.cpsat_seconds_per_100_ops,
        cpsat_time_limit_s=args.cpsat_time_limit,
        workers=args.workers,
    )
    console = make_console()
    started = time.monotonic()
    problems = imitation.training_instances(recipe) + imitation.holdout_instances(recipe)
    cache = Path(args.labels_cache) if args.labels_cache else None
    with _progress() as progress:
        labels, label_seconds, cached = _labels(problems, recipe, cache, progress)
    started = time.monotonic() - label_seconds  # as if labelled now: totals stay comparable
    pairs = list(zip(problems, labels, strict=True))
    train, holdout = pairs[: recipe.instances], pairs[recipe.instances :]
    from threadpoolctl import threadpool_limits

    results = []
    limits = threadpool_limits(limits=args.workers)  # fitting threads: as many as CP-SAT had
    data = imitation.mode_datasets(train, holdout, recipe.replay_modes)
    console.print(
        f"replayed in {', '.join(recipe.replay_modes)}: {time.monotonic() - started:.0f} s"
    )
    for kind in kinds:
        kind_started = time.monotonic()
        result = imitation.train_kind(kind, data, holdout, recipe.seed)
        console.print(
            f"{kind} ({time.monotonic() - kind_started:.0f} s) held-out: {result.to_json()}"
        )
        results.append(result)
    limits.restore_original_limits()
    chosen = imitation.select_kind(results, args.max_ms_per_decision)
    by_temperature = imitation.solver_gaps(imitation.policy_set(chosen), holdout, seed=recipe.seed)
    temperature = min(by_temperature, key=by_temperature.__getitem__)
    console.print(
        "solver held-out gap by temperature: "
        + ", ".join(f"{t:g}: {100 * g:.2f}%" for t, g in by_temperature.items())
    )
    rules = imitation.rule_gaps(holdout, CLASSIC_RULES)
    metadata: dict[str, Any] = {
        "description": "dispatching policy imitating CP-SAT: a candidate scorer per SGS mode "
        "(or one shared) ranks the candidates of each step; see scheduler/ml/imitation.py",
        "command": _command(args),
        "estimator": chosen.kind,
        "modes": list(chosen.models),
        "temperature": temperature,
        "holdout_solver_gap_by_temperature": {
            str(t): round(g, 4) for t, g in by_temperature.items()
        },
        "recipe": recipe.to_json(),
        "training": {
            "instances": len(train),
            "holdout_instances": len(holdout),
            "decisions": {m: d.train.decisions for m, d in data.items()},
            "rows": {m: len(d.train.y) for m, d in data.items()},
            "cpsat_optimal": sum(1 for _, s in pairs if s.status.value == "OPTIMAL"),
            "label_seconds": round(label_seconds, 1),
            "labels_from_cache": cached,
            "total_seconds": round(time.monotonic() - started, 1),
        },
        "holdout": chosen.to_json(),
        "holdout_rule_gaps": {k: round(v, 4) for k, v in rules.items()},
        "compared": [r.to_json() for r in results],
    }
    name = model_store.DEFAULT_MODEL_NAME
    model_path, meta_path = model_store.save_policy(chosen.models, Path(args.out) / name, metadata)
    best_rule = min(rules, key=rules.__getitem__)
    console.print(
        f"chose {chosen.kind}: held-out best-of-modes gap to CP-SAT "
        f"{100 * chosen.best_of_modes_gap:.2f}% (best rule {best_rule} "
        f"{100 * rules[best_rule]:.2f}%); wrote {model_path} "
        f"({model_path.stat().st_size // 1024} KiB) and {meta_path}"
    )
    return 0


def _history_number(path: Path | str, line: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: {name} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{path}, line {line}: {name} must be a finite number >= 0, got {text!r}")
    return value


def read_history(path: Path | str) -> list[tuple[str, str, float, float]]:
    """The rows of an attempt history CSV; ValueError naming the file and line of a bad row."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"agent", "kind", "size", "duration"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
            records = [
                (
                    row["agent"],
                    row["kind"],
                    _history_number(path, reader.line_num, "size", row["size"] or "0"),
                    _history_number(path, reader.line_num, "duration", row["duration"] or ""),
                )
                for row in reader
            ]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a CSV file ({exc})") from None
    if not records:
        raise ValueError(f"{path}: no records (one row per attempt is needed)")
    return records


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
