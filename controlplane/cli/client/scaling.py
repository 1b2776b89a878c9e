"""Handlers of `scaling policy set|get|delete`, `scaling status` and `scaling events`
(ScalingService)."""

from __future__ import annotations

import argparse
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli.arg_types import duration_arg, replicas_arg
from controlplane.cli.render import print_json, wants_json, when
from controlplane.cli.usage import UsageProblem, read_text
from controlplane.workflow.loader import parse_text
from models.errors import InvalidArgument
from models.forecasting import FittedForecast
from models.scaling import PolicyView, ScalingEvent, ScalingStatus
from models.scaling_documents import policy_from_document, policy_to_document

EXIT_OK = 0
_ACTIONS = {"hold": "hold", "scale_out": "scale-out", "scale_in": "scale-in"}
_ACTION_STYLES = {"scale_out": "green", "scale_in": "yellow", "hold": "dim"}


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
            # The definitions' strict reader: JSON values only, nesting and aliases bounded.
            loaded = parse_text(read_text(args.file))
        except ValueError as exc:
            raise UsageProblem(f"{args.file}: {exc}") from None
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
                entry["replicas"] = replicas_arg(replicas)
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
    if wants_json(args):
        print_json({"deleted": args.agent})
    else:
        con.print(f"deleted the scaling policy of {args.agent}", markup=False)
    return EXIT_OK


def _policy_dict(view: PolicyView) -> dict[str, Any]:
    return {
        "policy": policy_to_document(view.policy),
        "create_time": view.create_time,
        "update_time": view.update_time,
    }


def _print_policy(args: argparse.Namespace, con: Console, view: PolicyView) -> None:
    if wants_json(args):
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


def forecast_summary_dict(fitted: FittedForecast | None) -> dict[str, Any] | None:
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
        "forecast": forecast_summary_dict(status.forecast),
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
    if wants_json(args):
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
    if wants_json(args):
        print_json([event_dict(e) for e in events])
    elif not events:
        con.print(f"no scaling events for {args.agent}", markup=False)
    else:
        con.print(_events_table(events, f"scaling events of {args.agent} (newest first)"))
    return EXIT_OK
