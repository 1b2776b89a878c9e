import hashlib
import json
import textwrap

import pytest
import yaml

from controlplane.workflow.definition import (
    DefinitionError,
    definition_digest,
    parse_workflow,
    topological_order,
    validate_workflow,
)
from models.workflows import RetryPolicy, Severity

SAMPLE = textwrap.dedent(
    """\
    name: build-app
    description: optional text
    timeout: 10m
    inputs: {project: {type: string}, count: {type: integer, default: 3}}
    tasks:
      - id: frontend
        agent: codegen
        input: {spec: "${inputs.project}", kind: "ui"}
        timeout: 30s
        retry: {max_attempts: 5, initial_interval: 1s, backoff_coefficient: 2.0,
                max_interval: 60s, non_retryable_errors: [ValueError]}
      - id: backend
        agent: codegen
        input: {spec: "${inputs.project}", kind: "api"}
      - id: test
        agent: tester
        depends_on: [frontend]
        input: {ui: "${tasks.frontend.output}", api: "${tasks.backend.output.artifact}",
                first: "${tasks.backend.output.files[0]}"}
    outputs: {report: "${tasks.test.output}"}
    """
)


def _doc(**overrides):
    """A minimal valid definition as a dict, with top-level overrides."""
    doc = {"name": "wf", "tasks": [{"id": "a", "agent": "x"}]}
    doc.update(overrides)
    return doc


def _problems(doc, **kwargs):
    text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
    defn, problems = validate_workflow(text, **kwargs)
    return defn, {p.path: p for p in problems}


def _errors(doc, **kwargs):
    defn, problems = _problems(doc, **kwargs)
    assert defn is None
    return {path: p.message for path, p in problems.items() if p.severity is Severity.ERROR}


# --- the happy path ------------------------------------------------------------------


def test_sample_parses_fully():
    defn = parse_workflow(SAMPLE)
    assert defn.name == "build-app"
    assert defn.description == "optional text"
    assert defn.timeout_s == 600.0
    assert defn.inputs["project"].required is True
    assert defn.inputs["project"].type == "string"
    assert defn.inputs["count"].required is False
    assert defn.inputs["count"].default == 3
    assert [t.id for t in defn.tasks] == ["frontend", "backend", "test"]
    frontend = defn.task("frontend")
    assert frontend.timeout_s == 30.0
    assert frontend.retry == RetryPolicy(5, 1.0, 2.0, 60.0, ("ValueError",))
    assert frontend.input == {"spec": "${inputs.project}", "kind": "ui"}
    assert defn.task("backend").retry == RetryPolicy()
    assert defn.task("backend").timeout_s is None
    assert defn.outputs == {"report": "${tasks.test.output}"}


def test_dependencies_merge_explicit_and_referenced_in_order_without_duplicates():
    defn = parse_workflow(SAMPLE)
    assert defn.task("test").depends_on == ("frontend", "backend")
    assert defn.task("frontend").depends_on == ()


def test_explicit_dependencies_come_first():
    doc = _doc(
        tasks=[
            {"id": "a", "agent": "x"},
            {"id": "b", "agent": "x"},
            {
                "id": "c",
                "agent": "x",
                "depends_on": ["b"],
                "input": ["${tasks.a.output}", "${tasks.b.output}", "${tasks.a.output.x}"],
            },
        ]
    )
    defn, problems = _problems(doc)
    assert problems == {}
    assert defn.task("c").depends_on == ("b", "a")


def test_json_text_is_accepted():
    defn = parse_workflow(json.dumps(yaml.safe_load(SAMPLE)))
    assert defn == parse_workflow(SAMPLE)


def test_json_with_tab_indentation_is_accepted():
    text = '{\n\t"name": "wf",\n\t"tasks": [{"id": "a", "agent": "x"}]\n}'
    assert parse_workflow(text).name == "wf"


def test_yaml_flow_mapping_is_accepted():
    assert parse_workflow("{name: wf, tasks: [{id: a, agent: x}]}").tasks[0].id == "a"


def test_digest_is_sha256_of_exact_text():
    assert definition_digest("abc") == hashlib.sha256(b"abc").hexdigest()
    assert definition_digest(SAMPLE) != definition_digest(SAMPLE + "\n")


def test_topological_order_respects_dependencies_and_definition_order():
    doc = _doc(
        tasks=[
            {"id": "z", "agent": "x", "depends_on": ["m"]},
            {"id": "m", "agent": "x"},
            {"id": "b", "agent": "x"},
            {"id": "a", "agent": "x", "input": "${tasks.z.output}"},
        ]
    )
    defn = parse_workflow(yaml.safe_dump(doc))
    assert topological_order(defn) == ["m", "b", "z", "a"]


def test_parse_workflow_raises_with_all_errors():
    with pytest.raises(DefinitionError) as info:
        parse_workflow(yaml.safe_dump({"name": "Bad Name", "tasks": [{"id": "a"}], "x": 1}))
    paths = {p.path for p in info.value.problems}
    assert paths == {"name", "tasks[0].agent", "x"}
    assert isinstance(info.value, ValueError)
    assert "tasks[0].agent" in str(info.value)


# --- text level ----------------------------------------------------------------------


def test_yaml_syntax_error_reports_line_and_column():
    errors = _errors("name: wf\ntasks: [\n  - id: a\n")
    assert list(errors) == [""]
    assert "invalid YAML at line" in errors[""]
    assert "column" in errors[""]


def test_yaml_syntax_error_position_is_one_based():
    errors = _errors("name: wf\ntasks:\n  - id: a\n   agent: x\n")
    assert "line 4, column 4" in errors[""]


def test_invalid_json_reports_line_and_column():
    errors = _errors('{\n  "name": "wf",\n  "tasks": [,]\n}')
    assert errors[""].startswith("invalid JSON at line 3, column 13")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("  \n", "empty"),
        ("- a\n- b\n", "mapping, got array"),
        ("just text", "mapping, got string"),
    ],
)
def test_definition_must_be_a_nonempty_mapping(text, fragment):
    errors = _errors(text)
    assert fragment in errors[""]


# --- top-level fields ----------------------------------------------------------------


def test_missing_name_and_tasks():
    errors = _errors({"description": "d"})
    assert errors == {
        "name": "missing required field 'name'",
        "tasks": "missing required field 'tasks'",
    }


@pytest.mark.parametrize("tasks", [[], None, "a", {"id": "a"}])
def test_tasks_must_be_a_nonempty_list(tasks):
    assert "tasks" in _errors(_doc(tasks=tasks))


@pytest.mark.parametrize(
    "name", ["Build", "-wf", "wf-", "wf.app", "a" * 64, "", "with space", "wf_"]
)
def test_bad_workflow_names(name):
    assert "name" in _errors(_doc(name=name))


@pytest.mark.parametrize("name", ["wf", "a", "build-app", "x_1-y", "9lives", "a" * 63])
def test_good_workflow_names(name):
    assert parse_workflow(yaml.safe_dump(_doc(name=name))).name == name


def test_workflow_name_wrong_type():
    assert _errors(_doc(name=5)) == {"name": "expected string, got integer"}


def test_unknown_top_level_key_suggests_close_match():
    errors = _errors(_doc(output={"a": 1}))
    assert errors == {"output": "unknown field 'output'; did you mean 'outputs'?"}


def test_description_must_be_text():
    assert _errors(_doc(description=["x"])) == {"description": "expected string, got array"}


@pytest.mark.parametrize("timeout", ["10x", "-1s", "0s", 0, True])
def test_bad_workflow_timeout(timeout):
    assert "timeout" in _errors(_doc(timeout=timeout))


def test_null_timeouts_mean_no_timeout():
    doc = _doc(timeout=None, tasks=[{"id": "a", "agent": "x", "timeout": None}])
    defn = parse_workflow(yaml.safe_dump(doc))
    assert defn.timeout_s is None
    assert defn.tasks[0].timeout_s is None


def test_numeric_timeout_is_seconds():
    assert parse_workflow(yaml.safe_dump(_doc(timeout=90))).timeout_s == 90.0


# --- tasks ---------------------------------------------------------------------------


def test_task_must_be_a_mapping():
    assert _errors(_doc(tasks=["a"])) == {"tasks[0]": "expected a task object, got string"}


def test_task_requires_id_and_agent():
    errors = _errors(_doc(tasks=[{"input": 1}]))
    assert errors == {
        "tasks[0].id": "missing required field 'id'",
        "tasks[0].agent": "missing required field 'agent'",
    }


@pytest.mark.parametrize("task_id", ["1a", "a.b", "a b", "", "-a", "x" * 64])
def test_bad_task_ids(task_id):
    assert "tasks[0].id" in _errors(_doc(tasks=[{"id": task_id, "agent": "x"}]))


@pytest.mark.parametrize("task_id", ["a", "_a", "Build-UI_2"])
def test_good_task_ids(task_id):
    doc = _doc(tasks=[{"id": task_id, "agent": "x"}])
    assert parse_workflow(yaml.safe_dump(doc)).tasks[0].id == task_id


def test_unknown_task_key_path_and_hint():
    doc = _doc(tasks=[{"id": "a", "agent": "x"}, {"id": "b", "agent": "x", "retrys": {}}])
    assert _errors(doc) == {"tasks[1].retrys": "unknown field 'retrys'; did you mean 'retry'?"}


@pytest.mark.parametrize(
    ("task", "path", "message"),
    [
        ({"agent": 3}, "tasks[0].agent", "expected string, got integer"),
        ({"agent": " "}, "tasks[0].agent", "agent must not be empty"),
        ({"depends_on": "b"}, "tasks[0].depends_on", "expected array, got string"),
        ({"depends_on": [1]}, "tasks[0].depends_on[0]", "expected string, got integer"),
        ({"timeout": [1]}, "tasks[0].timeout", "expected text"),
        ({"retry": 3}, "tasks[0].retry", "expected retry object, got integer"),
    ],
)
def test_task_field_types(task, path, message):
    doc = _doc(tasks=[{"id": "a", "agent": "x", **task}])
    assert message in _errors(doc)[path]


def test_duplicate_task_ids():
    doc = _doc(tasks=[{"id": n, "agent": "x"} for n in ["a", "b", "c", "a"]])
    assert _errors(doc) == {"tasks[3].id": "duplicate task id 'a' (first defined at tasks[0])"}


def test_unknown_dependency():
    doc = _doc(
        tasks=[
            {"id": "a", "agent": "x"},
            {"id": "b", "agent": "x"},
            {"id": "c", "agent": "x", "depends_on": ["nope", "a"]},
        ]
    )
    assert _errors(doc) == {"tasks[2].depends_on[0]": "depends on unknown task 'nope'"}


def test_self_dependency_explicit_and_via_reference():
    doc = _doc(
        tasks=[{"id": "a", "agent": "x", "depends_on": ["a"], "input": {"v": "${tasks.a.output}"}}]
    )
    assert _errors(doc) == {
        "tasks[0].depends_on[0]": "task 'a' depends on itself",
        "tasks[0].input.v": "task 'a' references its own output",
    }


def test_two_task_cycle_spelled_out_at_closing_edge():
    doc = _doc(
        tasks=[
            {"id": "a", "agent": "x", "depends_on": ["b"]},
            {"id": "b", "agent": "x", "depends_on": ["a"]},
        ]
    )
    assert _errors(doc) == {"tasks[1].depends_on[0]": "dependency cycle: a -> b -> a"}


def test_longer_cycle_through_a_reference():
    doc = _doc(
        tasks=[
            {"id": "start", "agent": "x"},
            {"id": "a", "agent": "x", "depends_on": ["start", "b"]},
            {"id": "b", "agent": "x", "depends_on": ["c"]},
            {"id": "c", "agent": "x", "input": {"items": ["k", "${tasks.a.output.x}"]}},
        ]
    )
    assert _errors(doc) == {"tasks[3].input.items[1]": "dependency cycle: a -> b -> c -> a"}


def test_cycle_text_excludes_tasks_leading_into_it():
    doc = _doc(
        tasks=[
            {"id": "entry", "agent": "x", "depends_on": ["a"]},
            {"id": "a", "agent": "x", "depends_on": ["b"]},
            {"id": "b", "agent": "x", "depends_on": ["a"]},
        ]
    )
    assert _errors(doc) == {"tasks[2].depends_on[0]": "dependency cycle: a -> b -> a"}


def test_separate_cycles_each_reported_once():
    doc = _doc(
        tasks=[
            {"id": "a", "agent": "x", "depends_on": ["b"]},
            {"id": "b", "agent": "x", "depends_on": ["a"]},
            {"id": "c", "agent": "x", "depends_on": ["d"]},
            {"id": "d", "agent": "x", "depends_on": ["c", "c"]},
        ]
    )
    _, problems = validate_workflow(yaml.safe_dump(doc))
    assert [(p.path, p.message) for p in problems] == [
        ("tasks[1].depends_on[0]", "dependency cycle: a -> b -> a"),
        ("tasks[3].depends_on[0]", "dependency cycle: c -> d -> c"),
    ]


def test_long_chain_does_not_hit_recursion_limit():
    n = 3000
    tasks = [{"id": f"t{i}", "agent": "x", "depends_on": [f"t{i + 1}"]} for i in range(n)]
    tasks.append({"id": f"t{n}", "agent": "x"})
    defn = parse_workflow(json.dumps(_doc(tasks=tasks)))
    assert topological_order(defn)[0] == f"t{n}"
    tasks[-1]["depends_on"] = ["t0"]
    errors = _errors(json.dumps(_doc(tasks=tasks)))
    assert errors[f"tasks[{n}].depends_on[0]"].startswith("dependency cycle: t0 -> t1 -> ")


# --- references ----------------------------------------------------------------------


def test_reference_to_unknown_task_in_input():
    doc = _doc(tasks=[{"id": "a", "agent": "x", "input": {"q": ["${tasks.ghost.output}"]}}])
    assert _errors(doc) == {"tasks[0].input.q[0]": "references unknown task 'ghost'"}


def test_reference_to_unknown_input():
    doc = _doc(
        inputs={"project": "string"},
        tasks=[{"id": "a", "agent": "x", "input": {"spec": "${inputs.proj}"}}],
    )
    assert _errors(doc) == {
        "tasks[0].input.spec": "${inputs.proj} references unknown workflow input 'proj'"
    }


def test_malformed_references_in_input():
    doc = _doc(
        tasks=[
            {
                "id": "a",
                "agent": "x",
                "input": {
                    "a": "${}",
                    "b": "${foo.bar}",
                    "c": "${inputs.x",
                    "d": "${tasks.a}",
                    "e": "${tasks.a.output[z]}",
                },
            }
        ]
    )
    errors = _errors(doc)
    assert set(errors) == {f"tasks[0].input.{k}" for k in "abcde"}


def test_outputs_references_checked():
    doc = _doc(
        outputs={
            "report": "${tasks.nope.output}",
            "x": ["${inputs.nada}"],
            "ok": "${tasks.a.output}",
            "bad": "${oops}",
        }
    )
    errors = _errors(doc)
    assert errors["outputs.report"] == "${tasks.nope.output} references unknown task 'nope'"
    assert "unknown workflow input 'nada'" in errors["outputs.x[0]"]
    assert "outputs.bad" in errors
    assert "outputs.ok" not in errors


def test_escaped_reference_is_not_checked():
    doc = _doc(tasks=[{"id": "a", "agent": "x", "input": "$${tasks.ghost.output}"}])
    assert parse_workflow(yaml.safe_dump(doc)).tasks[0].depends_on == ()


# --- durations and retry -------------------------------------------------------------


@pytest.mark.parametrize(
    ("retry", "path", "fragment"),
    [
        ({"max_attempts": 0}, "max_attempts", ">= 1"),
        ({"max_attempts": 1.5}, "max_attempts", "expected integer"),
        ({"max_attempts": True}, "max_attempts", "expected integer, got boolean"),
        ({"backoff_coefficient": 0.5}, "backoff_coefficient", ">= 1"),
        ({"backoff_coefficient": "2"}, "backoff_coefficient", "expected number"),
        ({"initial_interval": "0s"}, "initial_interval", "greater than zero"),
        ({"initial_interval": "soon"}, "initial_interval", "invalid duration"),
        ({"max_interval": "-1s"}, "max_interval", "negative"),
        (
            {"initial_interval": "10s", "max_interval": "5s"},
            "max_interval",
            "max_interval (5s) must be >= initial_interval (10s)",
        ),
        ({"non_retryable_errors": "ValueError"}, "non_retryable_errors", "expected array"),
        ({"non_retryable_errors": ["A", 2]}, "non_retryable_errors[1]", "expected string"),
        ({"max_attempt": 2}, "max_attempt", "did you mean 'max_attempts'"),
    ],
)
def test_retry_rules(retry, path, fragment):
    doc = _doc(tasks=[{"id": "a", "agent": "x", "retry": retry}])
    errors = _errors(doc)
    assert list(errors) == [f"tasks[0].retry.{path}"]
    assert fragment in errors[f"tasks[0].retry.{path}"]


def test_retry_partial_keeps_defaults_and_grows_cap():
    doc = _doc(
        tasks=[{"id": "a", "agent": "x", "retry": {"max_attempts": 1, "initial_interval": "2m"}}]
    )
    retry = parse_workflow(yaml.safe_dump(doc)).tasks[0].retry
    assert retry == RetryPolicy(1, 120.0, 2.0, 120.0, ())


def test_bad_task_timeout():
    doc = _doc(tasks=[{"id": "a", "agent": "x", "timeout": "5 minutes"}])
    assert "invalid duration" in _errors(doc)["tasks[0].timeout"]


# --- inputs section ------------------------------------------------------------------


def test_input_shorthand_and_defaults():
    doc = _doc(
        inputs={
            "a": "integer",
            "b": None,
            "c": {"type": "array", "default": []},
            "d": {"type": "boolean", "required": False, "description": "x"},
        }
    )
    inputs = parse_workflow(yaml.safe_dump(doc)).inputs
    assert (inputs["a"].type, inputs["a"].required) == ("integer", True)
    assert (inputs["b"].type, inputs["b"].required) == ("any", True)
    assert (inputs["c"].required, inputs["c"].default) == (False, [])
    assert (inputs["d"].required, inputs["d"].default) == (False, None)


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"type": "str"}, "inputs.p.type", "unknown type 'str'"),
        ({"type": "integer", "default": "3"}, "inputs.p.default", "expected integer, got string"),
        ({"type": "number", "default": True}, "inputs.p.default", "got boolean"),
        ({"type": "string", "min": 1}, "inputs.p.min", "unknown field 'min'"),
        ({"required": "yes"}, "inputs.p.required", "expected boolean"),
        ({"default": 1, "required": True}, "inputs.p.required", "cannot be required"),
        ({"description": 4}, "inputs.p.description", "expected string"),
        (7, "inputs.p", "expected object or type name"),
    ],
)
def test_input_param_rules(spec, path, fragment):
    errors = _errors(_doc(inputs={"p": spec}))
    assert list(errors) == [path]
    assert fragment in errors[path]


def test_bad_input_name():
    assert "inputs.a.b" in _errors(_doc(inputs={"a.b": "string"}))


def test_inputs_section_must_be_mapping_and_refs_not_double_reported():
    doc = _doc(inputs=["project"], tasks=[{"id": "a", "agent": "x", "input": "${inputs.project}"}])
    assert list(_errors(doc)) == ["inputs"]


# --- agents --------------------------------------------------------------------------


def test_unknown_agent_is_a_warning_by_default():
    defn, problems = _problems(_doc(), known_agents={"other"})
    assert defn is not None
    assert problems["tasks[0].agent"].message == "unknown agent 'x'"
    assert problems["tasks[0].agent"].severity is Severity.WARNING


def test_unknown_agent_can_be_an_error():
    errors = _errors(_doc(), known_agents={"other"}, unknown_agent_severity=Severity.ERROR)
    assert errors == {"tasks[0].agent": "unknown agent 'x'"}


def test_agents_not_checked_without_known_agents():
    assert _problems(_doc())[1] == {}
    assert _problems(_doc(), known_agents={"x"})[1] == {}


# --- many problems at once -----------------------------------------------------------


def test_every_problem_reported_in_one_pass():
    doc = {
        "name": "Bad!",
        "timeout": "forever",
        "extra": True,
        "inputs": {"p": {"type": "string"}},
        "tasks": [
            {"id": "a", "agent": "x", "timeout": "1y", "input": {"s": "${inputs.q}"}},
            {"id": "a", "agent": "x"},
            {"id": "b", "agent": 1, "depends_on": ["zz"], "retry": {"max_attempts": 0}},
            {"id": "c", "agent": "y", "input": ["${tasks.d.output}"]},
            {"id": "d", "agent": "y", "depends_on": ["c"], "oops": 1},
        ],
        "outputs": {"r": "${tasks.missing.output}"},
    }
    _, problems = _problems(doc, known_agents={"x"})
    assert set(problems) == {
        "name",
        "timeout",
        "extra",
        "tasks[0].timeout",
        "tasks[0].input.s",
        "tasks[1].id",
        "tasks[2].agent",
        "tasks[2].depends_on[0]",
        "tasks[2].retry.max_attempts",
        "tasks[3].agent",
        "tasks[4].agent",
        "tasks[4].depends_on[0]",
        "tasks[4].oops",
        "outputs.r",
    }
    assert problems["tasks[4].depends_on[0]"].message == "dependency cycle: c -> d -> c"
    assert problems["tasks[3].agent"].severity is Severity.WARNING
