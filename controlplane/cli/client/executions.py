"""Handlers of `workflows`, `run` and `executions` (each returns an exit code)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.text import Text

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.cli import render
from controlplane.cli.client.modification_args import flag_of, read_operations
from controlplane.cli.parsing import assignments_to_dict, json_value
from controlplane.cli.usage import UsageProblem, read_text
from models.executions import ExecutionRecord, ValuePart
from models.workflows import Severity, ValidationProblem, View

EXIT_OK = 0
EXIT_NOT_SUCCEEDED = 1


def _warn(problems: list[ValidationProblem]) -> None:
    err = render.make_console(stderr=True)
    for problem in problems:
        err.print(render.problem_line(problem))


# -- workflows --------------------------------------------------------------------------------


def workflows_create(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    result = client.create_workflow(read_text(args.file))
    _warn(result.warnings)
    if render.wants_json(args):
        out = render.workflow_dict(result.workflow, with_definition=False)
        out["created"] = result.created
        out["warnings"] = render.to_jsonable(result.warnings)
        render.print_json(out)
    else:
        verb = "created" if result.created else "unchanged"
        console.print(
            f"workflow {result.workflow.name} revision {result.workflow.revision.revision} "
            f"({verb})",
            markup=False,
        )
    return EXIT_OK


def workflows_validate(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    result = client.validate_workflow(read_text(args.file))
    has_error = not result.valid or any(p.severity is Severity.ERROR for p in result.problems)
    if render.wants_json(args):
        render.print_json({"valid": not has_error, "problems": result.problems})
    else:
        for problem in result.problems:
            console.print(render.problem_line(problem))
        if not has_error:
            console.print(Text("valid", style="green"))
        else:
            errors = sum(1 for p in result.problems if p.severity is Severity.ERROR)
            console.print(Text(f"invalid: {errors} error(s)", style="red"))
    return EXIT_NOT_SUCCEEDED if has_error else EXIT_OK


def workflows_list(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    views = client.list_workflows()
    if render.wants_json(args):
        render.print_json([render.workflow_dict(v, with_definition=False) for v in views])
    else:
        console.print(render.workflows_table(views, render.every_namespace(args)))
    return EXIT_OK


def workflows_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    view = client.get_workflow(args.name, args.revision)
    if render.wants_json(args):
        render.print_json(render.workflow_dict(view))
    else:
        render.workflow_detail(console, view)
    return EXIT_OK


# -- executions -------------------------------------------------------------------------------


def _finish(
    args: argparse.Namespace, record: ExecutionRecord, client: OrchestratorClient, console: Console
) -> int:
    if render.wants_json(args):
        render.print_json(render.execution_dict(client.with_omitted_values(record)))
    else:
        render.execution_detail(console, record)
    return EXIT_OK if render.succeeded(record) else EXIT_NOT_SUCCEEDED


def run(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    created = client.create_workflow(read_text(args.file))
    _warn(created.warnings)
    workflow = created.workflow
    started = client.start_execution(
        workflow.name,
        assignments_to_dict(args.input),
        revision=workflow.revision.revision,
        request_id=args.request_id or "",
    )
    execution = started.execution
    if not args.wait:
        if render.wants_json(args):
            out = render.execution_dict(execution)
            out["created"] = started.created
            render.print_json(out)
        else:
            again = "" if started.created else " (existing execution for this request id)"
            console.print(
                f"started execution {execution.execution_id} of {workflow.name} "
                f"revision {workflow.revision.revision}{again}",
                markup=False,
            )
        return EXIT_OK
    # Progress and events go to stderr when JSON is wanted on stdout.
    live = render.make_console(stderr=True) if render.wants_json(args) else console
    live.print(f"execution {execution.execution_id}", markup=False, style="bold")
    final = render.follow(client, execution.execution_id, live)
    return _finish(args, final, client, console)


def executions_list(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    view = View.FULL if args.view == "full" else View.BASIC
    records = client.list_executions(args.workflow or "", args.status or (), view)
    if render.wants_json(args):
        render.print_json([render.execution_dict(r) for r in records])
    else:
        console.print(render.executions_table(records, render.every_namespace(args)))
    return EXIT_OK


def executions_get(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    record = client.get_execution(args.execution_id)
    if render.wants_json(args):
        render.print_json(render.execution_dict(client.with_omitted_values(record)))
    else:
        render.execution_detail(console, record)
    return EXIT_OK


def executions_value(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    """Prints one value whole as JSON: the outputs, the inputs or a task's output."""
    if args.task:
        part = ValuePart.TASK_OUTPUT
    else:
        part = ValuePart.INPUTS if args.inputs else ValuePart.OUTPUTS
    render.print_json(client.read_execution_value(args.execution_id, part, args.task or ""))
    return EXIT_OK


def executions_cancel(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    record = client.cancel_execution(args.execution_id, args.reason or "")
    if render.wants_json(args):
        render.print_json(render.execution_dict(record))
    else:
        console.print(
            Text.assemble(
                f"execution {record.execution_id}: ", render.status_text(record.status.value)
            )
        )
    return EXIT_OK


def _payload(args: argparse.Namespace) -> Any:
    """The signal's payload: --payload, or the JSON in --payload-file (None: neither)."""
    if not args.payload_file:
        return args.payload
    shown = "stdin" if args.payload_file == "-" else args.payload_file
    try:
        return json_value(read_text(args.payload_file))
    except ValueError as exc:
        raise UsageProblem(f"--payload-file {shown}: {exc}") from None


def _control_answer(
    args: argparse.Namespace, record: ExecutionRecord, console: Console, said: str = ""
) -> int:
    """What a control command prints: the execution as JSON, or its status in one line."""
    if render.wants_json(args):
        render.print_json(render.execution_dict(record))
    else:
        console.print(
            Text.assemble(said, f"execution {record.execution_id}: ", render.status_cell(record))
        )
    return EXIT_OK


def executions_signal(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    payload = _payload(args)
    record = client.signal_execution(args.execution_id, args.name, payload, args.request_id)
    return _control_answer(args, record, console, f"signal {args.name} sent to ")


def executions_pause(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    record = client.pause_execution(args.execution_id, args.reason or "")
    return _control_answer(args, record, console)


def executions_resume(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    record = client.resume_execution(args.execution_id, args.reason or "")
    return _control_answer(args, record, console)


def executions_retry(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    """Retries the execution; with --wait follows it to its end (exit 1 unless it succeeded)."""
    record = client.retry_execution(args.execution_id, args.request_id or "")
    if not args.wait:
        return _control_answer(args, record, console, "retried ")
    live = render.make_console(stderr=True) if render.wants_json(args) else console
    live.print(f"execution {record.execution_id} retried", markup=False, style="bold")
    final = render.follow(client, record.execution_id, live)
    return _finish(args, final, client, console)


def executions_modify(
    args: argparse.Namespace, client: OrchestratorClient, console: Console
) -> int:
    operations = read_operations(args.operations)
    try:
        record = client.modify_execution(
            args.execution_id, operations, args.reason, args.request_id
        )
    except ClientError as exc:
        raise _naming_flags(exc, args) from None
    said = f"{len(operations)} operation{'s' if len(operations) != 1 else ''} applied to "
    return _control_answer(args, record, console, said)


def _naming_flags(error: ClientError, args: argparse.Namespace) -> ClientError:
    """`error` saying which flag made the operation its violations name (`operations[1]`)."""
    named: list[str] = []
    for field, _ in error.violations:
        index = field.removeprefix("operations[").partition("]")[0]
        if field.startswith("operations[") and index.isdigit():
            flag = flag_of(args.operations, int(index))
            if flag and f"operations[{index}] is {flag}" not in named:
                named.append(f"operations[{index}] is {flag}")
    if not named:
        return error
    # The violations go into the message, so that the flags are said after them.
    extra = [f"{f}: {d}" for f, d in error.violations if f"{f}: {d}" not in error.message]
    message = error.message + (f" ({'; '.join(extra)})" if extra else "")
    return ClientError(error.code_name, f"{message}, where {'; '.join(named)}", error.violations)


def executions_watch(args: argparse.Namespace, client: OrchestratorClient, console: Console) -> int:
    """Follows the stream to the terminal event; exit 1 unless the execution succeeded."""
    live = render.make_console(stderr=True) if render.wants_json(args) else console
    final = render.follow(client, args.execution_id, live, from_sequence=args.from_sequence)
    return _finish(args, final, client, console)
