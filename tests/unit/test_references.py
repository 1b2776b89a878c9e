import re

import pytest

from controlplane.workflow.references import (
    Reference,
    ReferenceResolutionError,
    ReferenceSyntaxError,
    find_reference_problems,
    find_references,
    parse_reference,
    parse_template,
    resolve,
)

# --- parsing -------------------------------------------------------------------------


def test_parse_input_reference():
    ref = parse_reference("inputs.project.name[2]")
    assert ref == Reference("inputs", None, ("project", "name", 2), "inputs.project.name[2]")


def test_parse_task_reference_path_starts_after_output():
    ref = parse_reference("tasks.a.output.files[0].name")
    assert ref.root == "tasks"
    assert ref.task_id == "a"
    assert ref.path == ("files", 0, "name")


def test_parse_whole_task_output():
    assert parse_reference("tasks.build-ui.output").path == ()


def test_surrounding_whitespace_is_allowed_and_text_kept_verbatim():
    ref = parse_reference(" inputs.x ")
    assert ref.path == ("x",)
    assert ref.text == " inputs.x "
    assert str(ref) == "${ inputs.x }"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "  ",
        "foo.bar",
        "inputs",
        "inputs[0]",
        "tasks.a",
        "tasks.a.result",
        "tasks[0].output",
        "tasks.a.output.",
        "tasks.a.output[x]",
        "tasks.a.output[-1]",
        "tasks.a.output[1",
        "tasks.a.output[]",
        "inputs.x..y",
        "inputs.x y",
        "1inputs.x",
    ],
)
def test_malformed_reference_bodies(body):
    with pytest.raises(ValueError):
        parse_reference(body)


def test_template_splits_literals_and_references():
    parts = parse_template("a ${inputs.x} b ${tasks.t.output} c")
    assert parts[0] == "a "
    assert isinstance(parts[1], Reference)
    assert parts[2] == " b "
    assert isinstance(parts[3], Reference)
    assert parts[4] == " c"


def test_template_escape_and_lone_dollar():
    assert parse_template("cost $5 and $${inputs.x}") == ["cost $5 and ${inputs.x}"]


# --- finding -------------------------------------------------------------------------


def test_find_references_reports_nested_locations():
    value = {
        "spec": "${inputs.project}",
        "items": ["plain", {"x": "use ${tasks.a.output.files[0]} now"}],
        "n": 3,
    }
    found = find_references(value)
    assert [(loc, ref.text) for loc, ref in found] == [
        ("spec", "inputs.project"),
        ("items[1].x", "tasks.a.output.files[0]"),
    ]


def test_find_references_with_base_path_and_top_level_string():
    found = find_references("${inputs.a}", "tasks[0].input")
    assert found[0][0] == "tasks[0].input"
    found = find_references(["${inputs.a}"], "tasks[0].input")
    assert found[0][0] == "tasks[0].input[0]"


def test_find_references_ignores_escaped_and_keys():
    assert find_references({"${inputs.key}": "$${inputs.x}"}) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${}", "empty"),
        ("${foo.bar}", "inputs"),
        ("start ${inputs.x", "unclosed"),
        ("${tasks.a}", "tasks.ID.output"),
        ("${tasks.a.output[x]}", "index"),
    ],
)
def test_find_references_raises_with_location(text, fragment):
    with pytest.raises(ReferenceSyntaxError, match=fragment) as info:
        find_references({"outer": [{"inner": text}]})
    assert info.value.location == "outer[0].inner"
    assert str(info.value).startswith("outer[0].inner: ")


def test_syntax_error_is_a_value_error():
    assert issubclass(ReferenceSyntaxError, ValueError)
    assert issubclass(ReferenceResolutionError, ValueError)


def test_find_reference_problems_collects_all_and_keeps_good_refs():
    refs, problems = find_reference_problems(
        {"a": "${}", "b": "${inputs.ok}", "c": ["${tasks.x}"]}, "tasks[2].input"
    )
    assert [loc for loc, _ in refs] == ["tasks[2].input.b"]
    assert [p.path for p in problems] == ["tasks[2].input.a", "tasks[2].input.c[0]"]


# --- resolving -----------------------------------------------------------------------

OUTPUTS = {
    "a": {"files": [{"name": "main.py", "size": 10}], "ok": True, "score": 1.5},
    "b": "plain text",
    "c": None,
}
INPUTS = {"project": "shop", "count": 3, "tags": ["x", "y"]}


def test_lone_reference_keeps_type():
    value = {
        "whole": "${tasks.a.output}",
        "list": "${tasks.a.output.files}",
        "num": "${inputs.count}",
        "flag": "${tasks.a.output.ok}",
        "none": "${tasks.c.output}",
    }
    result = resolve(value, INPUTS, OUTPUTS)
    assert result["whole"] == OUTPUTS["a"]
    assert result["list"] == [{"name": "main.py", "size": 10}]
    assert result["num"] == 3
    assert result["flag"] is True
    assert result["none"] is None


def test_lone_reference_with_whitespace_keeps_type():
    assert resolve("${ inputs.count }", INPUTS, {}) == 3


def test_interpolation_renders_strings_raw_and_others_as_compact_json():
    text = "p=${inputs.project} n=${inputs.count} t=${inputs.tags} f=${tasks.a.output.files[0]}"
    assert resolve(text, INPUTS, OUTPUTS) == (
        'p=shop n=3 t=["x","y"] f={"name":"main.py","size":10}'
    )


def test_interpolation_of_null_and_bool():
    assert resolve("${tasks.c.output}/${tasks.a.output.ok}", {}, OUTPUTS) == "null/true"


def test_indexes_and_nested_fields():
    assert resolve("${tasks.a.output.files[0].name}", {}, OUTPUTS) == "main.py"
    assert resolve("${inputs.tags[1]}", INPUTS, {}) == "y"


def test_escape_produces_literal():
    assert resolve("$${inputs.project} is ${inputs.project}", INPUTS, {}) == (
        "${inputs.project} is shop"
    )
    assert resolve("$${literal}", {}, {}) == "${literal}"


def test_resolve_walks_nested_structures_and_leaves_other_values():
    value = {"a": [1, "${inputs.count}", {"b": "${inputs.project}"}], "c": 2.5, "d": None}
    assert resolve(value, INPUTS, {}) == {"a": [1, 3, {"b": "shop"}], "c": 2.5, "d": None}


def test_resolve_returns_deep_copies():
    original = {"x": "${tasks.a.output.files}"}
    result = resolve(original, {}, OUTPUTS)
    result["x"][0]["name"] = "changed"
    assert OUTPUTS["a"]["files"][0]["name"] == "main.py"
    assert original == {"x": "${tasks.a.output.files}"}


def test_missing_field_names_reference_and_location():
    with pytest.raises(ReferenceResolutionError) as info:
        resolve({"api": "${tasks.b.output.artifact}"}, {}, {"b": {}}, "input")
    assert str(info.value) == (
        "input.api: ${tasks.b.output.artifact}: output has no field 'artifact'"
    )
    assert info.value.location == "input.api"
    assert info.value.reference.task_id == "b"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${tasks.a.output.files[3]}", "output.files has no index 3 (length 1)"),
        ("${tasks.a.output.files[0].missing}", "output.files[0] has no field 'missing'"),
        ("${tasks.b.output.field}", "not an object"),
        ("${tasks.a.output.ok[0]}", "not a list"),
        ("${tasks.a.output.files.name}", "not an object"),
        ("${tasks.zzz.output}", "task 'zzz' has no output"),
        ("${inputs.nope}", "no workflow input 'nope'"),
        ("${inputs.project.x}", "inputs.project is a str"),
    ],
)
def test_resolution_errors(text, fragment):
    with pytest.raises(ReferenceResolutionError, match=re.escape(fragment)):
        resolve(text, INPUTS, OUTPUTS)


def test_resolve_rejects_malformed_reference():
    with pytest.raises(ReferenceSyntaxError):
        resolve({"x": "${nope}"}, {}, {})


# --- scoped roots: item, index, loop, execution ------------------------------------------


@pytest.mark.parametrize(
    ("body", "root", "path"),
    [
        ("item", "item", ()),
        ("item.file.name", "item", ("file", "name")),
        ("item[2]", "item", (2,)),
        ("index", "index", ()),
        ("loop.iteration", "loop", ("iteration",)),
        ("loop.previous", "loop", ("previous",)),
        ("loop.previous.reviews[0]", "loop", ("previous", "reviews", 0)),
        ("execution.status", "execution", ("status",)),
    ],
)
def test_parse_scoped_roots(body, root, path):
    assert parse_reference(body) == Reference(root, None, path, body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("index.x", "expected ${index}"),
        ("index[0]", "expected ${index}"),
        ("loop", "expected ${loop.iteration} or ${loop.previous...}"),
        ("loop.iteration.x", "expected ${loop.iteration} or ${loop.previous...}"),
        ("loop.count", "expected ${loop.iteration} or ${loop.previous...}"),
        ("execution", "expected ${execution.status}"),
        ("execution.id", "expected ${execution.status}"),
        ("items", "must start with 'inputs.', 'tasks.', 'item', 'index', 'loop.' or 'execution.'"),
    ],
)
def test_malformed_scoped_references(body, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_reference(body)


ITEM_SCOPE = {"item": {"file": "a.py", "lines": [3, 9]}, "index": 4}


def test_resolve_item_and_index_keep_their_types():
    value = {"file": "${item.file}", "first": "${item.lines[0]}", "position": "${index}"}
    assert resolve(value, INPUTS, OUTPUTS, "input", ITEM_SCOPE) == {
        "file": "a.py",
        "first": 3,
        "position": 4,
    }
    assert resolve("${item}", {}, {}, extra=ITEM_SCOPE) == ITEM_SCOPE["item"]
    assert resolve("#${index}: ${item.file}", {}, {}, extra=ITEM_SCOPE) == "#4: a.py"


def test_resolve_loop_iteration_and_previous():
    first = {"loop": {"iteration": 1, "previous": None}}
    value = {"n": "${loop.iteration}", "previous": "${loop.previous}"}
    assert resolve(value, {}, {}, extra=first) == {"n": 1, "previous": None}
    later = {"loop": {"iteration": 3, "previous": {"approved": False, "notes": ["x"]}}}
    assert resolve("${loop.previous.notes[0]} (${loop.iteration})", {}, {}, extra=later) == "x (3)"


def test_resolve_execution_status():
    extra = {"execution": {"status": "FAILED"}}
    assert resolve({"status": "${execution.status}"}, {}, {}, extra=extra) == {"status": "FAILED"}


def test_scoped_roots_mix_with_inputs_and_outputs():
    value = "${inputs.project}/${tasks.a.output.files[0].name}/${item.file}"
    assert resolve(value, INPUTS, OUTPUTS, extra=ITEM_SCOPE) == "shop/main.py/a.py"


def test_a_scoped_root_not_given_fails_to_resolve():
    with pytest.raises(ReferenceResolutionError) as info:
        resolve({"f": "${item.file}"}, INPUTS, OUTPUTS, "input")
    assert str(info.value) == "input.f: ${item.file}: 'item' is not available here"
    with pytest.raises(ReferenceResolutionError, match="'execution' is not available here"):
        resolve("${execution.status}", {}, {}, extra=ITEM_SCOPE)


def test_a_missing_field_of_a_scoped_root_names_it():
    with pytest.raises(ReferenceResolutionError, match=re.escape("item has no field 'size'")):
        resolve("${item.size}", {}, {}, extra=ITEM_SCOPE)
    first = {"loop": {"iteration": 1, "previous": None}}
    with pytest.raises(
        ReferenceResolutionError, match=re.escape("loop.previous is null, not an object")
    ):
        resolve("${loop.previous.approved}", {}, {}, extra=first)


def test_the_engines_call_without_extra_still_works():
    assert resolve({"x": "${inputs.count}"}, INPUTS, OUTPUTS, "input") == {"x": 3}
