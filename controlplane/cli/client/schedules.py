"""Handlers of `schedules create|list|get|pause|resume|delete` (ScheduleService)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from controlplane.api.client import OrchestratorClient
from controlplane.cli.json_text import to_jsonable
from controlplane.cli.parsing import assignments_to_dict
from controlplane.cli.quantities import seconds_text, when
from controlplane.cli.render import compact, every_namespace, print_json, wants_json
from models.schedules import OverlapPolicy, Schedule, ScheduleSpec

EXIT_OK = 0


def overlap_policy(choice: str) -> OverlapPolicy:
    """`buffer-one` -> BUFFER_ONE."""
    return OverlapPolicy(choice.upper().replace("-", "_"))


def overlap_text(policy: OverlapPolicy) -> str:
    return policy.value.lower().replace("_", "-")


def zoned(seconds: float | None, zone: str) -> str:
    """`2026-03-09 09:30+01:00`: a firing time on the schedule's own clock (the host's local
    time when this host does not know the zone); `-` when unset."""
    if seconds is None:
        return "-"
    try:
        return datetime.fromtimestamp(seconds, ZoneInfo(zone)).isoformat(" ", "minutes")
    except (ValueError, OSError, KeyError, OverflowError):
        return when(seconds)


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    out: dict[str, Any] = to_jsonable(schedule.spec)
    out.update(
        schedule_id=schedule.schedule_id,
        create_time=schedule.create_time,
        update_time=schedule.update_time,
    )
    out.update(to_jsonable(schedule.state))
    return dict(out)


def state_text(schedule: Schedule) -> Text:
    return Text("paused", style="yellow") if schedule.paused else Text("active", style="green")


def schedules_table(schedules: list[Schedule], with_namespace: bool = False) -> Table:
    table = Table(
        *(["NAMESPACE"] if with_namespace else []),
        "NAME",
        "WORKFLOW",
        "CRON",
        "TIME ZONE",
        "OVERLAP",
        "STATE",
        "NEXT",
        "LAST EXECUTION",
    )
    for schedule in schedules:
        spec, state = schedule.spec, schedule.state
        table.add_row(
            *([spec.namespace] if with_namespace else []),
            spec.name,
            spec.workflow + (f" rev {spec.revision}" if spec.revision else ""),
            spec.cron,
            spec.time_zone,
            overlap_text(spec.overlap_policy),
            state_text(schedule),
            zoned(state.next_fire_time, spec.time_zone),
            state.last_execution_ids[0] if state.last_execution_ids else "-",
        )
    return table


def schedule_detail(console: Console, schedule: Schedule) -> None:
    spec, state = schedule.spec, schedule.state
    console.print(
        Text.assemble(("schedule ", "bold"), (spec.name, "bold"), "  ", state_text(schedule))
    )
    revision = f"revision {spec.revision}" if spec.revision else "latest revision"
    lines = [
        ("workflow", f"{spec.workflow} ({revision})"),
        ("cron", f"{spec.cron}  in {spec.time_zone}"),
        ("overlap", overlap_text(spec.overlap_policy)),
        ("catch-up", seconds_text(spec.catch_up_window_s)),
        ("namespace", spec.namespace or "default"),
        ("inputs", compact(spec.inputs, 200)),
        ("next", zoned(state.next_fire_time, spec.time_zone)),
        ("last", zoned(state.last_fire_time, spec.time_zone)),
    ]
    if state.buffered_fire_time is not None:
        lines.append(("buffered", zoned(state.buffered_fire_time, spec.time_zone)))
    lines += [
        ("skipped", str(state.skipped_count)),
        ("missed", str(state.missed_count)),
        ("failed", str(state.failed_count)),
    ]
    if state.last_error:
        lines.append(("last error", compact(state.last_error, 300)))
    lines += [("created", when(schedule.create_time)), ("updated", when(schedule.update_time))]
    for label, value in lines:
        console.print(f"  {label:<11}{value}", markup=False)
    if state.last_execution_ids:
        console.print("  executions (newest first):", markup=False)
        for execution_id in state.last_execution_ids:
            console.print(f"    {execution_id}", markup=False)


def _show(args: argparse.Namespace, console: Console, schedule: Schedule) -> None:
    if wants_json(args):
        print_json(schedule_dict(schedule))
    else:
        schedule_detail(console, schedule)


def create(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    spec = ScheduleSpec(
        name=args.name,
        workflow=args.workflow,
        cron=args.cron,
        revision=args.revision,
        inputs=assignments_to_dict(args.input),
        time_zone=args.time_zone,
        overlap_policy=overlap_policy(args.overlap),
        catch_up_window_s=args.catch_up_window,
        namespace=args.namespace,
        paused=args.paused,
    )
    schedule, created = client.create_schedule(spec)
    if wants_json(args):
        print_json({**schedule_dict(schedule), "created": created})
    else:
        verb = "created" if created else "unchanged (it exists with these settings)"
        next_time = zoned(schedule.state.next_fire_time, spec.time_zone)
        console.print(f"schedule {schedule.name} {verb}; next firing {next_time}", markup=False)
    return EXIT_OK


def list_(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    schedules = client.list_schedules()
    if wants_json(args):
        print_json([schedule_dict(s) for s in schedules])
    else:
        console.print(schedules_table(schedules, every_namespace(args)))
    return EXIT_OK


def get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    _show(args, console, client.get_schedule(args.name))
    return EXIT_OK


def pause(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    _show(args, console, client.pause_schedule(args.name))
    return EXIT_OK


def resume(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    _show(args, console, client.resume_schedule(args.name))
    return EXIT_OK


def delete(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    client.delete_schedule(args.name)
    if wants_json(args):
        print_json({"deleted": args.name})
    else:
        console.print(f"deleted schedule {args.name}", markup=False)
    return EXIT_OK
