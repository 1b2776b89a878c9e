"""Firing times of a cron expression in a time zone (models.cron_zones) and what a schedule
does next (controlplane.engine.schedules.firing): pure functions, no clock and no store."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

import pytest

from controlplane.engine.schedules.firing import (
    MAX_COUNTED_MISSES,
    Buffer,
    Miss,
    Skip,
    Start,
    Timing,
    after_buffer,
    after_miss,
    after_refused,
    after_skip,
    after_start,
    decide,
    is_due,
    request_id,
)
from models.cron import CronExpr
from models.cron_zones import (
    TimeZoneError,
    fire_times,
    load_zone,
    next_fire_time,
    rfc3339,
)
from models.schedules import RECENT_EXECUTIONS, FiringState, OverlapPolicy, ScheduleSpec

NEW_YORK = load_zone("America/New_York")


def utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=UTC).timestamp()  # type: ignore[misc]


def times(cron: str, zone: str, after: float, count: int) -> list[str]:
    found = fire_times(CronExpr.parse(cron), load_zone(zone), after)
    return [rfc3339(t) for t in itertools.islice(found, count)]


def local_day(cron: str, zone: str, year: int, month: int, day: int) -> list[str]:
    """The firing times of one local day, as local wall clocks with their UTC offsets."""
    tz = load_zone(zone)
    start = datetime(year, month, day, tzinfo=tz).timestamp() - 1
    out = []
    for t in fire_times(CronExpr.parse(cron), tz, start):
        local = datetime.fromtimestamp(t, tz)
        if local.day != day:
            return out
        out.append(local.strftime("%H:%M%z"))
    return out


# -- firing times in a zone -------------------------------------------------------------------


def test_utc_times_follow_the_fields() -> None:
    assert times("*/15 * * * *", "UTC", utc(2026, 1, 1, 0, 10), 3) == [
        "2026-01-01T00:15:00Z",
        "2026-01-01T00:30:00Z",
        "2026-01-01T00:45:00Z",
    ]
    # Strictly after: a time exactly on a firing does not fire it again.
    assert times("0 9 * * mon-fri", "UTC", utc(2026, 1, 2, 9, 0), 2) == [
        "2026-01-05T09:00:00Z",
        "2026-01-06T09:00:00Z",
    ]
    assert times("@monthly", "UTC", utc(2026, 1, 31, 12), 1) == ["2026-02-01T00:00:00Z"]


def test_a_zone_moves_the_wall_clock_times() -> None:
    # 09:30 in Paris is 08:30 UTC in winter and 07:30 UTC in summer.
    assert times("30 9 * * *", "Europe/Paris", utc(2026, 1, 10), 1) == ["2026-01-10T08:30:00Z"]
    assert times("30 9 * * *", "Europe/Paris", utc(2026, 7, 10), 1) == ["2026-07-10T07:30:00Z"]
    # A zone half an hour off UTC.
    assert times("0 12 * * *", "Asia/Kolkata", utc(2026, 1, 10), 1) == ["2026-01-10T06:30:00Z"]


def test_a_local_time_the_clocks_skip_does_not_fire_that_day() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
    assert times("30 2 * * *", "America/New_York", utc(2026, 3, 7), 3) == [
        "2026-03-07T07:30:00Z",
        "2026-03-09T06:30:00Z",
        "2026-03-10T06:30:00Z",
    ]
    hourly = local_day("0 * * * *", "America/New_York", 2026, 3, 8)
    assert len(hourly) == 23 and "02:00-0500" not in hourly and "03:00-0400" in hourly


def test_a_local_time_that_happens_twice_fires_once_at_its_first_occurrence() -> None:
    # New York, 1 November 2026: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice.
    assert times("30 1 * * *", "America/New_York", utc(2026, 10, 31), 3) == [
        "2026-10-31T05:30:00Z",
        "2026-11-01T05:30:00Z",  # 01:30 EDT; not 06:30Z (01:30 EST)
        "2026-11-02T06:30:00Z",
    ]
    hourly = local_day("0 * * * *", "America/New_York", 2026, 11, 1)
    assert len(hourly) == 24 and hourly[1] == "01:00-0400" and hourly[2] == "02:00-0500"
    # A frequent schedule has no firing during the repeated hour.
    quarter = local_day("*/15 * * * *", "America/New_York", 2026, 11, 1)
    assert len(quarter) == 96 and quarter[4:9] == [
        "01:00-0400",
        "01:15-0400",
        "01:30-0400",
        "01:45-0400",
        "02:00-0500",
    ]


def test_a_half_hour_daylight_saving_shift() -> None:
    # Lord Howe Island, 4 October 2026: 02:00 jumps to 02:30.
    assert local_day("*/15 2 * * *", "Australia/Lord_Howe", 2026, 10, 4) == [
        "02:30+1100",
        "02:45+1100",
    ]


def test_times_increase_strictly_across_transitions() -> None:
    for start in (utc(2026, 3, 7), utc(2026, 10, 31)):
        found = list(
            itertools.islice(fire_times(CronExpr.parse("*/7 * * * *"), NEW_YORK, start), 900)
        )
        assert all(a < b for a, b in itertools.pairwise(found))


def test_an_expression_that_never_matches_has_no_next_time() -> None:
    assert next_fire_time(CronExpr.parse("0 0 30 2 *"), NEW_YORK, utc(2026, 1, 1)) is None
    # Every four years is not never.
    leap = next_fire_time(CronExpr.parse("0 0 29 2 *"), load_zone("UTC"), utc(2026, 1, 1))
    assert leap is not None and rfc3339(leap) == "2028-02-29T00:00:00Z"


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime"])
def test_an_unknown_zone_is_refused_by_name(name: str) -> None:
    with pytest.raises(TimeZoneError):
        load_zone(name)


# -- decisions --------------------------------------------------------------------------------

T0 = utc(2026, 5, 4, 9, 0)
MINUTE = 60.0
EVERY_MINUTE = Timing(CronExpr.parse("* * * * *"), load_zone("UTC"))


def spec(policy: OverlapPolicy = OverlapPolicy.SKIP, **changes: object) -> ScheduleSpec:
    base = ScheduleSpec(
        "nightly", "report", "* * * * *", overlap_policy=policy, catch_up_window_s=600.0
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_request_ids_name_the_schedule_and_the_time() -> None:
    assert request_id("nightly", T0) == "schedule:nightly:2026-05-04T09:00:00Z"


def test_nothing_is_due_before_the_next_time_or_while_paused() -> None:
    state = FiringState(next_fire_time=T0)
    assert not is_due(spec(), state, T0 - 1)
    assert decide(spec(), state, T0 - 1, [], EVERY_MINUTE) is None
    assert is_due(spec(), state, T0)
    assert not is_due(spec(paused=True), state, T0 + 5)
    assert decide(spec(paused=True), state, T0 + 5, [], EVERY_MINUTE) is None
    assert decide(spec(), FiringState(), T0, [], EVERY_MINUTE) is None  # never fires again


def test_a_due_time_starts_and_the_state_moves_past_it() -> None:
    state = FiringState(next_fire_time=T0, last_execution_ids=("old",))
    action = decide(spec(), state, T0 + 0.5, [], EVERY_MINUTE)
    assert action == Start(T0)
    after = after_start(state, Start(T0), "e1", EVERY_MINUTE)
    assert after.last_fire_time == T0 and after.next_fire_time == T0 + MINUTE
    assert after.last_execution_ids == ("e1", "old")
    many = FiringState(last_execution_ids=tuple(f"e{i}" for i in range(20)))
    assert len(after_start(many, Start(T0), "new", EVERY_MINUTE).last_execution_ids) == (
        RECENT_EXECUTIONS
    )


@pytest.mark.parametrize(
    ("policy", "buffered", "expected"),
    [
        (OverlapPolicy.SKIP, None, Skip(T0)),
        (OverlapPolicy.BUFFER_ONE, None, Buffer(T0)),
        (OverlapPolicy.BUFFER_ONE, T0 - MINUTE, Skip(T0)),  # one waits already
        (OverlapPolicy.ALLOW_ALL, None, Start(T0)),
        (OverlapPolicy.CANCEL_OTHER, None, Start(T0, cancel=("e2", "e1"))),
    ],
)
def test_overlap_policies_while_an_execution_runs(
    policy: OverlapPolicy, buffered: float | None, expected: object
) -> None:
    state = FiringState(next_fire_time=T0, buffered_fire_time=buffered)
    assert decide(spec(policy), state, T0, ["e2", "e1"], EVERY_MINUTE) == expected


def test_skip_and_buffer_are_recorded() -> None:
    state = FiringState(next_fire_time=T0)
    skipped = after_skip(state, Skip(T0), EVERY_MINUTE)
    assert skipped.skipped_count == 1 and skipped.last_fire_time == T0
    assert skipped.next_fire_time == T0 + MINUTE
    buffered = after_buffer(state, Buffer(T0), EVERY_MINUTE)
    assert buffered.buffered_fire_time == T0 and buffered.next_fire_time == T0 + MINUTE


def test_the_buffered_firing_starts_once_nothing_runs() -> None:
    policy = spec(OverlapPolicy.BUFFER_ONE)
    state = FiringState(next_fire_time=T0 + MINUTE, last_fire_time=T0, buffered_fire_time=T0)
    assert is_due(policy, state, T0 + 1)
    assert decide(policy, state, T0 + 1, ["e1"], EVERY_MINUTE) is None  # still running
    action = decide(policy, state, T0 + 1, [], EVERY_MINUTE)
    assert action == Start(T0, buffered=True)
    after = after_start(state, Start(T0, buffered=True), "e2", EVERY_MINUTE)
    # The buffered time was handled when it was buffered: the cursor does not move.
    assert after.buffered_fire_time is None and after.next_fire_time == T0 + MINUTE
    assert after.last_fire_time == T0 and after.last_execution_ids == ("e2",)


def test_a_refused_start_is_counted_with_why_and_passed_over() -> None:
    state = FiringState(next_fire_time=T0)
    after = after_refused(state, Start(T0), "agent 'work' is not deployed", EVERY_MINUTE)
    assert after.failed_count == 1 and after.next_fire_time == T0 + MINUTE
    assert after.last_error == "2026-05-04T09:00:00Z: agent 'work' is not deployed"
    buffered = FiringState(next_fire_time=T0 + MINUTE, buffered_fire_time=T0)
    again = after_refused(buffered, Start(T0, buffered=True), "no", EVERY_MINUTE)
    assert again.buffered_fire_time is None and again.next_fire_time == T0 + MINUTE


def test_times_older_than_the_catch_up_window_are_counted_and_skipped() -> None:
    # Down from 09:00 to 11:00:05 with a 10-minute window: 09:00 .. 10:50 are missed.
    state = FiringState(next_fire_time=T0)
    now = T0 + 2 * 3600 + 5
    action = decide(spec(), state, now, [], EVERY_MINUTE)
    assert action == Miss(T0, 111, T0 + 111 * MINUTE)
    after = after_miss(state, action)
    assert after.missed_count == 111 and after.next_fire_time == T0 + 111 * MINUTE
    # Every remaining time is within the window and starts in order, each once.
    starts = []
    while (step := decide(spec(), after, now, [], EVERY_MINUTE)) is not None:
        assert isinstance(step, Start)
        starts.append(step.fire_time)
        after = after_start(after, step, f"e{len(starts)}", EVERY_MINUTE)
    assert starts == [T0 + (111 + i) * MINUTE for i in range(10)]
    assert after.next_fire_time == T0 + 121 * MINUTE


def test_a_time_exactly_at_the_window_edge_still_starts() -> None:
    state = FiringState(next_fire_time=T0)
    assert decide(spec(), state, T0 + 600, [], EVERY_MINUTE) == Start(T0)


def test_a_very_long_outage_counts_misses_up_to_a_bound() -> None:
    state = FiringState(next_fire_time=T0)
    now = T0 + 200 * 86400  # 288,000 minutes later
    action = decide(spec(), state, now, [], EVERY_MINUTE)
    assert isinstance(action, Miss) and action.count == MAX_COUNTED_MISSES
    assert action.resume_at == now - 600  # the oldest time within the window


def test_catch_up_in_a_zone_skips_the_nonexistent_time() -> None:
    # Down over the spring-forward night in New York; "every half hour" missed 02:00 and 02:30.
    timing = Timing(CronExpr.parse("*/30 * * * *"), NEW_YORK)
    first = utc(2026, 3, 8, 6, 0)  # 01:00 EST
    now = utc(2026, 3, 8, 7, 40)  # 03:40 EDT
    state = FiringState(next_fire_time=first)
    started = []
    while (step := decide(spec(catch_up_window_s=3 * 3600.0), state, now, [], timing)) is not None:
        assert isinstance(step, Start)
        started.append(datetime.fromtimestamp(step.fire_time, NEW_YORK).strftime("%H:%M"))
        state = after_start(state, step, "e", timing)
    assert started == ["01:00", "01:30", "03:00", "03:30"]
