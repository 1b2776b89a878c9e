"""A scaling policy as a JSON document, and back, with every problem named by its path.

The document has the fields of `models.scaling` (times in seconds, in fields
ending in `_s`; a string such as "2m" is also accepted there). An absent field takes the
dataclass default. `policy_from_document` checks every field before building the dataclasses
and reports all problems at once, each at its API path (`policy.target_tracking[0].target`,
`policy.predictive.lead_time`: the `_s` suffix of the document is dropped in paths, as the
protobuf fields have none).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from models.cron import CronError, CronExpr
from models.durations import parse_duration
from models.errors import FieldViolation, InvalidArgument
from models.namespaces import namespace_problem, split_qualified
from models.scaling import (
    PredictiveScaling,
    ScaleLimit,
    ScalingPolicy,
    ScalingStep,
    ScheduledCapacity,
    StepScaling,
    TargetTracking,
)

# The per-replica metrics the scaling loop observes (see `scaling_loop.observe`).
METRICS = ("in_flight", "utilization", "queue_depth", "arrival_rate")
MAX_REPLICAS = 1000
MAX_LEAD_TIME_S = 86400.0
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

_TOP = {
    "agent",
    "min_replicas",
    "max_replicas",
    "target_tracking",
    "step_scaling",
    "scheduled",
    "predictive",
    "scale_out_limit",
    "scale_in_limit",
    "scale_out_cooldown_s",
    "scale_in_cooldown_s",
}


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def policy_to_document(policy: ScalingPolicy) -> dict[str, Any]:
    """The JSON document of a policy (every field, defaults included)."""
    document: dict[str, Any] = dataclasses.asdict(policy)
    return _lists(document)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    return value


def api_path(path: str) -> str:
    """`policy.predictive.lead_time_s` -> `policy.predictive.lead_time`."""
    return ".".join(part.removesuffix("_s") for part in path.split("."))


class _Checker:
    """Reads fields of one document, collecting violations instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[FieldViolation] = []

    def bad(self, path: str, why: str) -> None:
        self.problems.append(FieldViolation(api_path(path), why))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.bad(path, "must be an object")
            return {}
        for key in sorted(set(value) - allowed):
            self.bad(f"{path}.{key}", "unknown field")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.bad(path, "must be a list")
            return []
        return list(value)

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: float | None,
        ok: Callable[[float], bool] = lambda v: True,
        why: str = "",
    ) -> float | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(f"{path}.{key}", "must be a number")
            return default
        number = float(value)
        if not math.isfinite(number) or not ok(number):
            self.bad(f"{path}.{key}", why or "is out of range")
            return default
        return number

    def integer(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: int | None,
        low: int,
        high: int | None = None,
    ) -> int | None:
        value = data.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            self.bad(f"{path}.{key}", "must be a whole number")
            return default
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.bad(f"{path}.{key}", f"must be {limit}")
            return default
        return int(value)

    def seconds(
        self,
        data: Mapping[str, Any],
        key: str,
        path: str,
        default: float | None,
        *,
        positive: bool = False,
        signed: bool = False,
        high: float | None = None,
    ) -> float | None:
        value = data.get(key)
        if value is None:
            return default
        try:
            if signed and isinstance(value, int | float) and not isinstance(value, bool):
                seconds = float(value)
                if not math.isfinite(seconds):
                    raise ValueError("must be a finite number of seconds")
            else:
                seconds = parse_duration(value)
        except ValueError as exc:
            self.bad(f"{path}.{key}", str(exc))
            return default
        if positive and seconds <= 0:
            self.bad(f"{path}.{key}", "must be longer than zero")
            return default
        if high is not None and abs(seconds) > high:
            self.bad(f"{path}.{key}", f"must be at most {high:g}s")
            return default
        return seconds

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str) -> str:
        value = data.get(key)
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            self.bad(f"{path}.{key}", "must be a string")
            return default
        return value

    def metric(self, data: Mapping[str, Any], path: str, default: str) -> str:
        metric = self.text(data, "metric", path, default)
        if metric not in METRICS:
            self.bad(f"{path}.metric", f"must be one of {', '.join(METRICS)}")
        return metric

    def build(self, path: str, make: Callable[[], Any]) -> Any:
        """Builds a dataclass whose own checks may still object (cron, overlapping steps)."""
        try:
            return make()
        except ValueError as exc:
            self.bad(path, str(exc))
            return None


def _target_tracking(c: _Checker, raw: Any, path: str) -> TargetTracking | None:
    data = c.mapping(raw, path, _fields(TargetTracking))
    default = TargetTracking()
    metric = c.metric(data, path, default.metric)
    target = c.number(data, "target", path, default.target, lambda v: v > 0, "must be > 0")
    tolerance = c.number(
        data, "tolerance", path, default.tolerance, lambda v: 0 <= v < 1, "must be in [0, 1)"
    )
    up = c.seconds(data, "scale_up_stabilization_s", path, default.scale_up_stabilization_s)
    down = c.seconds(data, "scale_down_stabilization_s", path, default.scale_down_stabilization_s)
    name = c.text(data, "name", path, default.name)
    if c.problems:
        return None
    return c.build(
        path,
        lambda: TargetTracking(
            metric=metric,
            target=float(target or 0),
            tolerance=float(tolerance or 0),
            scale_up_stabilization_s=float(up or 0),
            scale_down_stabilization_s=float(down or 0),
            name=name,
        ),
    )


def _step(c: _Checker, raw: Any, path: str, exact: bool) -> ScalingStep | None:
    data = c.mapping(raw, path, _fields(ScalingStep))
    if "adjustment" not in data:
        c.bad(f"{path}.adjustment", "is required")
    adjustment = c.number(data, "adjustment", path, 0.0)
    if exact and adjustment is not None and (adjustment < 0 or adjustment != int(adjustment)):
        c.bad(f"{path}.adjustment", "an exact count must be a whole number >= 0")
    lower = c.number(data, "lower", path, None)
    upper = c.number(data, "upper", path, None)
    if lower is not None and upper is not None and lower >= upper:
        c.bad(f"{path}.upper", f"must be greater than lower ({lower:g})")
    return ScalingStep(adjustment=float(adjustment or 0), lower=lower, upper=upper)


def _step_scaling(c: _Checker, raw: Any, path: str) -> StepScaling | None:
    data = c.mapping(raw, path, _fields(StepScaling))
    metric = c.metric(data, path, "")
    kind = c.text(data, "adjustment_type", path, "change").lower()
    if kind not in ("change", "percent", "exact"):
        c.bad(f"{path}.adjustment_type", "must be change, percent or exact")
    steps_raw = c.items(data.get("steps"), f"{path}.steps")
    if not steps_raw:
        c.bad(f"{path}.steps", "at least one step is needed")
    steps = [_step(c, s, f"{path}.steps[{i}]", kind == "exact") for i, s in enumerate(steps_raw)]
    magnitude = c.integer(data, "min_adjustment_magnitude", path, 1, 0, MAX_REPLICAS)
    name = c.text(data, "name", path, "step")
    if c.problems:
        return None
    return c.build(
        f"{path}.steps",
        lambda: StepScaling(
            metric=metric,
            steps=tuple(s for s in steps if s is not None),
            adjustment_type=kind,  # type: ignore[arg-type]
            min_adjustment_magnitude=int(magnitude or 0),
            name=name,
        ),
    )


def _scheduled(c: _Checker, raw: Any, path: str) -> ScheduledCapacity | None:
    data = c.mapping(raw, path, _fields(ScheduledCapacity))
    cron = c.text(data, "cron", path, "")
    if not cron:
        c.bad(f"{path}.cron", "is required")
    else:
        try:
            CronExpr.parse(cron)
        except CronError as exc:
            c.bad(f"{path}.cron", str(exc))
    if data.get("duration_s") is None:
        c.bad(f"{path}.duration", "is required")
    duration = c.seconds(data, "duration_s", path, 0.0, positive=True)
    replicas = c.integer(data, "replicas", path, 0, 0, MAX_REPLICAS)
    offset = c.seconds(data, "utc_offset_s", path, 0.0, signed=True, high=86400.0)
    name = c.text(data, "name", path, "scheduled")
    if c.problems:
        return None
    return c.build(
        path,
        lambda: ScheduledCapacity(
            cron=cron,
            duration_s=float(duration or 0),
            replicas=int(replicas or 0),
            name=name,
            utc_offset_s=float(offset or 0),
        ),
    )


def _predictive(
    c: _Checker, raw: Any, path: str, default_concurrency: int
) -> PredictiveScaling | None:
    data = c.mapping(raw, path, _fields(PredictiveScaling))
    d = PredictiveScaling()
    utilization = c.number(
        data,
        "target_utilization",
        path,
        d.target_utilization,
        lambda v: 0 < v <= 1,
        "must be in (0, 1]",
    )
    lead = c.seconds(data, "lead_time_s", path, d.lead_time_s, high=MAX_LEAD_TIME_S)
    level = c.number(data, "level", path, d.level, lambda v: 0 < v < 1, "must be in (0, 1)")
    bound = c.text(data, "bound", path, d.bound).lower()
    if bound not in ("upper", "mean"):
        c.bad(f"{path}.bound", "must be upper or mean")
    service = c.seconds(data, "service_time_s", path, None, positive=True)
    concurrency = c.integer(data, "concurrency", path, default_concurrency, 1, 100_000)
    slo = c.seconds(data, "slo_wait_s", path, None)
    violation = c.number(
        data, "max_violation", path, d.max_violation, lambda v: 0 < v < 1, "must be in (0, 1)"
    )
    name = c.text(data, "name", path, d.name)
    if c.problems:
        return None
    return c.build(
        path,
        lambda: PredictiveScaling(
            target_utilization=float(utilization or 0),
            lead_time_s=float(lead or 0),
            level=float(level or 0),
            bound=bound,  # type: ignore[arg-type]
            service_time_s=service,
            concurrency=int(concurrency or 1),
            slo_wait_s=slo,
            max_violation=float(violation or 0),
            name=name,
        ),
    )


def _limit(c: _Checker, raw: Any, path: str) -> ScaleLimit:
    if raw is None:
        return ScaleLimit()
    data = c.mapping(raw, path, _fields(ScaleLimit))
    replicas = c.integer(data, "replicas", path, None, 0, MAX_REPLICAS)
    percent = c.number(data, "percent", path, None, lambda v: v >= 0, "must be >= 0")
    return ScaleLimit(replicas=replicas, percent=percent)


def policy_from_document(
    document: Any, prefix: str = "policy", default_concurrency: int = 1
) -> ScalingPolicy:
    """The policy a document describes; InvalidArgument naming every problem otherwise.

    `default_concurrency`: the predictive policy's concurrency when the document has none
    (the control plane passes the agent's max_concurrency)."""
    c = _Checker()
    data = c.mapping(document, prefix, _TOP)
    # The agent's key: its name, after `namespace/` outside the default namespace.
    agent = c.text(data, "agent", prefix, "")
    namespace, name = split_qualified(agent)
    if not NAME_RE.match(name) or len(name) > 63 or namespace_problem(namespace):
        c.bad(f"{prefix}.agent", "must name an agent: 1-63 lower-case letters, digits or '-'")
    low = c.integer(data, "min_replicas", prefix, 1, 0, MAX_REPLICAS)
    high = c.integer(data, "max_replicas", prefix, 10, 0, MAX_REPLICAS)
    if low is not None and high is not None and high < low:
        c.bad(f"{prefix}.max_replicas", f"must be at least min_replicas ({low})")
    out_cooldown = c.seconds(data, "scale_out_cooldown_s", prefix, 0.0)
    in_cooldown = c.seconds(data, "scale_in_cooldown_s", prefix, 0.0)
    out_limit = _limit(c, data.get("scale_out_limit"), f"{prefix}.scale_out_limit")
    in_limit = _limit(c, data.get("scale_in_limit"), f"{prefix}.scale_in_limit")

    def each(key: str, parse: Callable[[_Checker, Any, str], Any]) -> list[tuple[Any, str]]:
        out = []
        for i, raw in enumerate(c.items(data.get(key), f"{prefix}.{key}")):
            path = f"{prefix}.{key}[{i}]"
            sub = _Checker()
            value = parse(sub, raw, path)
            c.problems.extend(sub.problems)
            out.append((value, path))
        return out

    targets = each("target_tracking", _target_tracking)
    steps = each("step_scaling", _step_scaling)
    scheduled = each("scheduled", _scheduled)
    predictive = None
    if data.get("predictive") is not None:
        sub = _Checker()
        predictive = _predictive(
            sub, data["predictive"], f"{prefix}.predictive", default_concurrency
        )
        c.problems.extend(sub.problems)

    named = [*targets, *steps, *scheduled]
    if predictive is not None:
        named.append((predictive, f"{prefix}.predictive"))
    seen: set[str] = set()
    for value, path in named:
        if value is None:
            continue
        if value.name in seen:
            c.bad(f"{path}.name", f"{value.name!r} is already the name of another policy")
        seen.add(value.name)

    if c.problems:
        raise InvalidArgument("invalid scaling policy", c.problems)
    policy: ScalingPolicy | None = c.build(
        prefix,
        lambda: ScalingPolicy(
            agent=agent,
            min_replicas=int(low if low is not None else 1),
            max_replicas=int(high if high is not None else 10),
            target_tracking=tuple(v for v, _ in targets),
            step_scaling=tuple(v for v, _ in steps),
            scheduled=tuple(v for v, _ in scheduled),
            predictive=predictive,
            scale_out_limit=out_limit,
            scale_in_limit=in_limit,
            scale_out_cooldown_s=float(out_cooldown or 0),
            scale_in_cooldown_s=float(in_cooldown or 0),
        ),
    )
    if policy is None:
        raise InvalidArgument("invalid scaling policy", c.problems)
    return policy
