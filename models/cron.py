"""A small cron-expression matcher: "minute hour day-of-month month day-of-week".

Syntax per field: `*`, a number, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from a to the
field's maximum), and comma-separated lists of these. Months and weekdays also take English
three-letter names (`jan`, `mon-fri`); day-of-week 0 and 7 are both Sunday. The macros
`@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight` and `@hourly` work too.
As in Vixie cron, when both day-of-month and day-of-week are restricted (neither starts with
`*`), a day matches when *either* matches ("0 9 1 * mon": the 1st and every Monday).

Times are epoch seconds interpreted at a fixed UTC offset (no daylight-saving rules: no time zone
database is read). Pure: no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (name, low, high, names mapped to low + index)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)


class CronError(ValueError):
    """A cron expression that does not parse; the message names the field."""


def _number(text: str, field: str, low: int, high: int, names: tuple[str, ...]) -> int:
    lowered = text.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not text.isdigit():
        raise CronError(f"{field}: {text!r} is not a number" + (" or a name" if names else ""))
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step must be a positive integer, got {step_text!r}")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = _number(a, field, low, high, names)
            last = _number(b, field, low, high, names)
            if first > last:
                raise CronError(f"{field}: range {base!r} runs backwards")
        else:
            first = _number(base, field, low, high, names)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronExpr:
    """A parsed expression; `matches` and `previous_match` answer questions about times."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        expanded = _MACROS.get(text.strip().lower(), text)
        parts = expanded.split()
        if len(parts) != 5:
            raise CronError(
                f"expected 5 fields 'minute hour day-of-month month day-of-week', got {text!r}"
            )
        sets = [_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            text=text,
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=weekdays,
            day_restricted=not parts[2].startswith("*"),
            weekday_restricted=not parts[4].startswith("*"),
        )

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = day.isoweekday() % 7 in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def matches(self, when: float, utc_offset_s: float = 0.0) -> bool:
        """True when the minute containing `when` (epoch seconds) matches."""
        local = _local(when, utc_offset_s)
        return (
            local.minute in self.minutes
            and local.hour in self.hours
            and self.day_matches(local.date())
        )

    def previous_match(
        self, when: float, not_before: float, utc_offset_s: float = 0.0
    ) -> float | None:
        """Epoch seconds of the latest matching minute start at or before `when` and at or
        after `not_before`, or None. Cost grows with the days between the two, not minutes."""
        local = _local(when, utc_offset_s)
        hours = sorted(self.hours, reverse=True)
        minutes = sorted(self.minutes, reverse=True)
        floor = _local(not_before, utc_offset_s).date()
        day = local.date()
        first_day = True
        while day >= floor:
            if self.day_matches(day):
                for hour in hours:
                    if first_day and hour > local.hour:
                        continue
                    for minute in minutes:
                        if first_day and hour == local.hour and minute > local.minute:
                            continue
                        start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        epoch = start.timestamp() - utc_offset_s
                        return epoch if epoch >= not_before else None
            day -= timedelta(days=1)
            first_day = False
        return None


def _local(when: float, utc_offset_s: float) -> datetime:
    return datetime.fromtimestamp(when + utc_offset_s, tz=UTC)
