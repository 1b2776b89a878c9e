"""The response budget as pure logic: which values a response leaves out, and the leaner views
it falls back to when even bounded values do not fit."""

from __future__ import annotations

from controlplane.api.codec.workflows import execution_to_proto
from controlplane.api.fitting import (
    INLINE_VALUE_BYTES,
    RESPONSE_LIMIT_BYTES,
    RESPONSE_VALUE_BYTES,
    ValueBudget,
    fit_event,
    fit_execution,
    fit_page,
    value_size,
)
from models.executions import (
    AttemptRecord,
    AttemptStatus,
    ErrorInfo,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.workflows import View


def execution(tasks: dict[str, TaskRecord], outputs: dict | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        "e1", "w", 1, ExecutionStatus.SUCCEEDED, {"n": 1}, 0.0, outputs=outputs, tasks=tasks
    )


def test_values_are_admitted_until_the_budget_is_spent() -> None:
    budget = ValueBudget()
    chunk = "x" * (INLINE_VALUE_BYTES - 10)
    admitted = [budget.omitted(chunk) is None for _ in range(12)]
    assert admitted.count(True) == RESPONSE_VALUE_BYTES // value_size(chunk)
    assert budget.omitted("small") is None  # a small value still fits after a big one did not


def test_a_value_over_the_inline_size_is_left_out_with_its_size() -> None:
    big = "y" * INLINE_VALUE_BYTES
    record = execution({"a": TaskRecord("a", "g", TaskStatus.SUCCEEDED, output=big)}, {"o": big})
    fitted = fit_execution(record, View.FULL, execution_to_proto)
    assert not fitted.tasks[0].HasField("output")
    assert fitted.tasks[0].output_omitted.size_bytes == INLINE_VALUE_BYTES + 2
    assert fitted.outputs_omitted.size_bytes == value_size({"o": big})
    assert dict(fitted.inputs) == {"n": 1}


def test_thousands_of_failed_attempts_fall_back_to_the_latest_one_per_task() -> None:
    error = ErrorInfo("Boom", "z" * 3000)
    attempts = [AttemptRecord(n, AttemptStatus.FAILED, error=error) for n in range(1, 21)]
    tasks = {
        f"t{i}": TaskRecord(f"t{i}", "g", TaskStatus.FAILED, attempts=attempts, error=error)
        for i in range(300)
    }
    fitted = fit_execution(execution(tasks), View.FULL, execution_to_proto)
    assert fitted.ByteSize() <= RESPONSE_LIMIT_BYTES
    assert len(fitted.tasks) == 300
    assert [a.number for a in fitted.tasks[0].attempts] == [20]
    assert fitted.tasks[0].omitted_attempts == 19
    assert len(fitted.tasks[0].error.message) < 400


def test_a_full_page_shares_one_budget_and_falls_back_to_basic_near_the_limit() -> None:
    value = {"v": "q" * (INLINE_VALUE_BYTES - 100)}
    records = [execution({}, value) for _ in range(40)]
    page = fit_page(records, View.FULL, execution_to_proto)
    assert sum(m.ByteSize() for m in page) <= RESPONSE_LIMIT_BYTES
    inline = [m for m in page if m.HasField("outputs")]
    assert len(inline) == RESPONSE_VALUE_BYTES // value_size(value)
    assert all(m.outputs_omitted.size_bytes == value_size(value) for m in page[len(inline) :])


def test_a_large_output_in_an_event_is_replaced_by_its_size() -> None:
    big = {"text": "w" * INLINE_VALUE_BYTES}
    event = Event("e1", 3, EventType.TASK_SUCCEEDED, 0.0, "a", {"output": big})
    assert fit_event(event).details == {"output_omitted": {"size_bytes": value_size(big)}}
    small = Event("e1", 3, EventType.TASK_SUCCEEDED, 0.0, "a", {"output": 1})
    assert fit_event(small) is small
