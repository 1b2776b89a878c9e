"""Failures as a person reads them: colour codes stripped, Ray's wrappers unwrapped to the
user's exception, one bounded line with the root cause first, a bounded detail."""

from __future__ import annotations

import json

import pytest

from models.failures import (
    MAX_DETAIL_CHARS,
    MAX_SUMMARY_CHARS,
    bounded_detail,
    exception_summary,
    failure_summary,
    innermost_exception,
    one_line,
    strip_ansi,
    unwrap,
    where_raised,
)

# What Ray 2.60 sends for an actor whose constructor raised (colour codes, orphan carets, the
# chained marker exception the replica raises).
RAY_REPORT = (
    "The actor died because of an error raised in its creation task, "
    "\x1b[36mray::agent/v1/abc/0:AgentReplica.__init__()\x1b[39m (pid=1603, ip=10.0.0.2, "
    "actor_id=1027, repr=<ray_backend.replica_actor.AgentReplica object at 0x7eff>)\n"
    '  File "/usr/lib/python3.11/concurrent/futures/_base.py", line 456, in result\n'
    "    return self.__get_result()\n"
    "           ^^^^^^^^^^^^^^^^^^^\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/srv/agents/my_agents.py", line 12, in __init__\n'
    '    raise ValueError("api_key is required")\n'
    "ValueError: api_key is required\n"
    "\n"
    "The above exception was the direct cause of the following exception:\n"
    "\n"
    "\x1b[36mray::agent/v1/abc/0:AgentReplica.__init__()\x1b[39m (pid=1603)\n"
    '  File "/srv/ray_backend/replica_actor.py", line 93, in __init__\n'
    "    raise AgentInitFailed(exception_summary(exc)) from exc\n"
    "ray_backend.replica_actor.AgentInitFailed: ValueError: api_key is required "
    "(in MyAgent.__init__, my_agents.py:12)\n"
)


class Wrapper(Exception):
    """Like Ray's RayTaskError: the original exception as `cause`, a traceback as text."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("\x1b[31mray::task()\x1b[39m\nTraceback ...\n" + "x" * 3000)
        self.cause = cause


class MyAgent:
    def __init__(self, api_key: str = "") -> None:
        if not api_key:
            raise ValueError("api_key is required\nsee the docs")


def test_strip_ansi_removes_colours_and_cursor_moves() -> None:
    assert strip_ansi("\x1b[36mray::A\x1b[39m \x1b[1;31mred\x1b[0m\x1b[2K") == "ray::A red"
    assert "\x1b" not in strip_ansi(RAY_REPORT)


def test_one_line_flattens_and_bounds() -> None:
    assert one_line("a\n  b\tc\x1b[31m d\x1b[0m") == "a b c d"
    cut = one_line("word " * 500)
    assert len(cut) == MAX_SUMMARY_CHARS and cut.endswith("…") and "\n" not in cut
    assert one_line("abcdef", limit=4) == "abc…"


def test_innermost_exception_is_the_last_exception_line_of_the_traceback() -> None:
    assert innermost_exception(RAY_REPORT) == (
        "ray_backend.replica_actor.AgentInitFailed: ValueError: api_key is required "
        "(in MyAgent.__init__, my_agents.py:12)"
    )
    chained_only = RAY_REPORT.split("\n\nThe above")[0]
    assert innermost_exception(chained_only) == "ValueError: api_key is required"
    multi_line = '  File "x.py", line 1, in f\n    g()\nKeyError: first\nsecond line\n'
    assert innermost_exception(multi_line) == "KeyError: first second line"
    bare = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nStopIteration\n'
    assert innermost_exception(bare) == "StopIteration"
    assert innermost_exception("The actor died unexpectedly: OOM") is None


def test_bounded_detail_drops_carets_and_cuts_the_middle() -> None:
    detail = bounded_detail(RAY_REPORT)
    assert "\x1b" not in detail and "^^^" not in detail
    assert 'File "/srv/agents/my_agents.py", line 12, in __init__' in detail

    long = "START\n" + "".join(f'  File "f{i}.py", line {i}, in g\n' for i in range(2000))
    long += "ValueError: the end\n"
    cut = bounded_detail(long)
    assert len(cut) <= MAX_DETAIL_CHARS
    assert cut.startswith("START") and cut.endswith("ValueError: the end")
    assert "characters left out" in cut
    assert bounded_detail("short\n") == "short"


def test_unwrap_follows_cause_attributes_to_the_user_exception() -> None:
    original = KeyError("model")
    assert unwrap(Wrapper(Wrapper(original))) is original
    plain = RuntimeError("x")
    assert unwrap(plain) is plain


def test_failure_summary_names_the_root_cause_first() -> None:
    assert failure_summary(Wrapper(ValueError("api_key is required"))) == (
        "ValueError: api_key is required"
    )
    assert failure_summary(RuntimeError(RAY_REPORT)).startswith(
        "ray_backend.replica_actor.AgentInitFailed: ValueError: api_key is required"
    )
    died = RuntimeError("The actor died unexpectedly before finishing this task.\n\tpid: 12\nOOM")
    summary = failure_summary(died)
    assert summary.startswith("RuntimeError: The actor died") and "\n" not in summary
    assert failure_summary(TimeoutError()) == "TimeoutError"
    huge = failure_summary(ValueError("v" * 100_000))
    assert len(huge) <= MAX_SUMMARY_CHARS


def test_exception_summary_points_at_the_users_frame() -> None:
    with pytest.raises(ValueError) as info:
        MyAgent()
    summary = exception_summary(info.value)
    assert summary.startswith("ValueError: api_key is required see the docs (in MyAgent.__init__, ")
    assert summary.endswith(f"test_failure_text.py:{MyAgent.__init__.__code__.co_firstlineno + 2})")

    # Raised inside the standard library: the user's frame that called it is named.
    def parse() -> object:
        return json.loads("{")

    with pytest.raises(json.JSONDecodeError) as decode:
        parse()
    assert "parse" in where_raised(decode.value)
    assert "json" not in where_raised(decode.value).split(",")[-1]

    # Frames of skipped files (the replica's own code) are never blamed.
    assert where_raised(info.value, skip_files=[__file__]) == ""
    assert exception_summary(info.value, skip_files=[__file__]) == (
        "ValueError: api_key is required see the docs"
    )
