"""The firing times of a cron expression in an IANA time zone (`zoneinfo`), daylight-saving
rules included. Pure: no clock.

The fields are matched against the wall clock of the zone. Where the clock jumps:
- a local time that does not exist (skipped when clocks go forward, e.g. 02:30 on the spring
  night in New York) does not fire that day;
- a local time that happens twice (when clocks go back, e.g. 01:30 on the autumn night in New
  York) fires once, at its first occurrence (PEP 495 `fold=0`).
Every matching wall-clock minute that exists fires exactly once, so on those two nights a
frequent schedule sees its interval stretch ("*/15 * * * *" has no firing for the repeated
hour): a strictly periodic schedule belongs in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models.cron import CronExpr

# The longest run of days without a match before an expression is taken never to fire again
# ("0 0 29 2 *" waits up to 8 years across a century that skips a leap day).
MAX_IDLE_DAYS = 366 * 9


class TimeZoneError(ValueError):
    """A time zone name the zone database does not know."""


def load_zone(name: str) -> ZoneInfo:
    """The zone of an IANA name ("Europe/Paris", "UTC"); TimeZoneError naming it otherwise."""
    if not name:
        raise TimeZoneError("is required (an IANA name such as UTC or Europe/Paris)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: a malformed key ("../etc/passwd", an absolute path); OSError: a file
        # in the zone directory that is not a zone.
        raise TimeZoneError(f"{name!r} is not an IANA time zone name") from None


def local_instant(day: date, hour: int, minute: int, zone: ZoneInfo) -> float | None:
    """Epoch seconds of a wall-clock minute in `zone`: the first occurrence of a repeated one,
    None for one the clocks skip."""
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)  # fold=0
    epoch = wall.timestamp()
    back = datetime.fromtimestamp(epoch, zone)
    if (back.year, back.month, back.day, back.hour, back.minute) != (
        day.year,
        day.month,
        day.day,
        hour,
        minute,
    ):
        return None  # in a gap: fold=0 maps it to an instant whose wall clock differs
    return epoch


def fire_times(cron: CronExpr, zone: ZoneInfo, after: float) -> Iterator[float]:
    """Every firing time strictly after `after` (epoch seconds), in increasing order; ends when
    no day matches for MAX_IDLE_DAYS.

    Wall-clock order is epoch order once skipped minutes are dropped and repeated ones taken at
    their first occurrence, so walking days, hours and minutes in order yields sorted times."""
    hours = sorted(cron.hours)
    minutes = sorted(cron.minutes)
    start = datetime.fromtimestamp(after, zone)
    day = start.date()
    first_day = True
    idle_days = 0
    while idle_days <= MAX_IDLE_DAYS:
        fired = False
        if cron.day_matches(day):
            for hour in hours:
                if first_day and hour < start.hour:
                    continue
                for minute in minutes:
                    if first_day and hour == start.hour and minute < start.minute:
                        continue
                    epoch = local_instant(day, hour, minute, zone)
                    if epoch is not None and epoch > after:
                        fired = True
                        yield epoch
        idle_days = 0 if fired else idle_days + 1
        day += timedelta(days=1)
        first_day = False


def next_fire_time(cron: CronExpr, zone: ZoneInfo, after: float) -> float | None:
    """The first firing time strictly after `after`, or None when there is none."""
    return next(fire_times(cron, zone, after), None)


def rfc3339(epoch: float) -> str:
    """`2026-03-08T07:30:00Z`: a firing time (whole seconds) in UTC."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
