"""Scaling commands against a running control plane (ScalingService):

    orchestrator scaling policy set AGENT [--file policy.yaml] [--min-replicas 1 ...]
    orchestrator scaling policy get|delete AGENT
    orchestrator scaling status AGENT
    orchestrator scaling events AGENT [--all]
    orchestrator forecast show AGENT [--horizon 10m] [--model auto] [--level 0.9]
    orchestrator load AGENT [--resolution minute] [--since 6h] [--csv FILE]

`scaling` and `forecast` may already exist as top-level commands (the local simulator and
forecasting tools); these subcommands are added to their groups (`register` must run after
theirs), or the groups are created here when they do not exist.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli.commands import UsageProblem, read_text
from controlplane.cli.parsing import duration_arg, positive_int, utilization_arg
from controlplane.cli.render import print_json, when
from controlplane.engine.scaling.policy_documents import (
    METRICS,
    policy_from_document,
    policy_to_document,
)
from controlplane.experiments.forecast_io import iso
from models.errors import InvalidArgument
from models.forecasting import FittedForecast
from models.load import HOUR, MINUTE, RAW, LoadSample
from models.scaling import PolicyView, ScalingEvent, ScalingStatus
from scheduler.forecasting import MODEL_NAMES

EXIT_OK = 0
_RESOLUTIONS = {"raw": RAW, "minute": MINUTE, "hour": HOUR}
_ACTIONS = {"hold": "hold", "scale_out": "scale-out", "scale_in": "scale-in"}
_ACTION_STYLES = {"scale_out": "green", "scale_in": "yellow", "hold": "dim"}


# -- value parsers ----------------------------------------------------------------------------


def target_arg(text: str) -> tuple[str, float]:
    """`METRIC=VALUE`, e.g. `in_flight=0.7`."""
    metric, sep, value = text.partition("=")
    if not sep or metric not in METRICS:
        raise argparse.ArgumentTypeError(
            f"expected METRIC=VALUE with METRIC one of {', '.join(METRICS)}, got {text!r}"
        )
    try:
        target = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"target of {metric} is not a number: {value!r}") from None
    if not target > 0 or not math.isfinite(target):
        raise argparse.ArgumentTypeError(f"target of {metric} must be > 0, got {value!r}")
    return metric, target


# -- policy documents -------------------------------------------------------------------------


_PREDICTIVE_FLAGS = {
    "lead_time": "lead_time_s",
    "target_utilization": "target_utilization",
    "level": "level",
    "bound": "bound",
    "service_time": "service_time_s",
    "concurrency": "concurrency",
    "slo_wait": "slo_wait_s",
    "max_violation": "max_violation",
}


def policy_document(args: argparse.Namespace) -> dict[str, Any]:
    """The policy document from --file (YAML or JSON) with the flags given applied on top."""
    document: dict[str, Any] = {}
    if args.file:
        try:
            loaded = yaml.safe_load(read_text(args.file))
        except yaml.YAMLError as exc:
            raise UsageProblem(f"{args.file} is not YAML or JSON: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UsageProblem(f"{args.file} must hold a policy object")
        document = dict(loaded or {})
        document.pop("agent", None)
    document["agent"] = args.agent
    for flag, key in (
        ("min_replicas", "min_replicas"),
        ("max_replicas", "max_replicas"),
        ("scale_out_cooldown", "scale_out_cooldown_s"),
        ("scale_in_cooldown", "scale_in_cooldown_s"),
    ):
        value = getattr(args, flag)
        if value is not None:
            document[key] = value
    if args.max_scale_out is not None:
        document["scale_out_limit"] = {"replicas": args.max_scale_out}
    if args.max_scale_in is not None:
        document["scale_in_limit"] = {"replicas": args.max_scale_in}
    if args.target:
        targets = []
        for metric, value in args.target:
            entry: dict[str, Any] = {"metric": metric, "target": value, "name": metric}
            if args.tolerance is not None:
                entry["tolerance"] = args.tolerance
            if args.scale_up_stabilization is not None:
                entry["scale_up_stabilization_s"] = args.scale_up_stabilization
            if args.scale_down_stabilization is not None:
                entry["scale_down_stabilization_s"] = args.scale_down_stabilization
            targets.append(entry)
        document["target_tracking"] = targets
    if args.scheduled:
        entries = []
        for i, (cron, length, replicas) in enumerate(args.scheduled):
            try:
                entry = {"cron": cron, "duration_s": duration_arg(length)}
                entry["replicas"] = positive_int(replicas)
            except argparse.ArgumentTypeError as exc:
                raise UsageProblem(f"--scheduled: {exc}") from None
            entry["name"] = f"scheduled-{i + 1}" if len(args.scheduled) > 1 else "scheduled"
            entries.append(entry)
        document["scheduled"] = entries
    predictive = {
        key: getattr(args, flag)
        for flag, key in _PREDICTIVE_FLAGS.items()
        if getattr(args, flag) is not None
    }
    if args.predictive or predictive:
        merged = dict(document.get("predictive") or {})
        merged.update(predictive)
        document["predictive"] = merged
    return document


def scaling_policy_set(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    document = policy_document(args)
    predictive = document.get("predictive")
    if isinstance(predictive, dict) and predictive.get("concurrency") is None:
        # As the server does: a replica serves the agent's max_concurrency at once.
        predictive["concurrency"] = client.get_agent(args.agent).record.spec.max_concurrency
    try:
        policy = policy_from_document(document)
    except InvalidArgument as exc:
        violations = [(v.field, v.description) for v in exc.violations]
        raise ClientError("INVALID_ARGUMENT", exc.message, violations) from None
    _print_policy(args, con, client.set_scaling_policy(policy))
    return EXIT_OK


def scaling_policy_get(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    _print_policy(args, con, client.get_scaling_policy(args.agent))
    return EXIT_OK


def scaling_policy_delete(
    args: argparse.Namespace, client: OrchestratorClient, con: Console
) -> int:
    client.delete_scaling_policy(args.agent)
    if _json(args):
        print_json({"deleted": args.agent})
    else:
        con.print(f"deleted the scaling policy of {args.agent}", markup=False)
    return EXIT_OK


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "output", "table") == "json")


def _policy_dict(view: PolicyView) -> dict[str, Any]:
    return {
        "policy": policy_to_document(view.policy),
        "create_time": view.create_time,
        "update_time": view.update_time,
    }


def _print_policy(args: argparse.Namespace, con: Console, view: PolicyView) -> None:
    if _json(args):
        print_json(_policy_dict(view))
        return
    con.print(
        f"scaling policy of {view.policy.agent} (updated {when(view.update_time)})", markup=False
    )
    document = policy_to_document(view.policy)
    document.pop("agent")
    con.print(yaml.safe_dump(document, sort_keys=False).rstrip(), markup=False)


# -- status and events ------------------------------------------------------------------------


def event_dict(event: ScalingEvent) -> dict[str, Any]:
    d = event.decision
    return {
        "event_id": event.event_id,
        "time": d.time,
        "action": event.action,
        "current": d.current,
        "desired": d.desired,
        "policy": d.policy,
        "reason": d.reason,
        "inputs": d.inputs,
        "error": event.error,
    }


def _summary_dict(fitted: FittedForecast | None) -> dict[str, Any] | None:
    if fitted is None:
        return None
    return {
        "model": fitted.forecast.model,
        "requested_model": fitted.requested_model,
        "period": fitted.forecast.period,
        "step_s": fitted.step_s,
        "level": fitted.forecast.level,
        "fit_time": fitted.fit_time,
        "fit_duration_s": fitted.fit_duration_s,
        "history_points": fitted.history_points,
        "history_end": fitted.history_end,
    }


def status_dict(status: ScalingStatus) -> dict[str, Any]:
    return {
        "agent": status.agent,
        "has_policy": status.has_policy,
        "current": status.current,
        "ready": status.ready,
        "desired": status.desired,
        "last_decision_time": status.last_decision_time,
        "evaluation_period_s": status.evaluation_period_s,
        "forecast": _summary_dict(status.forecast),
        "forecast_error": status.forecast_error,
        "actuation_error": status.actuation_error,
        "decisions": [event_dict(e) for e in status.decisions],
    }


def _events_table(events: list[ScalingEvent], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "time", "action", "replicas", "by", "reason"):
        table.add_column(column, overflow="fold")
    for event in events:
        d = event.decision
        reason = d.reason + (f" [failed: {event.error}]" if event.error else "")
        table.add_row(
            str(event.event_id),
            when(d.time),
            f"[{_ACTION_STYLES[event.action]}]{_ACTIONS[event.action]}[/]",
            f"{d.current} -> {d.desired}",
            d.policy,
            reason.replace("[", r"\["),
        )
    return table


def scaling_status(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    status = client.get_scaling_status(args.agent, args.decisions)
    if _json(args):
        print_json(status_dict(status))
        return EXIT_OK
    con.print(
        f"{status.agent}: {status.current} replicas ({status.ready} ready), desired "
        f"{status.desired}; policy: {'yes' if status.has_policy else 'none'}; evaluated every "
        f"{status.evaluation_period_s:g}s, last at {when(status.last_decision_time)}",
        markup=False,
    )
    if status.forecast is not None:
        f = status.forecast
        con.print(
            f"forecast: {f.forecast.model} (asked {f.requested_model}), step {f.step_s:g}s, "
            f"fitted {when(f.fit_time)} in {f.fit_duration_s:.2f}s on {f.history_points} points",
            markup=False,
        )
    if status.forecast_error:
        con.print(f"forecast error: {status.forecast_error}", markup=False)
    if status.actuation_error:
        con.print(f"last scaling failed: {status.actuation_error}", markup=False)
    if status.decisions:
        con.print(_events_table(status.decisions, "recent decisions (newest first)"))
    return EXIT_OK


def scaling_events(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    events = client.list_scaling_events(args.agent, include_holds=args.all, limit=args.limit)
    if _json(args):
        print_json([event_dict(e) for e in events])
    elif not events:
        con.print(f"no scaling events for {args.agent}", markup=False)
    else:
        con.print(_events_table(events, f"scaling events of {args.agent} (newest first)"))
    return EXIT_OK


# -- forecast and load ------------------------------------------------------------------------


def forecast_show(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    fitted = client.get_forecast(args.agent, args.horizon or 0.0, args.model, args.level)
    f = fitted.forecast
    if _json(args):
        out = _summary_dict(fitted) or {}
        out.update(
            agent=args.agent,
            timestamps=list(f.timestamps),
            mean=list(f.mean),
            lower=list(f.lower),
            upper=list(f.upper),
            notes=f.notes,
        )
        print_json(out)
        return EXIT_OK
    con.print(
        f"arrival-rate forecast of {args.agent} (attempts/s): {f.model}, step "
        f"{fitted.step_s:g}s, level {f.level:g}, fitted {when(fitted.fit_time)} in "
        f"{fitted.fit_duration_s:.2f}s on {fitted.history_points} points",
        markup=False,
    )
    table = Table()
    for column in ("time", "mean", "lower", "upper"):
        table.add_column(column, justify="left" if column == "time" else "right")
    for t, mean, low, high in zip(f.timestamps, f.mean, f.lower, f.upper, strict=True):
        table.add_row(when(t), f"{mean:.3f}", f"{low:.3f}", f"{high:.3f}")
    con.print(table)
    return EXIT_OK


def _sample_dict(sample: LoadSample) -> dict[str, Any]:
    return {
        "time": sample.time,
        "arrivals": sample.arrivals,
        "completions": sample.completions,
        "queue_depth": sample.queue_depth,
        "in_flight": sample.in_flight,
        "service_time_s": sample.service_time_s,
        "replicas": sample.replicas,
    }


LOAD_CSV_COLUMNS = (
    "timestamp",
    "value",
    "completions",
    "queue_depth",
    "in_flight",
    "service_time_s",
    "replicas",
)


def write_load_csv(path: str, samples: list[LoadSample]) -> None:
    """`timestamp,value,...` with value = arrivals in the interval: the trace format of
    `forecast predict` and `scaling simulate`, so recorded load can be replayed."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LOAD_CSV_COLUMNS)
        for s in samples:
            writer.writerow(
                (
                    iso(s.time),
                    f"{s.arrivals:g}",
                    f"{s.completions:g}",
                    f"{s.queue_depth:g}",
                    f"{s.in_flight:g}",
                    f"{s.service_time_s:g}",
                    f"{s.replicas:g}",
                )
            )


def load_show(args: argparse.Namespace, client: OrchestratorClient, con: Console) -> int:
    end = time.time()
    samples = client.get_load_history(
        args.agent, _RESOLUTIONS[args.resolution], end - args.since, end
    )
    if args.csv:
        try:
            write_load_csv(args.csv, samples)
        except OSError as exc:
            raise UsageProblem(f"--csv {args.csv}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {len(samples)} samples of {args.agent} to {args.csv}")
        return EXIT_OK
    if _json(args):
        print_json([_sample_dict(s) for s in samples])
        return EXIT_OK
    if not samples:
        con.print(f"no load recorded for {args.agent} in the last {args.since:g}s", markup=False)
        return EXIT_OK
    table = Table(title=f"load of {args.agent} ({args.resolution})", title_justify="left")
    for column in ("time", "arrivals", "completions", "queue", "in flight", "service", "ready"):
        table.add_column(column, justify="left" if column == "time" else "right")
    for s in samples:
        table.add_row(
            when(s.time),
            f"{s.arrivals:g}",
            f"{s.completions:g}",
            f"{s.queue_depth:.2f}",
            f"{s.in_flight:.2f}",
            f"{s.service_time_s:.3f}s",
            f"{s.replicas:.2f}",
        )
    con.print(table)
    return EXIT_OK


# -- registration -----------------------------------------------------------------------------

Group = argparse._SubParsersAction


def _group(top: Group[argparse.ArgumentParser], name: str, help: str) -> Group[Any]:
    """The subcommand group of the top-level command `name`, created if it does not exist."""
    parser = top.choices.get(name)
    if parser is None:
        parser = top.add_parser(name, help=help, description=help)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)


def register(top: Group[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Adds the ScalingService commands; `common` carries --address/--output/--timeout."""

    def sub(group: Group[Any], name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, help=help, description=help, parents=[common]
        )
        parser.set_defaults(handler=handler)
        parser.add_argument(
            "--json",
            dest="output",
            action="store_const",
            const="json",
            default=argparse.SUPPRESS,
            help="print JSON (same as -o json)",
        )
        return parser

    scaling = _group(top, "scaling", "autoscaling of agents")
    policy_parser = scaling.add_parser(
        "policy",
        help="set, show or delete an agent's scaling policy",
        description="An agent's scaling policy on the control plane (ScalingService).",
    )
    policy = policy_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    put = sub(
        policy,
        "set",
        "create or replace an agent's scaling policy (from --file and/or flags)",
        scaling_policy_set,
    )
    put.add_argument("agent")
    put.add_argument(
        "--file", help="YAML or JSON policy document (fields of ScalingPolicy; '-': stdin)"
    )
    put.add_argument("--min-replicas", type=positive_int)
    put.add_argument("--max-replicas", type=positive_int)
    put.add_argument(
        "--target",
        action="append",
        type=target_arg,
        default=[],
        metavar="METRIC=VALUE",
        help=f"target tracking ({', '.join(METRICS)}); repeatable",
    )
    put.add_argument("--tolerance", type=float, help="of every --target (default 0.1)")
    put.add_argument("--scale-up-stabilization", type=duration_arg, metavar="DURATION")
    put.add_argument(
        "--scale-down-stabilization", type=duration_arg, metavar="DURATION", help="default 5m"
    )
    put.add_argument(
        "--scheduled",
        action="append",
        nargs=3,
        default=[],
        metavar=("CRON", "DURATION", "REPLICAS"),
        help="scheduled capacity, e.g. '0 9 * * mon-fri' 8h 5; repeatable",
    )
    put.add_argument("--predictive", action="store_true", help="forecast-driven scale-out")
    put.add_argument("--lead-time", type=duration_arg, metavar="DURATION", help="default 135s")
    put.add_argument("--target-utilization", type=utilization_arg, help="default 0.7")
    put.add_argument("--level", type=float, help="forecast interval level (default 0.9)")
    put.add_argument("--bound", choices=("upper", "mean"), help="default upper")
    put.add_argument(
        "--service-time", type=duration_arg, metavar="DURATION", help="default: measured"
    )
    put.add_argument(
        "--concurrency", type=positive_int, help="per replica (default: max_concurrency)"
    )
    put.add_argument("--slo-wait", type=duration_arg, metavar="DURATION")
    put.add_argument("--max-violation", type=float, help="with --slo-wait (default 0.01)")
    put.add_argument("--scale-out-cooldown", type=duration_arg, metavar="DURATION")
    put.add_argument("--scale-in-cooldown", type=duration_arg, metavar="DURATION")
    put.add_argument("--max-scale-out", type=positive_int, help="replicas per decision")
    put.add_argument("--max-scale-in", type=positive_int, help="replicas per decision")
    get = sub(policy, "get", "show an agent's scaling policy", scaling_policy_get)
    get.add_argument("agent")
    delete = sub(policy, "delete", "stop scaling an agent automatically", scaling_policy_delete)
    delete.add_argument("agent")

    status = sub(
        scaling,
        "status",
        "current and desired replicas, recent decisions and the forecast in use",
        scaling_status,
    )
    status.add_argument("agent")
    status.add_argument("--decisions", type=positive_int, default=10, help="how many to show")
    events = sub(scaling, "events", "an agent's scaling decisions, newest first", scaling_events)
    events.add_argument("agent")
    events.add_argument("--all", action="store_true", help="include holds (no change)")
    events.add_argument("--limit", type=positive_int, default=50)

    forecast = _group(top, "forecast", "load forecasts")
    show = sub(
        forecast,
        "show",
        "an agent's arrival-rate forecast as the control plane fitted it",
        forecast_show,
    )
    show.add_argument("agent")
    show.add_argument("--horizon", type=duration_arg, metavar="DURATION", help="how far ahead")
    show.add_argument("--model", default="", choices=("", *MODEL_NAMES), metavar="MODEL")
    show.add_argument("--level", type=float, default=0.0, help="interval level in (0, 1)")

    load = sub(top, "load", "an agent's (or pool:NAME's) recorded load", load_show)
    load.add_argument("agent", help="agent name or pool:NAME")
    load.add_argument("--resolution", choices=tuple(_RESOLUTIONS), default="raw")
    load.add_argument(
        "--since", type=duration_arg, default=3600.0, metavar="DURATION", help="default 1h"
    )
    load.add_argument(
        "--csv",
        metavar="FILE",
        help="write timestamp,value,... (value = arrivals per interval) for forecast predict "
        "and scaling simulate --trace",
    )
