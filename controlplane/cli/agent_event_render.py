"""An agent's events as a table (`agents events`) and as one line each (`--follow`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table
from rich.text import Text

from controlplane.cli.json_text import display_text
from controlplane.cli.quantities import moment, when
from models.agent_events import AgentEvent, AgentEventType

DETAIL_LIMIT = 160
_STATE_STYLES = {
    "HEALTHY": "green",
    "CLOSED": "green",
    "SUCCEEDED": "green",
    "HALF_OPEN": "yellow",
    "UNHEALTHY": "red",
    "OPEN": "red",
    "ROLLED_BACK": "red",
    "FAILED": "red",
}


def _text(value: Any) -> str:
    return "" if value is None else display_text(value, DETAIL_LIMIT)


def event_style(event: AgentEvent) -> str:
    """The colour of the state the event moved to ("" when it has none)."""
    if event.type is AgentEventType.REPLICA_STOPPED:
        return "yellow"
    to = event.data.get("to", event.data.get("state"))
    return _STATE_STYLES.get(to, "") if isinstance(to, str) else ""


def describe(event: AgentEvent) -> str:
    """What happened, in one line: "CLOSED -> OPEN: 3 failed attempts in a row"."""
    data = event.data
    kind = event.type
    if kind in (AgentEventType.REPLICA_HEALTH_CHANGED, AgentEventType.REPLICA_BREAKER_CHANGED):
        line = f"{_text(data.get('from'))} -> {_text(data.get('to'))}"
        reason, error = _text(data.get("reason")), _text(data.get("last_error"))
        line += f": {reason}" if reason else ""
        if error and error not in reason:
            line += f" (last error: {error})"
        return line
    if kind is AgentEventType.REPLICA_STARTED:
        node = _text(data.get("node_id"))[:12]
        return f"version {_text(data.get('version'))} ready" + (f" on node {node}" if node else "")
    if kind is AgentEventType.REPLICA_STOPPED:
        return f"version {_text(data.get('version'))}: {_text(data.get('reason'))}"
    if kind is AgentEventType.ROLLOUT_STEP:
        return f"rollout {_text(data.get('rollout_id'))[:8]}: {_text(data.get('message'))}"
    line = f"rollout {_text(data.get('rollout_id'))[:8]} {_text(data.get('state'))}"
    message = _text(data.get("message"))
    line += f": {message}" if message else ""
    if data.get("verdict"):
        line += f" (canary {_text(data['verdict'])}: {_text(data.get('analysis_reason'))})"
    return line


def events_table(events: Iterable[AgentEvent], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("SEQ", "TIME", "TYPE", "REPLICA"):
        table.add_column(column, no_wrap=True)
    table.add_column("WHAT", overflow="fold")
    for event in events:
        table.add_row(
            str(event.sequence),
            when(event.time),
            Text(event.type.value, style=event_style(event)),
            event.replica or "-",
            Text(describe(event)),
        )
    return table


def event_line(event: AgentEvent) -> Text:
    """One followed event: "#12   09:30:01.250  REPLICA_BREAKER_CHANGED  coder/v1/…/0  ..."."""
    at = moment(event.time)
    clock = at.strftime("%H:%M:%S.%f")[:-3] if at else f"{event.time:g}"
    return Text.assemble(
        (f"#{event.sequence:<5}", "dim"),
        f" {clock}  ",
        (f"{event.type.value:<24}", event_style(event)),
        f" {event.replica or '-'}  ",
        describe(event),
    )
