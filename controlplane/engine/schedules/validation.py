"""The checks of a schedule a client sends, each problem a field violation at its path in the
request (`schedule.cron`, `schedule.inputs.repo`): the spec on its own here, the workflow and
its inputs in `ScheduleManager.create` (they need the catalog)."""

from __future__ import annotations

import math
import re

from models.cron import CronError, CronExpr
from models.cron_zones import TimeZoneError, load_zone
from models.errors import FieldViolation
from models.namespaces import check_namespace
from models.schedules import MIN_CATCH_UP_WINDOW_S, ScheduleSpec

# No '/': a schedule is keyed `namespace/name` (models.namespaces).
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
MAX_CATCH_UP_WINDOW_S = 366 * 86400.0
PREFIX = "schedule"


def violation(field: str, description: str) -> FieldViolation:
    return FieldViolation(f"{PREFIX}.{field}", description)


def spec_problems(spec: ScheduleSpec) -> list[FieldViolation]:
    """Every problem of the spec that needs nothing but the spec."""
    problems: list[FieldViolation] = []
    if not NAME_RE.match(spec.name) or len(spec.name) > MAX_NAME:
        problems.append(violation("name", "must be 1-63 lower-case letters, digits or '-'"))
    if not spec.workflow:
        problems.append(violation("workflow", "is required"))
    if spec.revision < 0:
        problems.append(violation("revision", "must not be negative (0: the latest)"))
    if not spec.cron.strip():
        problems.append(violation("cron", "is required"))
    else:
        try:
            CronExpr.parse(spec.cron)
        except CronError as exc:
            problems.append(violation("cron", str(exc)))
    try:
        load_zone(spec.time_zone)
    except TimeZoneError as exc:
        problems.append(violation("time_zone", str(exc)))
    window = spec.catch_up_window_s
    if not math.isfinite(window) or not MIN_CATCH_UP_WINDOW_S <= window <= MAX_CATCH_UP_WINDOW_S:
        problems.append(
            violation(
                "catch_up_window",
                f"must be between {MIN_CATCH_UP_WINDOW_S:g}s and 366 days, got {window:g}s",
            )
        )
    if spec.namespace:
        problems += check_namespace(f"{PREFIX}.namespace", spec.namespace)
    return problems
