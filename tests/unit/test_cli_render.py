"""The CLI prints any value a store or a server may hold, without a traceback: non-finite and
huge numbers, nesting far deeper than Python's recursion limit, huge strings, non-BMP text and
lone surrogates. JSON output stays valid JSON; tables and detail views cut long values."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console

from controlplane.cli import render
from controlplane.cli.json_text import display_text, json_text, to_jsonable
from models.executions import (
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)

DEEP = 5000  # well past Python's default recursion limit of 1000
HUGE = 1_000_000


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for index in range(depth):
        value = {"a": value} if index % 2 else [value]
    return value


def hostile_values() -> dict[str, Any]:
    return {
        "nan": math.nan,
        "inf": math.inf,
        "minus_inf": -math.inf,
        "max": 1e308,
        "big_int": 2**63,
        "huge_string": "x" * HUGE,
        "emoji": "\U0001f600 \U00010348",
        "lone_surrogate": "a\udc80b",
        "deep": nested(DEEP),
    }


def record(values: dict[str, Any]) -> ExecutionRecord:
    task = TaskRecord("t", "work", TaskStatus.SUCCEEDED, output=values, depends_on=(), error=None)
    failed = TaskRecord(
        "f", "work", TaskStatus.FAILED, error=ErrorInfo("AgentError", "boom " * 100_000)
    )
    return ExecutionRecord(
        execution_id="ex-1",
        workflow="wf",
        revision=1,
        status=ExecutionStatus.FAILED,
        inputs=values,
        create_time=1e18,  # beyond any calendar
        outputs=values,
        error=ErrorInfo("TaskFailed", "y" * HUGE, "f"),
        tasks={"t": task, "f": failed},
        start_time=math.nan,
        end_time=math.inf,
    )


@pytest.fixture
def big_stack_for_checking() -> Iterator[None]:
    """json.loads itself recurses: checking the deep output needs a larger limit than
    producing it did."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(4 * DEEP)
    yield
    sys.setrecursionlimit(limit)


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, highlight=False), out


def loads_strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# -- JSON output --------------------------------------------------------------------------------


def test_json_output_of_an_execution_is_valid_json(
    capsys: pytest.CaptureFixture[str], big_stack_for_checking: None
) -> None:
    render.print_json(render.execution_dict(record(hostile_values())))
    printed = loads_strict(capsys.readouterr().out)
    outputs = printed["outputs"]
    assert outputs["nan"] is None and outputs["inf"] is None and outputs["minus_inf"] is None
    assert outputs["max"] == 1e308 and outputs["big_int"] == 2**63
    assert outputs["huge_string"] == "x" * HUGE  # JSON output is never cut
    assert outputs["emoji"] == "\U0001f600 \U00010348"
    assert outputs["deep"] == nested(DEEP)
    assert printed["start_time"] is None and printed["create_time"] == 1e18
    assert [t["task_id"] for t in printed["tasks"]] == ["t", "f"]


def test_json_text_is_ascii_and_escapes_lone_surrogates() -> None:
    text = json_text({"s": "a\udc80b", "e": "\U0001f600"})
    assert text.isascii()
    assert json.loads(text) == {"s": "a\udc80b", "e": "\U0001f600"}


def test_json_text_matches_the_standard_library_on_ordinary_values() -> None:
    value = {"a": [1, 2.5, {"b": None, "c": True}], "s": "é\n", "e": {}, "l": [[]], "n": -0.0}
    assert json_text(value) == json.dumps(value, indent=2)
    assert json_text(value, indent=None) == json.dumps(value, separators=(",", ":"))


def test_deep_values_are_not_indented_past_a_limit() -> None:
    text = json_text(nested(20_000))
    assert max(len(line) - len(line.lstrip()) for line in text.splitlines()) <= 64
    assert len(text) < 4_000_000


def test_to_jsonable_converts_at_any_depth() -> None:
    deep: Any = ExecutionStatus.RUNNING
    for _ in range(DEEP):
        deep = (deep,)
    converted = to_jsonable({"x": deep, 3: {1, 2}})
    for _ in range(DEEP):
        converted["x"] = converted["x"][0]
    assert converted == {"x": "RUNNING", "3": [1, 2]}


# -- tables and detail views --------------------------------------------------------------------


def test_execution_detail_prints_every_value_shortened() -> None:
    con, out = console()
    render.execution_detail(con, record(hostile_values()))
    text = out.getvalue()
    assert "NaN" in text and "-Infinity" in text and "1e+308" in text
    # The long error message says how long it was (rich may wrap the line anywhere).
    assert "(1000000characters)" in "".join(text.split())
    assert "\U0001f600" in text and "a?b" in text
    assert len(text) < 20_000


def test_executions_table_and_events_survive_unusual_times_and_details() -> None:
    con, out = console()
    con.print(render.executions_table([record(hostile_values())]))
    details = {f"k{i}": "z" * 10_000 for i in range(1000)} | {"deep": nested(DEEP)}
    con.print(render.event_text(Event("ex-1", 7, EventType.TASK_SUCCEEDED, math.nan, "t", details)))
    text = out.getvalue()
    assert "ex-1" in text and "1e+18" in text
    assert "(1001 details)" in text
    assert len(text) < 10_000


@pytest.mark.parametrize("name", list(hostile_values()))
def test_compact_shows_one_value_within_its_limit(name: str) -> None:
    shown = render.compact(hostile_values()[name], 60)
    assert len(shown) <= 100  # a cut string also says its length
    shown.encode("utf-8")  # a terminal can print it


def test_display_text_spells_non_finite_numbers() -> None:
    assert display_text([math.nan, math.inf, -math.inf, 1e308, 2**63]) == (
        "[NaN,Infinity,-Infinity,1e+308,9223372036854775808]"
    )
    assert display_text("x" * 100, 10) == "xxxxxxxxxx... (100 characters)"


# -- paused executions, child executions, skipped tasks ----------------------------------------


def _running(**changes: Any) -> ExecutionRecord:
    base = ExecutionRecord("ex-2", "wf", 1, ExecutionStatus.RUNNING, {}, 1.7e9)
    return dataclasses.replace(base, **changes)


def test_a_paused_execution_says_so_until_it_ends() -> None:
    assert render.status_cell(_running(paused=True)).plain == "RUNNING PAUSED"
    assert render.status_cell(_running()).plain == "RUNNING"
    ended = _running(paused=True, status=ExecutionStatus.CANCELLED)
    assert render.status_cell(ended).plain == "CANCELLED"
    con, out = console()
    con.print(render.executions_table([_running(paused=True)]))
    render.execution_detail(con, _running(paused=True, parent_execution_id="ex-1"))
    text = out.getvalue()
    assert text.count("RUNNING PAUSED") == 2
    assert "parent    ex-1" in text


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ErrorInfo("ConditionFalse", "condition false: inputs.n > 3"),
         "skipped: condition false: inputs.n > 3"),
        (ErrorInfo("UpstreamFailed", "an upstream task failed"),
         "skipped: an upstream task failed"),
        (ErrorInfo("NotCompensated", "the execution did not fail"),
         "skipped: no compensation needed: the execution did not fail"),
        (ErrorInfo("ManuallySkipped", ""), "skipped: ManuallySkipped"),
        (None, "skipped"),
    ],
)  # fmt: skip
def test_a_skipped_task_shows_why(error: ErrorInfo | None, shown: str) -> None:
    task = TaskRecord("fix", "coder", TaskStatus.SKIPPED, error=error)
    assert render.task_detail(task).plain == shown
    con, out = console()
    render.execution_detail(con, _running(tasks={"fix": task}))
    assert shown in out.getvalue()
    assert "Condition" not in out.getvalue()
