"""Numbers, moments and spans of time as the CLI prints them (pure: no rich, no I/O)."""

from __future__ import annotations

from datetime import datetime


def number(value: float) -> str:
    """`4`, `0.5`, `1.25`: no trailing zeros, at most 3 decimals."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def seconds_text(value: float) -> str:
    """`1h30m`, `5m`, `30s`, `0.5s`, `1h0m5s` -> `1h5s`; 0 -> `0s`."""
    if value <= 0:
        return "0s"
    if value < 60 and value != int(value):
        return f"{number(value)}s"
    whole = round(value)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


def moment(seconds: float) -> datetime | None:
    """The local time of an epoch time; None when it has none (NaN, beyond the calendar)."""
    try:
        return datetime.fromtimestamp(seconds)
    except (ValueError, OverflowError, OSError):  # NaN, or beyond the calendar of this host
        return None


def when(seconds: float | None) -> str:
    """`2024-05-06 09:30:00`; `-` when unset."""
    if not seconds:
        return "-"
    at = moment(seconds)
    if at is None:
        return f"{seconds:g}"
    return at.isoformat(sep=" ", timespec="seconds")
