"""Task kinds (agent, child workflow, signal, sleep), finally tasks and failure_mode: what
parses, and every refusal with the path of its field. Definitions written before these
constructs parse exactly as they did."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from controlplane.workflow.definition import (
    finally_order,
    parse_workflow,
    topological_order,
    validate_workflow,
)
from models.workflows import (
    FailureMode,
    RetryPolicy,
    Severity,
    TaskDefinition,
    TaskKind,
    TriggerRule,
)

ROOT = Path(__file__).resolve().parents[2]

# The full example of the README's workflow language section.
README = (ROOT / "README.md").read_text()
EXAMPLE = README[README.index("name: review-pipeline") :].split("```", 1)[0]


def _text(doc) -> str:
    return doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)


def _doc(*tasks, finals=None, **top):
    doc = {"name": "wf", "tasks": list(tasks) or [{"id": "a", "agent": "x"}], **top}
    if finals is not None:
        doc["finally"] = finals
    return doc


def _errors(doc, **kwargs) -> dict[str, str]:
    defn, problems = validate_workflow(_text(doc), **kwargs)
    errors = {p.path: p.message for p in problems if p.severity is Severity.ERROR}
    assert defn is None and errors
    return errors


def _parse(doc):
    defn, problems = validate_workflow(_text(doc))
    assert problems == []
    assert defn is not None
    return defn


# --- definitions of before parse unchanged ---------------------------------------------


def test_an_agent_task_keeps_every_default_of_the_new_fields():
    task = _parse(_doc({"id": "a", "agent": "x", "input": {"v": 1}})).tasks[0]
    assert task == TaskDefinition(id="a", agent="x", input={"v": 1})
    assert (task.kind, task.trigger, task.when) == (TaskKind.AGENT, TriggerRule.ALL_SUCCEEDED, "")
    assert (task.for_each, task.loop, task.compensate, task.workflow) == (None, None, None, "")


def test_the_shipped_sample_parses_as_before():
    defn = parse_workflow((ROOT / "samples/workflows/build-app.yaml").read_text())
    assert defn.failure_mode is FailureMode.CONTINUE
    assert defn.finally_tasks == ()
    assert topological_order(defn) == ["frontend", "backend", "test"]
    assert defn.task("test").depends_on == ("frontend", "backend")
    assert defn.task("frontend").retry == RetryPolicy(3, 1.0, 2.0, 60.0)
    assert all(task.kind is TaskKind.AGENT for task in defn.tasks)


# --- the example of the documentation ---------------------------------------------------


def test_the_full_example_parses():
    defn, problems = validate_workflow(
        EXAMPLE, {"planner", "reviewer", "coder", "notifier"}, known_workflows={"release-train"}
    )
    assert problems == []
    assert defn is not None
    assert defn.failure_mode is FailureMode.CONTINUE
    assert [t.id for t in defn.tasks] == [
        "plan",
        "review",
        "fix",
        "approve",
        "release",
        "cool-down",
    ]
    assert [t.kind for t in defn.tasks] == [
        TaskKind.AGENT,
        TaskKind.AGENT,
        TaskKind.AGENT,
        TaskKind.SIGNAL,
        TaskKind.WORKFLOW,
        TaskKind.SLEEP,
    ]
    assert [t.depends_on for t in defn.tasks] == [
        (),
        ("plan",),
        ("review",),
        ("fix",),
        ("approve",),
        ("release",),
    ]
    approve, release, cool_down = defn.tasks[3:]
    assert (approve.wait_for_signal, approve.timeout_s) == ("approve", 86400.0)
    assert approve.trigger is TriggerRule.NONE_FAILED
    assert (release.workflow, release.workflow_revision, release.agent) == ("release-train", 0, "")
    assert cool_down.sleep_s == 600.0
    [notify] = defn.finally_tasks
    assert (notify.id, notify.agent, notify.depends_on) == ("notify", "notifier", ())
    assert notify.input == {"status": "${execution.status}"}


# --- kinds -----------------------------------------------------------------------------


def test_each_kind_of_task():
    defn = _parse(
        _doc(
            {"id": "a", "agent": "x", "priority": 3},
            {"id": "w", "workflow": "child", "revision": 4, "input": {"v": 1}},
            {"id": "s", "wait_for_signal": "approve", "timeout": "1h"},
            {"id": "z", "sleep": "1m30s", "depends_on": ["s"]},
        )
    )
    a, w, s, z = defn.tasks
    assert (a.kind, a.agent, a.priority) == (TaskKind.AGENT, "x", 3)
    assert (w.kind, w.workflow, w.workflow_revision, w.input) == (
        TaskKind.WORKFLOW,
        "child",
        4,
        {"v": 1},
    )
    assert (s.kind, s.wait_for_signal, s.timeout_s) == (TaskKind.SIGNAL, "approve", 3600.0)
    assert (z.kind, z.sleep_s, z.depends_on) == (TaskKind.SLEEP, 90.0, ("s",))


def test_a_task_has_exactly_one_kind():
    errors = _errors(_doc({"id": "a", "agent": "x", "workflow": "w", "sleep": "1s"}))
    one_of = "a task has exactly one of 'agent', 'workflow', 'wait_for_signal' or 'sleep'"
    assert errors == {
        "tasks[0].workflow": f"{one_of}; this one also has 'agent'",
        "tasks[0].sleep": f"{one_of}; this one also has 'agent'",
    }


def test_a_task_without_a_kind_misses_its_agent():
    assert _errors(_doc({"id": "a"})) == {"tasks[0].agent": "missing required field 'agent'"}


@pytest.mark.parametrize(
    ("task", "path", "message"),
    [
        (
            {"sleep": "1m", "input": {"x": 1}},
            "tasks[0].input",
            "'input' applies only to agent and workflow tasks; this is a sleep task",
        ),
        (
            {"wait_for_signal": "go", "retry": {"max_attempts": 2}},
            "tasks[0].retry",
            "'retry' applies only to agent and workflow tasks; this is a wait_for_signal task",
        ),
        (
            {"workflow": "child", "resources": {"cpu": 1}},
            "tasks[0].resources",
            "'resources' applies only to agent tasks; this is a workflow task",
        ),
        (
            {"workflow": "child", "heartbeat_timeout": "5s"},
            "tasks[0].heartbeat_timeout",
            "'heartbeat_timeout' applies only to agent tasks; this is a workflow task",
        ),
        (
            {"agent": "x", "revision": 2},
            "tasks[0].revision",
            "'revision' applies only to workflow tasks; this is an agent task",
        ),
        (
            {"sleep": "1m", "loop": {"until": "true"}},
            "tasks[0].loop",
            "'loop' applies only to agent and workflow tasks; this is a sleep task",
        ),
        (
            {"wait_for_signal": "go", "for_each": "${inputs.xs}"},
            "tasks[0].for_each",
            "'for_each' applies only to agent and workflow tasks; this is a wait_for_signal task",
        ),
        ({"wait_for_signal": "has space"}, "tasks[0].wait_for_signal", "invalid name"),
        ({"wait_for_signal": 3}, "tasks[0].wait_for_signal", "expected string, got integer"),
        ({"sleep": "soon"}, "tasks[0].sleep", "invalid duration"),
        ({"sleep": "0s"}, "tasks[0].sleep", "must be greater than zero"),
        ({"workflow": "Child"}, "tasks[0].workflow", "invalid name 'Child'"),
        ({"workflow": "child", "revision": 0}, "tasks[0].revision", "must be >= 1, got 0"),
        ({"workflow": "child", "revision": "2"}, "tasks[0].revision", "expected integer"),
    ],
)
def test_refusals_of_kind_fields(task, path, message):
    errors = _errors(_doc({"id": "a", **task}, inputs={"xs": "array"}))
    assert message in errors[path]


def test_an_unknown_child_workflow_is_an_error_when_the_catalog_is_given():
    doc = _doc({"id": "a", "workflow": "release-train"})
    errors = _errors(doc, known_workflows={"build"})
    assert errors == {"tasks[0].workflow": "unknown workflow 'release-train'"}
    assert validate_workflow(_text(doc), known_workflows={"release-train"})[1] == []
    assert validate_workflow(_text(doc))[1] == []  # no catalog: not checked


def test_the_severity_of_an_unknown_workflow_can_be_a_warning():
    doc = _text(_doc({"id": "a", "workflow": "later"}))
    defn, problems = validate_workflow(
        doc, known_workflows=set(), unknown_workflow_severity=Severity.WARNING
    )
    assert defn is not None
    assert [(p.path, p.severity) for p in problems] == [("tasks[0].workflow", Severity.WARNING)]


def test_a_workflow_cannot_run_itself():
    errors = _errors(_doc({"id": "a", "workflow": "wf"}))
    assert errors == {"tasks[0].workflow": "workflow 'wf' cannot run itself as a child (recursion)"}


def test_an_unknown_compensation_agent_is_reported_like_an_unknown_agent():
    doc = _text(_doc({"id": "a", "agent": "x", "compensate": {"agent": "undo"}}))
    _, problems = validate_workflow(doc, {"x"})
    assert [(p.path, p.message, p.severity) for p in problems] == [
        ("tasks[0].compensate.agent", "unknown agent 'undo'", Severity.WARNING)
    ]


# --- failure_mode --------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(FailureMode))
def test_failure_modes(mode):
    assert _parse(_doc(failure_mode=mode.value)).failure_mode is mode


@pytest.mark.parametrize("mode", ["fail-fast", "FAIL_FAST", 1, True])
def test_bad_failure_mode(mode):
    errors = _errors(_doc(failure_mode=mode))
    assert errors["failure_mode"].startswith("unknown failure mode")
    assert "expected one of continue, fail_fast" in errors["failure_mode"]


# --- finally ---------------------------------------------------------------------------


def test_finally_tasks_read_regular_outputs_and_the_execution_status():
    defn = _parse(
        _doc(
            {"id": "build", "agent": "x"},
            finals=[
                {"id": "report", "agent": "r", "input": {"b": "${tasks.build.output}"}},
                {
                    "id": "notify",
                    "agent": "n",
                    "input": {"status": "${execution.status}", "r": "${tasks.report.output}"},
                    "trigger": "all_done",
                },
            ],
        )
    )
    report, notify = defn.finally_tasks
    assert report.depends_on == ("build",)
    assert notify.depends_on == ("report",)
    assert notify.trigger is TriggerRule.ALL_DONE
    assert defn.task("notify") is notify
    assert topological_order(defn) == ["build"]
    assert finally_order(defn) == ["report", "notify"]


def test_task_ids_are_unique_across_tasks_and_finally():
    errors = _errors(_doc({"id": "a", "agent": "x"}, finals=[{"id": "a", "agent": "y"}]))
    assert errors == {"finally[0].id": "duplicate task id 'a' (first defined at tasks[0])"}


def test_regular_tasks_cannot_depend_on_finally_tasks():
    errors = _errors(
        _doc(
            {"id": "a", "agent": "x", "depends_on": ["last"]},
            {"id": "b", "agent": "x", "input": "${tasks.last.output}"},
            finals=[{"id": "last", "agent": "y"}],
        )
    )
    runs_after = "finally tasks run after every other task"
    assert errors == {
        "tasks[0].depends_on[0]": f"depends on finally task 'last'; {runs_after}",
        "tasks[1].input": f"references finally task 'last'; {runs_after}",
    }


def test_outputs_cannot_read_finally_tasks():
    errors = _errors(
        _doc(finals=[{"id": "last", "agent": "y"}], outputs={"x": "${tasks.last.output}"})
    )
    assert errors == {"outputs.x": "${tasks.last.output} references finally task 'last'"}


def test_finally_tasks_cannot_form_a_cycle():
    errors = _errors(
        _doc(
            finals=[
                {"id": "f", "agent": "y", "depends_on": ["g"]},
                {"id": "g", "agent": "y", "depends_on": ["f"]},
            ]
        )
    )
    assert errors == {"finally[1].depends_on[0]": "dependency cycle: f -> g -> f"}


@pytest.mark.parametrize("value", ["notify", {"id": "a"}, 3])
def test_finally_must_be_a_list(value):
    assert _errors(_doc(finals=value))["finally"].startswith("expected a list of tasks")


def test_an_empty_finally_is_allowed():
    assert _parse(_doc(finals=[])).finally_tasks == ()


def test_finally_task_fields_have_their_own_paths():
    errors = _errors(_doc(finals=[{"id": "f", "agent": "y", "timeout": "soon", "bogus": 1}]))
    assert set(errors) == {"finally[0].timeout", "finally[0].bogus"}


def test_finally_inputs_are_held_to_the_value_depth():
    deep: object = "x"
    for _ in range(22):  # deeper than a value may be, within what the loader reads
        deep = [deep]
    errors = _errors(_doc(finals=[{"id": "f", "agent": "y", "input": deep}]))
    assert [path for path in errors if path.startswith("finally[0].input")]
