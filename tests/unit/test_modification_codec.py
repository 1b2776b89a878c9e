"""ModifyExecution's operations on the wire: what an unset or malformed field reads as, and the
engine's refusals spelled in the request's terms."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2, struct_pb2

from controlplane.api.codec.modifications import (
    in_request_terms,
    operation_from_proto,
    operations_from_proto,
    retry_from_proto,
)
from controlplane.api.gen.orchestrator.v1 import workflow_pb2
from models.errors import FailedPrecondition, FieldViolation, InvalidArgument
from models.modifications import OperationKind
from models.workflows import RetryPolicy

Op = workflow_pb2.ExecutionOperation


def _violations(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


def test_an_operation_without_its_oneof_is_refused_naming_its_index() -> None:
    messages = [Op(skip_task=Op.SkipTask(task_id="a")), Op()]
    with pytest.raises(InvalidArgument, match="set one of skip_task, add_task") as unset:
        operations_from_proto(messages)
    assert _violations(unset) == ["operations[1]"]


def test_unset_fields_read_as_their_documented_defaults() -> None:
    added = operation_from_proto(Op(add_task=Op.AddTask(task_id="x", agent="a")))
    assert added.kind is OperationKind.ADD_TASK
    assert (added.input, added.timeout_s, added.retry, added.has_input) == (None, None, None, False)
    # An update changes only what it sets: an unset input is not an input of null.
    update = operation_from_proto(Op(update_task=Op.UpdateTask(task_id="x")))
    assert (update.has_input, update.timeout_s, update.retry) == (False, None, None)
    to_null = Op.UpdateTask(task_id="x", input=struct_pb2.Value(null_value=0))
    assert operation_from_proto(Op(update_task=to_null)).has_input
    assert retry_from_proto(workflow_pb2.RetryPolicy()) == RetryPolicy()
    # Without a maximum, the cap grows to fit a long first wait (as in a definition).
    long_first = workflow_pb2.RetryPolicy(initial_interval=duration_pb2.Duration(seconds=120))
    assert retry_from_proto(long_first).max_interval_s == 120.0
    assert operation_from_proto(Op(set_value=Op.SetValue(path="inputs.x"))).value is None


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (workflow_pb2.RetryPolicy(max_attempts=-1), "max_attempts"),
        (workflow_pb2.RetryPolicy(backoff_coefficient=0.5), "backoff_coefficient"),
        (workflow_pb2.RetryPolicy(backoff_coefficient=float("nan")), "backoff_coefficient"),
        (
            workflow_pb2.RetryPolicy(initial_interval=duration_pb2.Duration(seconds=-1)),
            "initial_interval",
        ),
        (
            workflow_pb2.RetryPolicy(
                initial_interval=duration_pb2.Duration(seconds=10),
                max_interval=duration_pb2.Duration(seconds=5),
            ),
            "max_interval",
        ),
    ],
)
def test_a_retry_policy_no_task_can_have_is_refused_naming_the_field(
    policy: workflow_pb2.RetryPolicy, field: str
) -> None:
    message = Op(update_task=Op.UpdateTask(task_id="t", retry=policy))
    with pytest.raises(InvalidArgument) as bad:
        operations_from_proto([Op(skip_task=Op.SkipTask(task_id="a")), message])
    assert _violations(bad) == [f"operations[1].update_task.retry.{field}"]


@pytest.mark.parametrize("seconds", [0, -5])
def test_a_timeout_must_be_more_than_zero(seconds: int) -> None:
    message = Op(add_task=Op.AddTask(task_id="t", agent="a", timeout={"seconds": seconds}))
    with pytest.raises(InvalidArgument) as bad:
        operation_from_proto(message, 3)
    assert _violations(bad) == ["operations[3].add_task.timeout"]


def test_a_value_no_json_carries_is_refused_naming_its_path() -> None:
    nan = struct_pb2.Value(number_value=float("nan"))
    deep = struct_pb2.Value()
    deep.struct_value.fields["score"].CopyFrom(nan)
    with pytest.raises(InvalidArgument) as bad:
        operation_from_proto(Op(add_task=Op.AddTask(task_id="t", agent="a", input=deep)), 0)
    assert _violations(bad) == ["operations[0].add_task.input.score"]
    with pytest.raises(InvalidArgument) as bad_value:
        operation_from_proto(Op(set_value=Op.SetValue(path="inputs.x", value=nan)), 2)
    assert _violations(bad_value) == ["operations[2].set_value.value"]


def test_the_engines_refusals_are_spelled_as_the_request_paths() -> None:
    messages = [
        Op(add_task=Op.AddTask(task_id="x", agent="a")),
        Op(skip_task=Op.SkipTask(task_id="gate")),
    ] + [Op(remove_task=Op.RemoveTask(task_id=f"t{i}")) for i in range(9)]
    refused = FailedPrecondition(
        "task 'gate' is RUNNING",
        [FieldViolation("operations[1].task_id", "task gate is RUNNING")],
    )
    spelled = in_request_terms(refused, messages)
    assert isinstance(spelled, FailedPrecondition)
    assert [v.field for v in spelled.violations] == ["operations[1].skip_task.task_id"]
    references = InvalidArgument(
        "operations[0].input.of references unknown task 'nope'",
        [
            FieldViolation("operations[0].input.of", "no task nope"),
            FieldViolation("operations[10].task_id", "x"),
            FieldViolation("operations", "depends_on would make a cycle"),
        ],
    )
    spelled = in_request_terms(references, messages)
    assert spelled.message == "operations[0].add_task.input.of references unknown task 'nope'"
    assert [v.field for v in spelled.violations] == [
        "operations[0].add_task.input.of",
        "operations[10].remove_task.task_id",
        "operations",
    ]
