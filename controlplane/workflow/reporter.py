"""Collecting validation problems with the path of each field, and the checks every section of
a definition shares (types, durations, names, unknown keys)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from controlplane.workflow.inputs import json_type_name, matches_type
from models.durations import parse_duration
from models.workflows import Severity, ValidationProblem

MAX_NAME_LENGTH = 63


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    rule: str


WORKFLOW_NAME = NameRule(
    re.compile(r"[a-z0-9]([-a-z0-9_]*[a-z0-9])?"),
    "use lowercase letters, digits, '-' and '_', starting and ending with a letter or digit",
)
TASK_ID = NameRule(
    re.compile(r"[A-Za-z_][A-Za-z0-9_-]*"),
    "start with a letter or '_', then letters, digits, '_' or '-'",
)
# Signal names follow task ids: SignalExecution(name=...) sends them.
SIGNAL_NAME = TASK_ID


class Reporter:
    """Every problem found, in order; checks report and return None (or a default) instead of
    raising, so one pass finds them all."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems

    def error(self, path: str, message: str) -> None:
        self.problems.append(ValidationProblem(path, message))

    def report(self, path: str, message: str, severity: Severity) -> None:
        self.problems.append(ValidationProblem(path, message, severity))

    def extend(self, problems: list[ValidationProblem]) -> None:
        self.problems.extend(problems)

    def unknown_keys(self, data: dict[Any, Any], allowed: tuple[str, ...], base: str) -> None:
        for key in data:
            if key not in allowed:
                path = f"{base}.{key}" if base else str(key)
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suffix = f"; did you mean '{hint[0]}'?" if hint else ""
                self.error(path, f"unknown field '{key}'{suffix}")

    def expect(self, path: str, value: Any, type_name: str) -> bool:
        if matches_type(value, type_name):
            return True
        self.error(path, f"expected {type_name}, got {json_type_name(value)}")
        return False

    def duration(self, path: str, value: Any) -> float | None:
        """A positive duration, or None (after reporting) when it is not one."""
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            self.error(path, str(exc))
            return None
        if seconds <= 0:
            self.error(path, f"duration {value!r} must be greater than zero")
            return None
        return seconds

    def name(self, path: str, value: Any, rule: NameRule) -> str | None:
        if not self.expect(path, value, "string"):
            return None
        if not rule.pattern.fullmatch(value):
            self.error(path, f"invalid name {value!r}: {rule.rule}")
        elif len(value) > MAX_NAME_LENGTH:
            self.error(path, f"name {value!r} is longer than {MAX_NAME_LENGTH} characters")
        return str(value)

    def integer_at_least(self, path: str, value: Any, low: int) -> int | None:
        if not self.expect(path, value, "integer"):
            return None
        if value < low:
            self.error(path, f"must be >= {low}, got {value}")
            return None
        return int(value)
