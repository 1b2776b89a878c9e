"""Checks of the fields pools, quotas and reservations share: names and resource amounts."""

from __future__ import annotations

import re

from models.errors import FieldViolation
from models.resources import ResourceAmounts

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_name(field: str, name: str) -> list[FieldViolation]:
    if NAME_RE.match(name) and len(name) <= 63:
        return []
    return [FieldViolation(field, "must be 1-63 lower-case letters, digits or '-'")]


def check_amounts(field: str, amounts: ResourceAmounts) -> list[FieldViolation]:
    out = []
    for name in ("cpu", "memory", "gpu", *amounts.custom):
        if amounts.get(name) < 0:
            out.append(FieldViolation(f"{field}.{name}", "must not be negative"))
    return out
