"""The control fields of a task (`when`, `trigger`, `for_each` with `max_concurrency` and
`allow_failures`, `loop`, `compensate`) and where the scoped references (`${item}`, `${index}`,
`${loop...}`, `${execution.status}`) may stand: what parses, and every refusal with its path."""

from __future__ import annotations

import pytest
import yaml

from controlplane.workflow.definition import validate_workflow
from models.workflows import (
    DEFAULT_LOOP_ITERATIONS,
    Compensation,
    ForEachSpec,
    LoopSpec,
    Severity,
    TriggerRule,
)

PLAN = {"id": "plan", "agent": "planner"}


def _doc(*tasks, finals=None, **top):
    doc = {"name": "wf", "inputs": {"files": "array", "repo": "string"}, **top}
    doc["tasks"] = [PLAN, *tasks]
    if finals is not None:
        doc["finally"] = finals
    return yaml.safe_dump(doc, sort_keys=False)


def _parse(*tasks, **top):
    defn, problems = validate_workflow(_doc(*tasks, **top))
    assert problems == []
    assert defn is not None
    return defn


def _errors(*tasks, **top) -> dict[str, str]:
    defn, problems = validate_workflow(_doc(*tasks, **top))
    errors = {p.path: p.message for p in problems if p.severity is Severity.ERROR}
    assert defn is None and errors
    return errors


# --- when ------------------------------------------------------------------------------


def test_when_is_kept_and_its_tasks_become_dependencies():
    defn = _parse(
        {"id": "lint", "agent": "x"},
        {
            "id": "fix",
            "agent": "coder",
            "when": "tasks.plan.output.files.size() > 0 && tasks['lint'].status == 'FAILED'",
            "trigger": "all_done",
        },
    )
    fix = defn.task("fix")
    assert fix.when.startswith("tasks.plan.output")
    assert fix.depends_on == ("plan", "lint")


def test_when_dependencies_follow_explicit_and_input_ones():
    defn = _parse(
        {"id": "b", "agent": "x"},
        {"id": "c", "agent": "x"},
        {
            "id": "d",
            "agent": "x",
            "depends_on": ["c"],
            "input": "${tasks.b.output}",
            "when": "tasks.plan.status == 'SUCCEEDED' && tasks.b.status == 'SUCCEEDED'",
        },
    )
    assert defn.task("d").depends_on == ("c", "b", "plan")


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("tasks.plan.output ==", "Syntax error"),
        ("plan.output.ok", "unknown name 'plan' (at column 12); available here: inputs, tasks"),
        ("item.ok", "'item' is available only as ${item} in the input of a for_each task"),
        ("execution.status == 'FAILED'", "'execution' is available only in the conditions"),
        ("tasks.plan.output.size()", "condition yields int, not a boolean"),
        ("", "condition is empty"),
    ],
)
def test_bad_conditions_are_refused_at_their_path(when, message):
    errors = _errors({"id": "fix", "agent": "x", "when": when})
    assert list(errors) == ["tasks[1].when"]
    assert message in errors["tasks[1].when"]


@pytest.mark.parametrize("when", [True, 1, ["x"]])
def test_when_must_be_text(when):
    errors = _errors({"id": "fix", "agent": "x", "when": when})
    assert errors["tasks[1].when"].startswith("expected a CEL expression (string), got")


def test_when_naming_an_unknown_task():
    errors = _errors({"id": "fix", "agent": "x", "when": "tasks.nope.status == 'FAILED'"})
    assert errors == {"tasks[1].when": "references unknown task 'nope'"}


def test_when_naming_its_own_task():
    errors = _errors({"id": "fix", "agent": "x", "when": "tasks.fix.status == 'FAILED'"})
    assert errors == {"tasks[1].when": "task 'fix' references its own output"}


def test_when_naming_a_finally_task():
    errors = _errors(
        {"id": "fix", "agent": "x", "when": "tasks.last.status == 'FAILED'"},
        finals=[{"id": "last", "agent": "y"}],
    )
    assert errors == {
        "tasks[1].when": "references finally task 'last'; finally tasks run after every other task"
    }


def test_a_finally_condition_reads_the_execution_status():
    defn = _parse(
        finals=[{"id": "alert", "agent": "pager", "when": "execution.status != 'SUCCEEDED'"}]
    )
    assert defn.finally_tasks[0].when == "execution.status != 'SUCCEEDED'"


def test_a_when_cycle_is_a_dependency_cycle():
    errors = _errors(
        {"id": "a", "agent": "x", "when": "tasks.b.status == 'SUCCEEDED'"},
        {"id": "b", "agent": "x", "depends_on": ["a"]},
    )
    assert errors == {"tasks[2].depends_on[0]": "dependency cycle: a -> b -> a"}


# --- trigger ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(TriggerRule))
def test_trigger_rules(rule):
    defn = _parse({"id": "t", "agent": "x", "depends_on": ["plan"], "trigger": rule.value})
    assert defn.task("t").trigger is rule


@pytest.mark.parametrize("rule", ["ALL_DONE", "all-done", "always", 1])
def test_unknown_trigger(rule):
    errors = _errors({"id": "t", "agent": "x", "trigger": rule})
    assert errors == {
        "tasks[1].trigger": f"unknown trigger {rule!r}; expected one of "
        "all_succeeded, none_failed, all_done, any_failed"
    }


def test_any_failed_needs_a_dependency():
    errors = _errors({"id": "t", "agent": "x", "trigger": "any_failed"})
    assert errors == {
        "tasks[1].trigger": "trigger 'any_failed' needs a dependency: with none it would never run"
    }


def test_any_failed_of_a_finally_task_counts_finally_dependencies_only():
    last = {"id": "last", "agent": "y", "trigger": "any_failed", "input": "${tasks.plan.output}"}
    errors = _errors(finals=[last])
    assert errors == {
        "finally[0].trigger": "trigger 'any_failed' needs a dependency among the finally "
        "tasks: with none it would never run"
    }
    first = {"id": "first", "agent": "y"}
    defn = _parse(finals=[first, {**last, "depends_on": ["first"]}])
    assert defn.task("last").depends_on == ("first", "plan")


# --- for_each --------------------------------------------------------------------------


def test_for_each_over_a_task_output():
    defn = _parse(
        {
            "id": "review",
            "agent": "reviewer",
            "for_each": "${tasks.plan.output.files}",
            "max_concurrency": 8,
            "allow_failures": 2,
            "input": {"file": "${item}", "position": "${index}", "name": "${item.name}"},
        }
    )
    review = defn.task("review")
    assert review.for_each == ForEachSpec("${tasks.plan.output.files}", 8, 2, None)
    assert review.depends_on == ("plan",)


def test_for_each_over_an_input_with_a_share_of_failures():
    defn = _parse(
        {"id": "r", "agent": "x", "for_each": "${inputs.files}", "allow_failures": "12.5%"}
    )
    assert defn.task("r").for_each == ForEachSpec("${inputs.files}", 0, 0, 12.5)
    assert defn.task("r").depends_on == ()


@pytest.mark.parametrize(
    ("for_each", "message"),
    [
        (["a", "b"], "for_each must be one ${...} reference to a list"),
        ("files", "for_each must be one ${...} reference to a list"),
        ("${inputs.files}${inputs.files}", "for_each must be one ${...} reference to a list"),
        ("all of ${inputs.files}", "for_each must be one ${...} reference to a list"),
        ("${item}", "for_each reads ${inputs...} or ${tasks...}, not ${item}"),
        ("${inputs.repo}", "input 'repo' is string, not an array"),
        ("${inputs.nope}", "${inputs.nope} references unknown workflow input 'nope'"),
        ("${tasks.plan}", "malformed reference"),
        ("${tasks.plan.output", "unclosed reference"),
        ("${tasks.nope.output}", "references unknown task 'nope'"),
    ],
)
def test_bad_for_each(for_each, message):
    errors = _errors({"id": "r", "agent": "x", "for_each": for_each})
    assert list(errors) == ["tasks[1].for_each"]
    assert message in errors["tasks[1].for_each"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_concurrency", 0, "must be >= 1, got 0"),
        ("max_concurrency", "8", "expected integer, got string"),
        ("max_concurrency", 2.5, "expected integer, got number"),
        ("allow_failures", -1, "must be >= 0, got -1"),
        ("allow_failures", "150%", "expected a count or a percentage from 0% to 100%, got '150%'"),
        ("allow_failures", "ten", "expected a count or a percentage from 0% to 100%, got 'ten'"),
        ("allow_failures", "-5%", "expected a count or a percentage from 0% to 100%, got '-5%'"),
        ("allow_failures", True, "expected integer, got boolean"),
    ],
)
def test_bad_for_each_limits(field, value, message):
    errors = _errors({"id": "r", "agent": "x", "for_each": "${inputs.files}", field: value})
    assert errors == {f"tasks[1].{field}": message}


@pytest.mark.parametrize(("field", "value"), [("max_concurrency", 4), ("allow_failures", "5%")])
def test_for_each_limits_need_for_each(field, value):
    errors = _errors({"id": "r", "agent": "x", field: value})
    assert errors == {f"tasks[1].{field}": f"'{field}' applies only with for_each"}


# --- loop ------------------------------------------------------------------------------


def test_loop_with_its_state_in_the_input():
    defn = _parse(
        {
            "id": "fix",
            "workflow": "revise",
            "loop": {"until": "output.approved == true || iteration >= 3 || output == previous"},
            "input": {"n": "${loop.iteration}", "before": "${loop.previous}"},
        }
    )
    fix = defn.task("fix")
    assert fix.loop == LoopSpec(
        "output.approved == true || iteration >= 3 || output == previous",
        DEFAULT_LOOP_ITERATIONS,
    )


def test_loop_until_tasks_are_dependencies():
    defn = _parse(
        {
            "id": "fix",
            "agent": "x",
            "loop": {"until": "output.score >= tasks.plan.output.target", "max_iterations": 1000},
        }
    )
    assert defn.task("fix").loop == LoopSpec("output.score >= tasks.plan.output.target", 1000)
    assert defn.task("fix").depends_on == ("plan",)


@pytest.mark.parametrize(
    ("loop", "path", "message"),
    [
        ("until approved", "tasks[1].loop", "expected {until, max_iterations}, got string"),
        ({"max_iterations": 3}, "tasks[1].loop.until", "missing required field 'until'"),
        ({"until": "output.ok", "max": 3}, "tasks[1].loop.max", "unknown field 'max'"),
        (
            {"until": "output.ok", "max_iterations": 0},
            "tasks[1].loop.max_iterations",
            "must be >= 1, got 0",
        ),
        (
            {"until": "output.ok", "max_iterations": 1001},
            "tasks[1].loop.max_iterations",
            "must be at most 1,000, got 1001",
        ),
        ({"until": "output.ok +"}, "tasks[1].loop.until", "Syntax error"),
        (
            {"until": "loop.iteration > 3"},
            "tasks[1].loop.until",
            "'loop' is a reserved word in CEL",
        ),
        ({"until": "item.ok"}, "tasks[1].loop.until", "'item' is available only as ${item}"),
        ({"until": 3}, "tasks[1].loop.until", "expected a CEL expression (string), got integer"),
    ],
)
def test_bad_loops(loop, path, message):
    errors = _errors({"id": "fix", "agent": "x", "loop": loop})
    assert list(errors) == [path]
    assert message in errors[path]


def test_a_task_cannot_both_loop_and_fan_out():
    errors = _errors(
        {"id": "r", "agent": "x", "for_each": "${inputs.files}", "loop": {"until": "true"}}
    )
    assert list(errors) == ["tasks[1].loop"]
    assert errors["tasks[1].loop"].startswith("a task cannot both loop and run for_each")


# --- compensate ------------------------------------------------------------------------


def test_compensation_reads_its_own_and_other_outputs_without_depending_on_them():
    defn = _parse(
        {"id": "book", "agent": "x"},
        {
            "id": "deploy",
            "agent": "deployer",
            "compensate": {
                "agent": "rollback",
                "input": {"id": "${tasks.deploy.output.id}", "plan": "${tasks.book.output}"},
            },
        },
    )
    deploy = defn.task("deploy")
    assert deploy.compensate == Compensation(
        "rollback", {"id": "${tasks.deploy.output.id}", "plan": "${tasks.book.output}"}
    )
    assert deploy.depends_on == ()


@pytest.mark.parametrize(
    ("compensate", "path", "message"),
    [
        ("rollback", "tasks[1].compensate", "expected {agent, input}, got string"),
        ({"input": {}}, "tasks[1].compensate.agent", "missing required field 'agent'"),
        ({"agent": ""}, "tasks[1].compensate.agent", "agent must not be empty"),
        ({"agent": "u", "retry": {}}, "tasks[1].compensate.retry", "unknown field 'retry'"),
        (
            {"agent": "u", "input": "${tasks.nope.output}"},
            "tasks[1].compensate.input",
            "references unknown task 'nope'",
        ),
        (
            {"agent": "u", "input": {"s": "${execution.status}"}},
            "tasks[1].compensate.input.s",
            "${execution.status} is available only in the input of a finally task",
        ),
        (
            {"agent": "u", "input": "${tasks.last.output}"},
            "tasks[1].compensate.input",
            "references finally task 'last', which runs later",
        ),
    ],
)
def test_bad_compensations(compensate, path, message):
    errors = _errors(
        {"id": "deploy", "agent": "x", "compensate": compensate},
        finals=[{"id": "last", "agent": "y"}],
    )
    assert errors == {path: message}


def test_finally_tasks_have_no_compensation():
    errors = _errors(finals=[{"id": "f", "agent": "y", "compensate": {"agent": "u"}}])
    assert errors == {"finally[0].compensate": "finally tasks have no compensation: they run last"}


# --- where scoped references may stand ---------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "where"),
    [
        ("${item}", "in the input of a for_each task"),
        ("${item.name}", "in the input of a for_each task"),
        ("${index}", "in the input of a for_each task"),
        ("${loop.iteration}", "in the input of a loop task"),
        ("${loop.previous.notes}", "in the input of a loop task"),
        ("${execution.status}", "in the input of a finally task"),
    ],
)
def test_scoped_references_outside_their_place(reference, where):
    errors = _errors({"id": "t", "agent": "x", "input": {"v": ["a", reference]}})
    assert errors == {"tasks[1].input.v[1]": f"{reference} is available only {where}"}


def test_scoped_references_in_outputs():
    errors = _errors(outputs={"i": "${index}"})
    assert errors == {"outputs.i": "${index} is not available in outputs"}


def test_each_scope_in_its_place_together():
    defn = _parse(
        {"id": "each", "agent": "x", "for_each": "${inputs.files}", "input": "${item}#${index}"},
        {"id": "again", "agent": "x", "loop": {"until": "true"}, "input": "${loop.iteration}"},
        finals=[
            {
                "id": "f",
                "agent": "y",
                "for_each": "${tasks.each.output}",
                "loop": None,
                "input": {"s": "${execution.status}", "i": "${item}"},
            }
        ],
    )
    assert defn.finally_tasks[0].depends_on == ("each",)


def test_malformed_scoped_references_are_refused_at_their_path():
    errors = _errors(
        {"id": "each", "agent": "x", "for_each": "${inputs.files}", "input": "${index.x}"}
    )
    assert errors == {"tasks[1].input": "malformed reference '${index.x}': expected ${index}"}
