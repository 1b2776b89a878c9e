import math

import pytest

from models.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("0.1s", 0.1),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s500ms", 90.5),
        (".5s", 0.5),
        ("1.5h", 5400.0),
        ("45", 45.0),
        ("2.5", 2.5),
        (" 30s ", 30.0),
        (0, 0.0),
        (12, 12.0),
        (0.25, 0.25),
    ],
)
def test_valid_durations(text, seconds):
    assert math.isclose(parse_duration(text), seconds)


def test_result_is_float():
    assert isinstance(parse_duration(3), float)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5s", "negative"),
        ("-1", "negative"),
        (-3, "negative"),
        ("10d", "ms, s, m, h"),
        ("10 s", "ms, s, m, h"),
        ("s", "ms, s, m, h"),
        ("5x", "ms, s, m, h"),
        ("1m1m", "largest to smallest"),
        ("30s1m", "largest to smallest"),
        (True, "expected text"),
        (None, "expected text"),
        ([1], "expected text"),
        (float("inf"), "finite"),
        (float("nan"), "finite"),
    ],
)
def test_invalid_durations_raise_with_reason(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_duration(text)


def test_error_message_quotes_the_bad_value():
    with pytest.raises(ValueError, match="'10d'"):
        parse_duration("10d")
