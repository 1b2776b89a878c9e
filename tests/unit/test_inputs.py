from controlplane.workflow.inputs import check_inputs, json_type_name, matches_type
from models.workflows import InputParameter, Severity, TaskDefinition, WorkflowDefinition


def _defn(*params: InputParameter) -> WorkflowDefinition:
    return WorkflowDefinition(
        name="wf",
        tasks=(TaskDefinition(id="t", agent="a"),),
        inputs={p.name: p for p in params},
    )


DEFN = _defn(
    InputParameter("project", "string"),
    InputParameter("count", "integer", required=False, default=3),
    InputParameter("opts", "object", required=False, default={"a": [1]}),
    InputParameter("note", "string", required=False),
)


def _messages(problems):
    return [f"{p.path}: {p.message}" for p in problems]


def test_defaults_applied_and_given_values_kept():
    resolved, problems = check_inputs(DEFN, {"project": "shop"})
    assert problems == []
    assert resolved == {"project": "shop", "count": 3, "opts": {"a": [1]}, "note": None}


def test_defaults_are_copied():
    resolved, _ = check_inputs(DEFN, {"project": "shop"})
    resolved["opts"]["a"].append(2)
    assert DEFN.inputs["opts"].default == {"a": [1]}


def test_given_value_overrides_default():
    resolved, _ = check_inputs(DEFN, {"project": "p", "count": 9})
    assert resolved["count"] == 9


def test_missing_required_input():
    _, problems = check_inputs(DEFN, {})
    assert _messages(problems) == ["inputs.project: missing required input"]
    assert problems[0].severity is Severity.ERROR


def test_none_inputs_treated_as_empty():
    _, problems = check_inputs(DEFN, None)
    assert [p.path for p in problems] == ["inputs.project"]


def test_type_mismatch_message():
    _, problems = check_inputs(DEFN, {"project": "p", "count": "3"})
    assert _messages(problems) == ["inputs.count: expected integer, got string"]


def test_unknown_input():
    _, problems = check_inputs(DEFN, {"project": "p", "extra": 1})
    assert [p.path for p in problems] == ["inputs.extra"]
    assert "unknown input 'extra'" in problems[0].message


def test_all_problems_reported_together():
    _, problems = check_inputs(DEFN, {"count": True, "opts": [], "zzz": 0})
    assert _messages(problems) == [
        "inputs.project: missing required input",
        "inputs.count: expected integer, got boolean",
        "inputs.opts: expected object, got array",
        "inputs.zzz: unknown input 'zzz' (declared: project, count, opts, note)",
    ]


def test_integral_float_accepted_as_integer_and_normalised():
    resolved, problems = check_inputs(DEFN, {"project": "p", "count": 4.0})
    assert problems == []
    assert resolved["count"] == 4
    assert isinstance(resolved["count"], int)


def test_fractional_float_is_not_integer():
    _, problems = check_inputs(DEFN, {"project": "p", "count": 4.5})
    assert _messages(problems) == ["inputs.count: expected integer, got number"]


def test_null_for_typed_input_is_a_mismatch():
    _, problems = check_inputs(DEFN, {"project": None})
    assert _messages(problems) == ["inputs.project: expected string, got null"]


def test_matches_type_table():
    assert matches_type(1, "number")
    assert matches_type(1.5, "number")
    assert not matches_type(True, "number")
    assert not matches_type(True, "integer")
    assert not matches_type(0, "boolean")
    assert matches_type(False, "boolean")
    assert matches_type([1], "array")
    assert not matches_type({}, "array")
    assert matches_type({}, "object")
    assert matches_type("s", "string")
    assert matches_type(None, "any")
    assert not matches_type("s", "bogus")


def test_json_type_names():
    assert [json_type_name(v) for v in (None, True, 1, 1.0, "s", {}, [])] == [
        "null",
        "boolean",
        "integer",
        "number",
        "string",
        "object",
        "array",
    ]
