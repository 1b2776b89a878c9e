"""Turning domain models into tables, JSON and event lines; following an execution live."""

from __future__ import annotations

import argparse
import itertools
import sys
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.highlighter import JSONHighlighter
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from controlplane.cli import modification_render, replica_render, rollout_render, task_rows
from controlplane.cli.json_text import display_text, json_text, to_jsonable
from controlplane.cli.quantities import moment, when
from models.agents import AgentView
from models.executions import (
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.security import ALL_NAMESPACES
from models.workflows import Severity, ValidationProblem, WorkflowView

if TYPE_CHECKING:
    from controlplane.api.client import OrchestratorClient

_TASK_END_EVENTS = frozenset(
    {
        EventType.TASK_SUCCEEDED,
        EventType.TASK_FAILED,
        EventType.TASK_TIMED_OUT,
        EventType.TASK_CANCELLED,
        EventType.TASK_SKIPPED,
    }
)

# Where a detail view cuts a value (`-o json` prints it whole).
MESSAGE_LIMIT = 300
OUTPUTS_LIMIT = 4000
EVENT_DETAILS_SHOWN = 20

_STYLES = {
    "UNPAUSED": "cyan",
    "PAUSED": "yellow",
    "SUCCEEDED": "green",
    "READY": "green",
    "FAILED": "red",
    "DEAD": "red",
    "DEGRADED": "red",
    "TIMED_OUT": "red",
    "LOST": "yellow",
    "CANCELLED": "yellow",
    "SKIPPED": "yellow",
    "RETRYING": "yellow",
    "DRAINING": "yellow",
    "RUNNING": "cyan",
    "STARTING": "cyan",
    "DEPLOYING": "cyan",
}


def style_for(name: str) -> str:
    for suffix, style in _STYLES.items():
        if name.endswith(suffix):
            return style
    return ""


def make_console(stderr: bool = False) -> Console:
    """A rich console that does not squeeze tables and event lines when output is piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 160)


# -- plain values -----------------------------------------------------------------------------


def wants_json(args: argparse.Namespace) -> bool:
    """Whether the command was asked for JSON (`-o json` or `--json`)."""
    return bool(getattr(args, "output", "table") == "json")


def print_json(value: Any) -> None:
    """Valid JSON whatever `value` holds (a non-finite number prints as null)."""
    sys.stdout.write(json_text(to_jsonable(value)) + "\n")
    sys.stdout.flush()


def print_json_line(value: Any) -> None:
    """One value as compact JSON on one line (a stream of them is JSON Lines)."""
    sys.stdout.write(json_text(to_jsonable(value), indent=None) + "\n")
    sys.stdout.flush()


def duration(start: float | None, end: float | None) -> str:
    if not start or not end:
        return "-"
    return f"{end - start:.2f}s"


def compact(value: Any, limit: int = 80) -> str:
    """One value on one line, cut at about `limit` characters."""
    return display_text(value, limit)


def status_text(name: str) -> Text:
    return Text(name, style=style_for(name))


# -- agents -----------------------------------------------------------------------------------


def agent_dict(view: AgentView) -> dict[str, Any]:
    spec = view.record.spec
    return {
        "name": spec.name,
        "version": spec.version,
        "state": view.state.value,
        "spec": to_jsonable(spec),
        "replicas": to_jsonable(view.replicas),
        "create_time": view.record.create_time,
        "update_time": view.record.update_time,
        "start_failure": to_jsonable(view.start_failure),
        "rollout": to_jsonable(view.rollout),
    }


def agents_table(views: Iterable[AgentView]) -> Table:
    views = list(views)
    failures = any(view.start_failure is not None for view in views)
    columns = ["NAME", "VERSION", "STATE", "READY", "CODE / ENDPOINT", "CAPABILITIES"]
    table = Table(*columns, *(["START FAILURE"] if failures else []))
    for view in views:
        spec = view.record.spec
        ready = sum(1 for r in view.replicas if r.state.value == "READY")
        cells: list[str | Text] = [
            spec.name,
            spec.version,
            status_text(view.state.value),
            f"{ready}/{spec.replicas}",
            spec.endpoint or spec.import_path,
            ", ".join(spec.capabilities) or "-",
        ]
        if failures:
            failure = view.start_failure
            cells.append(compact(failure.summary, 80) if failure is not None else "-")
        table.add_row(*cells)
    return table


def agent_detail(console: Console, view: AgentView) -> None:
    spec = view.record.spec
    res = spec.resources
    console.print(
        Text.assemble(
            ("agent ", "bold"),
            (spec.name, "bold"),
            f"  version {spec.version}  ",
            status_text(view.state.value),
        )
    )
    if spec.endpoint:
        console.print(f"  endpoint        {spec.endpoint}", markup=False)
    else:
        console.print(f"  import path     {spec.import_path}", markup=False)
    console.print(f"  replicas        {spec.replicas}", markup=False)
    console.print(
        f"  resources       cpus={res.num_cpus:g} gpus={res.num_gpus:g} memory={res.memory}"
        + "".join(f" {k}={v:g}" for k, v in res.custom.items()),
        markup=False,
    )
    console.print(f"  max concurrency {spec.max_concurrency}", markup=False)
    console.print(f"  capabilities    {', '.join(spec.capabilities) or '-'}", markup=False)
    if spec.config:
        console.print(f"  config          {compact(spec.config, 200)}", markup=False)
    if spec.runtime_env:
        console.print(f"  runtime env     {compact(spec.runtime_env, 200)}", markup=False)
    for line in replica_render.settings_lines(spec):
        console.print(line, markup=False)
    console.print(f"  created         {when(view.record.create_time)}", markup=False)
    console.print(f"  updated         {when(view.record.update_time)}", markup=False)
    console.print(replica_render.replica_table(view.replicas, status_text))
    if view.rollout is not None:
        console.print(rollout_render.rollout_view(view.rollout))
    failure = view.start_failure
    if failure is not None:
        console.print(
            Text.assemble(
                ("start failure ", "bold red"), f"(version {failure.version}, {when(failure.time)})"
            )
        )
        console.print(f"  {failure.summary}", markup=False)
        if failure.detail:
            console.print(
                textwrap.indent(failure.detail, "    "),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


# -- workflows --------------------------------------------------------------------------------


def every_namespace(args: argparse.Namespace) -> bool:
    """A list of every namespace was asked for: its table shows each row's namespace."""
    return bool(getattr(args, "namespace", "") == ALL_NAMESPACES)


def workflow_dict(view: WorkflowView, with_definition: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": view.name,
        "namespace": view.namespace,
        "revision": view.revision.revision,
        "latest_revision": view.latest_revision,
        "digest": view.revision.digest,
        "create_time": view.revision.create_time,
        "task_ids": list(view.task_ids),
    }
    if with_definition:
        out["definition"] = view.revision.definition_text
    return out


def workflows_table(views: Iterable[WorkflowView], with_namespace: bool = False) -> Table:
    columns = ["NAME", "REVISION", "TASKS", "CREATED", "DIGEST"]
    table = Table(*(["NAMESPACE"] if with_namespace else []), *columns)
    for view in views:
        table.add_row(
            *([view.namespace] if with_namespace else []),
            view.name,
            str(view.revision.revision),
            str(len(view.task_ids)),
            when(view.revision.create_time),
            view.revision.digest[:12],
        )
    return table


def workflow_detail(console: Console, view: WorkflowView) -> None:
    console.print(
        f"workflow {view.name}  revision {view.revision.revision} (latest {view.latest_revision})",
        markup=False,
        style="bold",
    )
    console.print(f"  created  {when(view.revision.create_time)}", markup=False)
    console.print(f"  digest   {view.revision.digest}", markup=False)
    console.print(f"  tasks    {', '.join(view.task_ids) or '-'}", markup=False)
    console.print("")
    console.print(view.revision.definition_text.rstrip("\n"), markup=False, highlight=False)


def problem_line(problem: ValidationProblem) -> Text:
    style = "red" if problem.severity is Severity.ERROR else "yellow"
    return Text.assemble(
        (problem.severity.value.lower(), style), f": {problem.path or '<root>'}: {problem.message}"
    )


# -- executions -------------------------------------------------------------------------------


def execution_dict(record: ExecutionRecord) -> dict[str, Any]:
    out = to_jsonable(record)
    out["tasks"] = [to_jsonable(t) for t in record.tasks.values()]
    out.pop("last_sequence", None)
    return out


def paused(record: ExecutionRecord) -> bool:
    """Paused and still to end (an execution that ended while paused shows just its end)."""
    return record.paused and not record.status.terminal


def status_cell(record: ExecutionRecord) -> Text:
    """The execution's status, with PAUSED after it while paused."""
    text = status_text(record.status.value)
    if paused(record):
        text.append(" PAUSED", style=style_for("PAUSED"))
    return text


# What a SKIPPED task's reason says before its message, where the message alone would not.
_SKIP_PREFIXES = {"NotCompensated": "no compensation needed"}


def skip_reason(task: TaskRecord) -> str:
    """Why a SKIPPED task did not run, e.g. "skipped: condition false: inputs.n > 3"."""
    error = task.error
    if error is None:
        return "skipped"
    message = display_text(error.message, MESSAGE_LIMIT) if error.message else error.type
    prefix = _SKIP_PREFIXES.get(error.type)
    return f"skipped: {prefix}: {message}" if prefix else f"skipped: {message}"


def task_detail(task: TaskRecord) -> Text:
    """The last cell of a task's row: why it waits or was skipped, its error, or its output."""
    if task.waiting_reason:  # queued for dispatch (an error would be an earlier try's)
        return Text(f"waiting: {task.waiting_reason}", style="yellow")
    if task.status is TaskStatus.SKIPPED:
        return Text(skip_reason(task), style=style_for("SKIPPED"))
    if task.error is not None:
        message = display_text(task.error.message, MESSAGE_LIMIT)
        return Text(f"{task.error.type}: {message}", style="red")
    if task.output_omitted is not None:
        return Text(left_out(task.output_omitted))
    if task.status is TaskStatus.RUNNING and task.last_heartbeat is not None:
        return Text(f"heartbeat: {compact(task.last_heartbeat, 60)}", style="cyan")
    return Text("-" if task.output is None else compact(task.output, 60))


def task_cell(task: TaskRecord) -> Text:
    """The last cell of a task's row: what runs under it (items, iterations, a child
    execution), then its detail."""
    detail = task_detail(task)
    said = task_rows.summary(task)
    if not said:
        return detail
    if detail.plain == "-":
        return Text(said)
    return Text.assemble(said, "  ", detail)


def executions_table(records: Iterable[ExecutionRecord], with_namespace: bool = False) -> Table:
    """One row per execution; a PARENT column only when a child execution is among them."""
    records = list(records)
    parents = any(r.parent_execution_id for r in records)
    columns = ["EXECUTION", "WORKFLOW", "REV", "STATUS", "CREATED", "DURATION"]
    first = ["NAMESPACE"] if with_namespace else []
    table = Table(*first, *columns, *(["PARENT"] if parents else []))
    for r in records:
        table.add_row(
            *([r.namespace] if with_namespace else []),
            r.execution_id,
            r.workflow,
            str(r.revision),
            status_cell(r),
            when(r.create_time),
            duration(r.start_time, r.end_time),
            *([r.parent_execution_id or "-"] if parents else []),
        )
    return table


def execution_detail(console: Console, record: ExecutionRecord, with_outputs: bool = True) -> None:
    console.print(
        Text.assemble(
            ("execution ", "bold"),
            (record.execution_id, "bold"),
            f"  {record.workflow} rev {record.revision}  ",
            status_cell(record),
        )
    )
    if record.parent_execution_id:
        console.print(f"  parent    {record.parent_execution_id}", markup=False)
    console.print(f"  created   {when(record.create_time)}", markup=False)
    console.print(f"  started   {when(record.start_time)}", markup=False)
    console.print(f"  ended     {when(record.end_time)}", markup=False)
    if record.request_id:
        console.print(f"  request   {record.request_id}", markup=False)
    inputs = compact(record.inputs, 200)
    if record.inputs_omitted is not None:
        inputs = f"{left_out(record.inputs_omitted)}: {read_hint(record.execution_id, '--inputs')}"
    console.print(f"  inputs    {inputs}", markup=False)
    if record.error is not None:
        where = f" in task {record.error.task_id}" if record.error.task_id else ""
        console.print(
            f"  error     {record.error.type}{where}: "
            f"{display_text(record.error.message, MESSAGE_LIMIT)}",
            markup=False,
            style="red",
        )
    if record.tasks:
        table = Table("TASK", "AGENT", "STATUS", "ATTEMPTS", "DEPENDS ON", "OUTPUT / ERROR / WAIT")
        for task in record.tasks.values():
            under = task_rows.parent_row(task.task_id, record.tasks)
            table.add_row(
                task_rows.INDENT + task.task_id if under else task.task_id,
                task.agent or "-",
                status_text(task.status.value),
                str(len(task.attempts) + task.omitted_attempts),
                ", ".join(task.depends_on) or "-",
                task_cell(task),
            )
        console.print(table)
        for line in task_rows.unlisted_failures(record.tasks):
            console.print(line, markup=False, style="dim")
        if any(t.output_omitted is not None for t in record.tasks.values()):
            hint = read_hint(record.execution_id, "--task TASK")
            console.print(f"outputs left out for their size: {hint}", markup=False)
    if with_outputs and record.outputs_omitted is not None:
        omitted = f"{left_out(record.outputs_omitted)}: {read_hint(record.execution_id, '')}"
        console.print(f"outputs: {omitted}", markup=False)
    elif with_outputs and record.outputs is not None:
        console.print("outputs:", style="bold")
        # Not rich's print_json: it re-parses the text, recursively.
        text = display_text(record.outputs, OUTPUTS_LIMIT, indent=2)
        console.print(JSONHighlighter()(Text(text)))


def left_out(size: int) -> str:
    """What a table shows for a value the response left out for its size."""
    return f"(left out: {size:,} bytes)"


def read_hint(execution_id: str, flag: str) -> str:
    command = " ".join(filter(None, ["orchestrator executions value", execution_id, flag]))
    return f"read with `{command}`"


# -- events -----------------------------------------------------------------------------------


def event_text(event: Event) -> Text:
    at = moment(event.time)
    clock = at.strftime("%H:%M:%S.%f")[:-3] if at else f"{event.time:g}"
    line = Text.assemble(
        (f"#{event.sequence:<4}", "dim"),
        f" {clock}  ",
        (f"{event.type.value:<20}", style_for(event.type.value)),
        f" {event.task_id or '-':<12}",
    )
    if event.type is EventType.EXECUTION_MODIFIED:
        details = modification_render.modification_text(event.details)
    else:
        shown = itertools.islice(event.details.items(), EVENT_DETAILS_SHOWN)
        details = " ".join(f"{compact(k, 60)}={compact(v, 60)}" for k, v in shown)
        if len(event.details) > EVENT_DETAILS_SHOWN:
            details += f" … ({len(event.details)} details)"
    if details:
        line.append(" " + details, style="dim")
    return line


def follow(
    client: OrchestratorClient,
    execution_id: str,
    console: Console,
    from_sequence: int = 0,
    show_progress: bool = True,
) -> ExecutionRecord:
    """Prints every event as it arrives, with a tasks-done progress bar; returns the final
    execution (fetched once the stream ended, after the terminal event)."""
    record = client.get_execution(execution_id)
    # The workflow's own tasks: items and iterations come and go under them.
    tracked = {t for t in record.tasks if not task_rows.parent_row(t, record.tasks)}
    total = len(tracked) or None
    done = sum(1 for t in tracked if record.tasks[t].status.terminal) if from_sequence > 1 else 0
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[label]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not show_progress,
    )
    with progress:
        bar = progress.add_task("", total=total, completed=done, label=f"{record.workflow} tasks")
        for event in client.watch_execution(execution_id, from_sequence):
            progress.console.print(event_text(event))
            if event.type in _TASK_END_EVENTS and event.task_id in tracked:
                progress.advance(bar)
            if event.type is EventType.EXECUTION_RETRIED and total is not None:
                progress.update(bar, completed=total - int(event.details.get("task_count", 0)))
            if event.type is EventType.EXECUTION_MODIFIED and total is not None:
                total += modification_render.task_count_change(event.details)
                progress.update(bar, total=total)
            progress.update(bar, description=f"{event.type.value} {event.task_id}".strip())
            # The stream ends after the terminal event (one a retry followed is not the end).
    return client.get_execution(execution_id)


def succeeded(record: ExecutionRecord) -> bool:
    return record.status is ExecutionStatus.SUCCEEDED
