"""The value domain (models.values) and the strict definition loader: pure checks."""

from __future__ import annotations

import math

import pytest

from controlplane.workflow.loader import MAX_NODES, DefinitionTooComplex, parse_text
from models.values import MAX_DEPTH, MAX_PROBLEMS, shorten, value_problems


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -3, 1.5, "", "naïve ☃", [], {}, {"a": [1, {"b": None}]}, nested(MAX_DEPTH)],
)
def test_json_values_within_the_limits_pass(value: object) -> None:
    assert value_problems(value, "v") == []


@pytest.mark.parametrize(
    ("value", "path", "words"),
    [
        (math.nan, "v", "not a JSON number"),
        ({"a": [1, math.inf]}, "v.a[1]", "not a JSON number"),
        ({1: "x"}, "v", "keys must be strings"),
        ({"x": {1, 2}}, "v.x", "set is not a JSON value"),
        ({"x": b"bytes"}, "v.x", "bytes is not a JSON value"),
        ("\ud800", "v", "lone surrogate"),
        (nested(MAX_DEPTH + 1), "v" + "[0]" * MAX_DEPTH, "deeper than"),
        ({"odd key": math.nan}, "v['odd key']", "not a JSON number"),
    ],
)
def test_values_outside_the_domain_are_named_by_path(value: object, path: str, words: str) -> None:
    problems = value_problems(value, "v")
    assert [p.path for p in problems] == [path]
    assert words in problems[0].description


def test_the_check_is_iterative_and_reports_a_bounded_number_of_problems() -> None:
    assert value_problems(nested(100_000), "v")  # no RecursionError
    assert len(value_problems([math.nan] * 1000, "v")) == MAX_PROBLEMS


def test_shorten_keeps_short_text_and_says_how_long_a_cut_one_was() -> None:
    assert shorten("abc", 5) == "abc"
    assert shorten("a" * 10, 4) == "aaaa... (10 characters)"


def test_yaml_is_read_as_the_json_subset_of_yaml_1_2() -> None:
    text = "a: on\nb: yes\nc: 2024-01-01\nd: 0x10\ne: 1.5e3\nf: ~\ng: True\nh: '1'\n"
    assert parse_text(text) == {
        "a": "on",
        "b": "yes",
        "c": "2024-01-01",
        "d": 16,
        "e": 1500.0,
        "f": None,
        "g": True,
        "h": "1",
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: .nan", "not a JSON number"),
        ("a: -.inf", "not a JSON number"),
        ("1: x", "is not a string"),
        ("a: 1\na: 2", "duplicate key 'a'"),
        ("a: !!binary aGk=", "not a JSON type"),
        ("a: !!python/object:os.system x", "not a JSON type"),
        ('{"a": NaN}', "not a JSON number"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a":' * 50_000 + "1" + "}" * 50_000, "nested deeper than"),
    ],
)
def test_text_outside_the_subset_is_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_text(text)


def test_an_alias_bomb_is_refused_before_anything_is_expanded() -> None:
    text = 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(1, 10):
        text += f"l{level}: &l{level} [{','.join([f'*l{level - 1}'] * 9)}]\n"
    with pytest.raises(DefinitionTooComplex, match=f"more than {MAX_NODES}"):
        parse_text(text)
    assert parse_text("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
