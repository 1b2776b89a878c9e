"""Human-friendly durations such as `500ms`, `30s`, `1h30m` or a bare number of seconds."""

from __future__ import annotations

import math
import re

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Units must appear largest first and at most once, so `1m1m` or `30s1m` are rejected
# rather than silently summed.
_UNIT_ORDER = ("h", "m", "s", "ms")
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_BARE = re.compile(_NUMBER)
# `ms` is listed before `m` so the alternation does not stop at `m` and leave an `s`.
_PART = re.compile(rf"({_NUMBER})(ms|h|m|s)")


def parse_duration(text: str | int | float) -> float:
    """Return the duration in seconds; raise ValueError naming what is wrong."""
    if isinstance(text, bool):  # bool is an int subclass; `timeout: true` is a mistake
        raise ValueError(f"invalid duration {text!r}: expected text like '30s' or a number")
    if isinstance(text, int | float):
        return _check_number(float(text), repr(text))
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected text like '30s' or a number")
    spec = text.strip()
    if not spec:
        raise ValueError("invalid duration: empty")
    if spec.startswith("-"):
        raise ValueError(f"invalid duration {text!r}: must not be negative")
    if _BARE.fullmatch(spec):
        return _check_number(float(spec), repr(text))
    return _parse_units(spec, text)


def _check_number(seconds: float, shown: str) -> float:
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"invalid duration {shown}: must be a finite number of seconds")
    if seconds < 0:
        raise ValueError(f"invalid duration {shown}: must not be negative")
    return seconds


def _parse_units(spec: str, original: str) -> float:
    total = 0.0
    pos = 0
    last_rank = -1
    while pos < len(spec):
        match = _PART.match(spec, pos)
        if match is None:
            raise ValueError(
                f"invalid duration {original!r}: expected a number followed by one of "
                "ms, s, m, h (e.g. '500ms', '30s', '1h30m')"
            )
        unit = match.group(2)
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            raise ValueError(
                f"invalid duration {original!r}: units must go from largest to smallest, "
                "each at most once"
            )
        last_rank = rank
        total += float(match.group(1)) * _UNIT_SECONDS[unit]
        pos = match.end()
    return total
