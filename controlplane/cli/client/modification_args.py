"""The operation flags of `executions modify` (--skip, --remove, --add-task, --update-task,
--set, --force-when), kept in the order they were given, and their reading into operations.

The flags only collect text while the command line is parsed; it is read here when the
command runs, so that a bad value is one `error: --flag ...` line (exit 2) and building the
parser imports nothing of the workflow language."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controlplane.cli.arg_types import MAX_DURATION_S
from controlplane.cli.json_text import display_text
from controlplane.cli.parsing import json_value, parse_value
from controlplane.cli.usage import UsageProblem
from models.modifications import Operation, OperationKind
from models.workflows import RetryPolicy, ValidationProblem

DEST = "operations"
_ADD_KEYS = ("id", "agent", "input", "depends_on", "timeout", "retry")
_UPDATE_KEYS = ("id", "input", "timeout", "retry")
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class Given:
    """One operation flag as typed: the flag and its text."""

    flag: str
    text: str

    def shown(self) -> str:
        """The flag with its value, as an error names it (long values cut)."""
        return f"{self.flag} {display_text(self.text, _SHOWN_CHARS)}"


class _Collect:
    """argparse `type=` callable that keeps which flag a value came with: every operation flag
    appends to one list, so the list keeps the order of the command line."""

    def __init__(self, flag: str) -> None:
        self.flag = flag
        self.__name__ = flag  # argparse names the type in some of its messages

    def __call__(self, text: str) -> Given:
        return Given(self.flag, text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "operations (repeatable, applied in the order given, all or none)"
    )

    def add(flag: str, metavar: str, help: str) -> None:
        group.add_argument(
            flag, dest=DEST, action="append", type=_Collect(flag), metavar=metavar, help=help
        )

    add("--skip", "TASK", "skip a task that has not started (SKIPPED with the reason)")
    add("--remove", "TASK", "remove a task that has not started and nothing depends on")
    add(
        "--add-task",
        "JSON",
        'add an agent task: {"id", "agent", "input", "depends_on": [...], "timeout": "5m", '
        '"retry": {...}} (id and agent required; fields as in a definition)',
    )
    add(
        "--update-task",
        "JSON",
        'change a task that has not started: {"id", "input", "timeout", "retry"} (the fields '
        "given replace the task's)",
    )
    add(
        "--set",
        "inputs.PATH=VALUE",
        "set a value of the execution's inputs (VALUE parsed as JSON when it parses)",
    )
    add("--force-when", "TASK=true|false", "take a task's `when` condition as true or false")
    parser.set_defaults(**{DEST: []})


def read_operations(given: list[Given]) -> list[Operation]:
    """The operations the flags describe, in their order; UsageProblem naming the flag of the
    first bad one, or when there is none."""
    if not given:
        raise UsageProblem(
            "give at least one operation: --skip, --remove, --add-task, --update-task, --set "
            "or --force-when"
        )
    return [_READERS[g.flag](g) for g in given]


def _task_id(given: Given) -> Operation:
    task_id = given.text.strip()
    if not task_id:
        raise UsageProblem(f"{given.flag}: expected a task id")
    kind = OperationKind.SKIP_TASK if given.flag == "--skip" else OperationKind.REMOVE_TASK
    return Operation(kind, task_id=task_id)


def _set(given: Given) -> Operation:
    path, sep, text = given.text.partition("=")
    path = path.strip()
    if not sep or not path.startswith("inputs.") or path == "inputs.":
        raise UsageProblem(
            f"{given.shown()}: expected inputs.PATH=VALUE, e.g. inputs.cfg.mode=release"
        )
    try:
        return Operation(OperationKind.SET_VALUE, path=path, value=parse_value(text))
    except ValueError as exc:
        raise UsageProblem(f"{given.flag} {path}: {exc}") from None


def _force(given: Given) -> Operation:
    task_id, sep, text = given.text.partition("=")
    choice = text.strip().lower()
    if not sep or not task_id.strip() or choice not in ("true", "false"):
        raise UsageProblem(f"{given.shown()}: expected TASK=true or TASK=false")
    return Operation(
        OperationKind.FORCE_CONDITION, task_id=task_id.strip(), condition=choice == "true"
    )


def _add(given: Given) -> Operation:
    fields = _task_fields(given, _ADD_KEYS)
    depends_on = fields.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise UsageProblem(f"{_named(given, fields)}: depends_on: expected a list of task ids")
    agent = fields.get("agent")
    if not isinstance(agent, str) or not agent:
        raise UsageProblem(f"{_named(given, fields)}: agent: required, the agent that runs it")
    return Operation(
        OperationKind.ADD_TASK,
        task_id=fields["id"],
        agent=agent,
        input=fields.get("input"),
        depends_on=tuple(depends_on),
        timeout_s=_timeout(given, fields),
        retry=_retry(given, fields),
    )


def _update(given: Given) -> Operation:
    fields = _task_fields(given, _UPDATE_KEYS)
    if not {"input", "timeout", "retry"} & fields.keys():
        raise UsageProblem(f"{_named(given, fields)}: give input, timeout or retry to change")
    return Operation(
        OperationKind.UPDATE_TASK,
        task_id=fields["id"],
        input=fields.get("input"),
        has_input="input" in fields,
        timeout_s=_timeout(given, fields),
        retry=_retry(given, fields),
    )


def _task_fields(given: Given, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of --add-task / --update-task with its known keys and an id."""
    try:
        fields = json_value(given.text)
    except ValueError as exc:
        raise UsageProblem(f"{given.shown()}: {exc}") from None
    if not isinstance(fields, dict):
        raise UsageProblem(f"{given.shown()}: expected a JSON object")
    problems = _workflow_problems(lambda report: report.unknown_keys(fields, allowed, ""))
    if problems:
        raise UsageProblem(f"{_named(given, fields)}: {problems[0].message}")
    task_id = fields.get("id")
    if not isinstance(task_id, str) or not task_id:
        raise UsageProblem(f"{given.shown()}: id: required, the task's id")
    return fields


def _named(given: Given, fields: dict[str, Any]) -> str:
    """The flag and the task it is about, as an error names them."""
    task_id = fields.get("id")
    return f"{given.flag} {task_id}" if isinstance(task_id, str) and task_id else given.shown()


def _timeout(given: Given, fields: dict[str, Any]) -> float | None:
    if "timeout" not in fields:
        return None
    seconds: list[float | None] = []
    problems = _workflow_problems(
        lambda report: seconds.append(report.duration("timeout", fields["timeout"]))
    )
    if problems or seconds[0] is None:
        message = problems[0].message if problems else "not a duration"
        raise UsageProblem(f"{_named(given, fields)}: timeout: {message}")
    if seconds[0] > MAX_DURATION_S:
        raise UsageProblem(f"{_named(given, fields)}: timeout: at most 10,000 years")
    return seconds[0]


def _retry(given: Given, fields: dict[str, Any]) -> RetryPolicy | None:
    """The `retry` object read as a definition's `retry:` section is."""
    if "retry" not in fields:
        return None
    from controlplane.workflow.retry_section import parse_retry

    policies: list[RetryPolicy] = []
    problems = _workflow_problems(
        lambda report: policies.append(parse_retry("retry", fields["retry"], report))
    )
    if problems:
        raise UsageProblem(f"{_named(given, fields)}: {problems[0].path}: {problems[0].message}")
    policy = policies[0]
    if max(policy.initial_interval_s, policy.max_interval_s) > MAX_DURATION_S:
        raise UsageProblem(f"{_named(given, fields)}: retry: intervals at most 10,000 years")
    return policy


def _workflow_problems(check: Callable[[Any], None]) -> list[ValidationProblem]:
    """What a check of the workflow language finds (its Reporter collects, never raises)."""
    from controlplane.workflow.reporter import Reporter

    problems: list[ValidationProblem] = []
    check(Reporter(problems))
    return problems


_READERS: dict[str, Callable[[Given], Operation]] = {
    "--skip": _task_id,
    "--remove": _task_id,
    "--add-task": _add,
    "--update-task": _update,
    "--set": _set,
    "--force-when": _force,
}


def flag_of(given: list[Given], index: int) -> str:
    """The flag (with its value) that made operation `index`, for an answer naming
    `operations[index]`."""
    return given[index].shown() if 0 <= index < len(given) else ""
