"""The workflow language under generated input: arbitrary texts, YAML-shaped noise, generated
documents, and near-valid definitions (valid ones with a few fields replaced, removed, added or
retyped, or their text cut and spliced). Validation never raises: it answers a definition or
problems that each carry a path and a message, an ERROR exactly when there is no definition,
within a deadline per example.

`HYPOTHESIS_PROFILE=long` runs fifty times the examples with a fresh seed.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from controlplane.workflow import (
    DefinitionError,
    definition_digest,
    finally_order,
    parse_workflow,
    topological_order,
    validate_workflow,
)
from models.limits import WorkflowLimits
from models.workflows import Severity
from tests.support.fuzzing import characters, doubles, fuzz_settings

AGENTS = {"work", "undo", "notify"}
WORKFLOWS = {"child", "full"}
DEADLINE_S = 5.0

VALID = [
    """
name: full
description: every feature at once
timeout: 1h
failure_mode: fail_fast
inputs:
  files: {type: array, default: [a, b]}
  approve_at: {type: integer, required: false}
  mode: {type: string, default: "no"}
tasks:
  - id: plan
    agent: work
    input: {files: "${inputs.files}", mode: "${inputs.mode}"}
    timeout: 30s
    retry: {max_attempts: 3, initial_interval: 1s, backoff_coefficient: 2.0, max_interval: 1m,
            non_retryable_errors: [ValueError]}
    resources: {cpu: 2, memory: 4Gi, gpu: 0.5}
    placement: {node_labels: {zone: "in(a,b)"}, spread: true}
    priority: 10
    heartbeat_timeout: 30s
  - id: each
    agent: work
    for_each: "${tasks.plan.output.files}"
    max_concurrency: 8
    allow_failures: 10%
    input: {file: "${item}", index: "${index}"}
  - id: review
    agent: work
    loop: {until: "output.approved == true", max_iterations: 5}
    input: {round: "${loop.iteration}", previous: "${loop.previous}"}
    compensate: {agent: undo, input: {id: "${tasks.plan.output.id}"}}
  - id: gate
    wait_for_signal: approve
    timeout: 24h
    depends_on: [review]
  - {id: pause, sleep: 5s, depends_on: [gate]}
  - id: sub
    workflow: child
    input: {x: "${tasks.review.output}"}
    when: "tasks.review.output.approved == true"
    trigger: none_failed
    depends_on: [pause]
finally:
  - {id: tell, agent: notify, input: {status: "${execution.status}"}}
outputs: {report: "${tasks.sub.output}", items: "${tasks.each.output}"}
""",
    """
name: child
inputs: {x: {type: any}}
tasks:
  - {id: a, agent: work, input: "${inputs.x}"}
  - {id: b, agent: work, depends_on: [a], input: ["${tasks.a.output}", 1, 2.5, null, true]}
outputs: {y: "${tasks.b.output}"}
""",
    '{"name": "json", "tasks": [{"id": "a", "agent": "work", "input": {"k": [1, {"z": null}]}}]}',
]
DOCUMENTS = [yaml.safe_load(text) for text in VALID]


def _check(text: str, limits: WorkflowLimits | None = None) -> None:
    """What every text must get: a definition, or problems naming where."""
    limits = limits or WorkflowLimits()
    definition, problems = validate_workflow(
        text, AGENTS, Severity.WARNING, WORKFLOWS, limits=limits
    )
    for problem in problems:
        assert isinstance(problem.path, str)
        assert isinstance(problem.message, str) and problem.message.strip()
        assert isinstance(problem.severity, Severity)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert (definition is None) == bool(errors), problems
    if definition is not None:
        topological_order(definition)
        finally_order(definition)
        definition_digest(text)
    # Without the catalog (as stored revisions are read) it may pass; it raises nothing else.
    with contextlib.suppress(DefinitionError):
        parse_workflow(text, limits)


def test_the_seeds_are_valid() -> None:
    for text in VALID:
        definition, problems = validate_workflow(text, AGENTS, Severity.ERROR, WORKFLOWS)
        assert definition is not None, problems


# -- texts --------------------------------------------------------------------------------------

yaml_noise = st.text(
    st.sampled_from(list("{}[]:,-&*!|>'\"#%@`?~ \n\t\\.$0aZ=<")) | characters, max_size=200
)


@fuzz_settings(examples=150, deadline_s=DEADLINE_S)
@given(text=st.text(characters, max_size=300) | yaml_noise)
def test_any_text_gets_problems_not_an_exception(text: str) -> None:
    _check(text)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | doubles
    | st.text(characters, max_size=20)
    | st.sampled_from(["${inputs.x}", "${tasks.a.output}", "${item}", "${", "1s", "no", "12:30"])
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def _dump(document: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(document)  # NaN and Infinity as JSON's outlaws
    return yaml.safe_dump(document, allow_unicode=True)


@fuzz_settings(examples=100, deadline_s=DEADLINE_S)
@given(document=documents, as_json=st.booleans())
def test_any_document_gets_problems_not_an_exception(document: Any, as_json: bool) -> None:
    _check(_dump(document, as_json))


# -- near-valid definitions ---------------------------------------------------------------------


def _places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `document`."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _places(value, (*path, index))
    return found


def _copy(document: Any) -> Any:
    return json.loads(json.dumps(document))


@st.composite
def near_valid(draw: st.DrawFn) -> Any:
    document = _copy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in _places(document) if p]
        if not places:
            break
        path = draw(st.sampled_from(places))
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "remove", "add", "duplicate"]))
        if action == "replace":
            parent[last] = draw(documents)
        elif action == "remove":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(documents)
        elif action == "add":
            parent.insert(last, draw(documents))
        elif isinstance(parent, list):
            parent.append(_copy(parent[last]))
        else:
            parent[last] = [_copy(parent[last])] * draw(st.integers(0, 3))
    return document


@fuzz_settings(examples=200, deadline_s=DEADLINE_S)
@given(document=near_valid(), as_json=st.booleans())
def test_a_near_valid_definition_gets_problems_with_paths(document: Any, as_json: bool) -> None:
    _check(_dump(document, as_json))


@fuzz_settings(examples=100, deadline_s=DEADLINE_S)
@given(
    seed=st.sampled_from(VALID),
    cut=st.tuples(st.integers(0, 2000), st.integers(0, 40)),
    splice=st.text(characters, max_size=20) | yaml_noise,
)
def test_a_cut_and_spliced_text_gets_problems(seed: str, cut: tuple[int, int], splice: str) -> None:
    start = cut[0] % (len(seed) + 1)
    _check(seed[:start] + splice + seed[start + cut[1] :])


@fuzz_settings(examples=50, deadline_s=DEADLINE_S)
@given(
    document=near_valid(),
    limits=st.builds(
        WorkflowLimits,
        tasks_per_workflow=st.integers(1, 12),
        value_depth=st.integers(1, 30),
    ),
)
def test_tight_limits_are_problems_too(document: Any, limits: WorkflowLimits) -> None:
    _check(_dump(document, False), limits)
