"""CEL conditions: what is refused when a workflow is created (with the path and the position),
and how a condition fails while it runs (the CEL error, or a result that is not a boolean)."""

from __future__ import annotations

import pytest

from controlplane.workflow import conditions
from controlplane.workflow.conditions import (
    FINALLY_NAMES,
    MAX_CONDITION_LENGTH,
    UNTIL_NAMES,
    WHEN_NAMES,
    ConditionError,
    condition_problems,
    condition_task_ids,
    evaluate_condition,
)
from models.workflows import Severity, ValidationProblem

REVIEW = {
    "inputs": {"threshold": 0.8},
    "tasks": {
        "review": {
            "output": [{"file": "a.py", "score": 0.9}, {"file": "b.py", "score": 0.5}],
            "status": "SUCCEEDED",
        },
        "lint": {"output": None, "status": "FAILED"},
    },
}


def messages(text: str, names: frozenset[str] = WHEN_NAMES, **kwargs) -> list[str]:
    found = condition_problems(text, "tasks[2].when", names, **kwargs)
    assert all(p.path == "tasks[2].when" and p.severity is Severity.ERROR for p in found)
    return [p.message for p in found]


# --- create time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "tasks.review.output.exists(r, r.score < 0.8)",
        "tasks.review.output.all(r, r.score > 0.1)",
        "tasks.review.output.map(r, r.score).filter(s, s < inputs.threshold).size() > 0",
        "has(tasks.review.output) && tasks.lint.status == 'FAILED'",
        "tasks['review'].status in ['SUCCEEDED', 'SKIPPED']",
        "inputs.threshold",  # dyn: may be a boolean, checked when it runs
    ],
)
def test_good_conditions_have_no_problems(text: str) -> None:
    assert messages(text, task_ids=["review", "lint"]) == []


def test_a_syntax_error_names_its_column() -> None:
    [message] = messages("tasks.review.output == ")
    assert "Syntax error" in message
    assert message.endswith("(at column 24)")


def test_an_unknown_name_lists_the_names_available_here() -> None:
    assert messages("foo.bar == 1") == [
        "unknown name 'foo' (at column 4); available here: inputs, tasks"
    ]


def test_every_unknown_name_is_reported_with_its_line() -> None:
    assert messages("foo\n&& bar") == [
        "unknown name 'foo' (at column 1); available here: inputs, tasks",
        "unknown name 'bar' (at line 2, column 4); available here: inputs, tasks",
    ]


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("item", "item.score > 0.5", "only as ${item} in the input of a for_each task"),
        ("index", "index == 0", "only as ${index} in the input of a for_each task"),
        ("iteration", "iteration > 2", "only in loop.until"),
        ("previous", "previous == null", "only in loop.until"),
        ("output", "output.approved", "only in loop.until"),
        ("execution", "execution.status == 'FAILED'", "only in the conditions of finally tasks"),
    ],
)
def test_a_name_of_another_place_says_where_it_is_available(
    name: str, text: str, where: str
) -> None:
    [message] = messages(text)
    assert message.startswith(f"'{name}' is available {where}")


def test_loop_is_a_reserved_word_of_cel() -> None:
    assert messages("loop.iteration > 2", UNTIL_NAMES) == [
        "'loop' is a reserved word in CEL: loop.until reads `iteration` and `previous` "
        "(at column 1)"
    ]


def test_names_of_each_place() -> None:
    assert messages("execution.status == 'FAILED'", WHEN_NAMES | FINALLY_NAMES) == []
    assert messages("output.approved == true || iteration >= 3", UNTIL_NAMES) == []
    assert messages("output == previous", UNTIL_NAMES) == []
    assert messages("tasks.review.status == 'SUCCEEDED'", UNTIL_NAMES) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("tasks.review.output.size()", "int"),
        ("'approved'", "string"),
        ("[true]", "list"),
        ("null", "null"),
    ],
)
def test_a_result_that_cannot_be_a_boolean_is_refused(text: str, found: str) -> None:
    assert messages(text) == [f"condition yields {found}, not a boolean"]


def test_type_errors_found_by_the_checker() -> None:
    [message] = messages("1 + 'a' > 2")
    assert (
        message == "found no matching overload for '_+_' applied to '(int, string)' (at column 3)"
    )
    [message] = messages("iteration + 1.5 > 2", UNTIL_NAMES)  # iteration is an int
    assert "'(int, double)'" in message


def test_unknown_task_ids_when_the_ids_are_given() -> None:
    text = "tasks.review.status == 'SUCCEEDED' && tasks['cool-down'].status == 'SKIPPED'"
    assert messages(text, task_ids=["review", "cool-down"]) == []
    assert messages(text, task_ids=["review"]) == ["references unknown task 'cool-down'"]
    assert messages(text) == []  # ids not given: not checked


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_condition(text: str) -> None:
    assert messages(text) == ["condition is empty"]


def test_a_huge_condition_is_refused_before_parsing() -> None:
    text = " || ".join(["true"] * (MAX_CONDITION_LENGTH // 8 + 1))
    assert messages(text) == [f"condition is longer than {MAX_CONDITION_LENGTH:,} characters"]


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    [message] = messages("(" * 500 + "true" + ")" * 500)
    assert "recursion limit" in message


def test_problems_are_validation_problems() -> None:
    [problem] = condition_problems("x", "finally[0].loop.until", UNTIL_NAMES)
    assert isinstance(problem, ValidationProblem)
    assert problem.path == "finally[0].loop.until"


# --- the tasks a condition reads -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("tasks.review.output.exists(r, r.score < 0.8)", ["review"]),
        ('tasks["cool-down"].status == "SKIPPED" || tasks.a.output', ["cool-down", "a"]),
        ("tasks . spaced . output && tasks.a.output && tasks.a.status", ["spaced", "a"]),
        ("'tasks.not_me' == inputs.x // tasks.nor_me", []),
        ("inputs.tasks.x", []),  # a field named tasks is not the root
        ("tasks[inputs.name].status", []),  # computed at run time: cannot be seen
        ("r'''tasks.raw''' == \"\"\"tasks.triple\"\"\"", []),
    ],
)
def test_condition_task_ids(text: str, ids: list[str]) -> None:
    assert condition_task_ids(text) == ids


# --- run time ------------------------------------------------------------------------


def test_evaluates_macros_over_json_values() -> None:
    assert evaluate_condition("tasks.review.output.exists(r, r.score < 0.8)", REVIEW) is True
    assert evaluate_condition("tasks.review.output.all(r, r.score < 0.8)", REVIEW) is False
    assert evaluate_condition("has(tasks.review.output) && !has(inputs.missing)", REVIEW)
    assert evaluate_condition("tasks.lint.output == null", REVIEW)


def test_ints_and_doubles_compare_as_numbers() -> None:
    # JSON numbers may arrive as either: 3.0 == 3 and 2 < 2.5 hold at run time.
    assert evaluate_condition("output.count == 3 && output.count < 3.5", {"output": {"count": 3.0}})


def test_execution_output_iteration_and_previous() -> None:
    finally_phase = {**REVIEW, "execution": {"status": "FAILED"}}
    assert evaluate_condition("execution.status == 'FAILED'", finally_phase)
    loop = {**REVIEW, "output": {"approved": False}, "iteration": 3, "previous": None}
    assert evaluate_condition("output.approved || iteration >= 3", loop)
    assert not evaluate_condition("output == previous", loop)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("inputs.threshold", "double"),
        ("tasks.review.output", "list"),
        ("tasks.lint.output", "null"),
    ],
)
def test_a_result_that_is_not_a_boolean_fails(text: str, kind: str) -> None:
    with pytest.raises(ConditionError, match=f"^condition yielded {kind}, not a boolean$"):
        evaluate_condition(text, REVIEW)


def test_a_missing_key_fails_with_the_cel_error() -> None:
    with pytest.raises(ConditionError, match='Key not found in map : "deploy"'):
        evaluate_condition("tasks.deploy.status == 'SUCCEEDED'", REVIEW)


def test_a_type_error_fails_with_the_cel_error() -> None:
    activation = {**REVIEW, "output": {"score": "high"}}
    with pytest.raises(ConditionError, match="No matching overloads"):
        evaluate_condition("output.score < 0.8", activation)


def test_a_value_outside_cel_fails_with_a_bounded_message() -> None:
    huge = {"tasks": {"a": {"output": [2**70, *range(5000)], "status": "SUCCEEDED"}}}
    with pytest.raises(ConditionError, match="out of range") as info:
        evaluate_condition("tasks.a.output[0] == 1", huge)
    assert len(str(info.value)) < conditions.MAX_MESSAGE_LENGTH + 40
    assert str(info.value).endswith(" characters)")


def test_a_division_by_zero_fails() -> None:
    with pytest.raises(ConditionError, match="divide by zero"):
        evaluate_condition("1 / (iteration - iteration) == 1", {"iteration": 2})


def test_a_name_missing_from_the_activation_fails() -> None:
    # e.g. `execution` outside the finally phase
    with pytest.raises(ConditionError, match=r"undeclared reference to 'execution\.status'"):
        evaluate_condition("execution.status == 'FAILED'", REVIEW)


def test_a_malformed_condition_fails_when_evaluated() -> None:
    with pytest.raises(ConditionError, match="Syntax error"):
        evaluate_condition("tasks.review ==", REVIEW)


def test_the_iteration_budget_is_a_condition_error() -> None:
    # The CEL runtime bounds an evaluation: no comprehension over 10,000 elements or more.
    many = {"tasks": {"big": {"output": list(range(9_999)), "status": "SUCCEEDED"}}}
    assert evaluate_condition("tasks.big.output.exists(v, v == 9998)", many) is True
    many["tasks"]["big"]["output"].append(9_999)
    with pytest.raises(ConditionError, match=r"^Iteration budget exceeded$"):
        evaluate_condition("tasks.big.output.exists(v, v == 9998)", many)


def test_compiled_programs_are_cached_and_bounded() -> None:
    conditions._compile.cache_clear()
    for iteration in range(50):
        evaluate_condition("iteration > 10", {"iteration": iteration})
    info = conditions._compile.cache_info()
    assert (info.misses, info.hits) == (1, 49)
    assert info.maxsize == conditions.COMPILED_CACHE_SIZE
