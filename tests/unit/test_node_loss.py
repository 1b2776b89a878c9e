"""An attempt whose replica went down with its node is lost, not failed: it runs again without
being charged to the retry policy, up to a bound past which a node that keeps dying under the
task counts as the task's failure."""

from __future__ import annotations

from pathlib import Path

from controlplane.app import ControlPlane
from models.backend import AttemptOutcome
from models.executions import AttemptStatus, ErrorInfo, EventType, ExecutionStatus, TaskStatus
from tests.unit.engine_runs import finished, run
from tests.unit.fake_backend import FakeBackend

ONE_TRY = """
name: once
tasks:
  - id: t
    agent: worker
    input: {n: 1}
    retry: {max_attempts: 1}
"""


def node_lost() -> AttemptOutcome:
    return AttemptOutcome(
        ok=False,
        replica_crashed=True,
        node_lost=True,
        error=ErrorInfo("NodeLost", "replica worker.0 went down with its node n2"),
    )


def test_attempts_lost_with_their_node_run_again_uncharged(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.outcomes["worker"] = [node_lost(), node_lost()]
        await cp.catalog.create(ONE_TRY)
        record, _ = await cp.executions.start("once", 0, {}, "")
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.SUCCEEDED  # one allowed attempt, three made
        task = done.tasks["t"]
        assert [a.status for a in task.attempts] == [
            AttemptStatus.LOST,
            AttemptStatus.LOST,
            AttemptStatus.SUCCEEDED,
        ]
        assert task.output == {"n": 1}
        lost = [
            e for e in cp.store.read_events(record.execution_id) if e.type is EventType.ATTEMPT_LOST
        ]
        assert [e.details["attempt"] for e in lost] == [1, 2]
        assert {e.details["error"]["type"] for e in lost} == {"NodeLost"}

    run(body, tmp_path)


def test_a_task_that_keeps_losing_its_node_fails(tmp_path: Path) -> None:
    async def body(cp: ControlPlane, backend: FakeBackend) -> None:
        backend.outcomes["worker"] = [node_lost() for _ in range(4)]
        await cp.catalog.create(ONE_TRY)
        record, _ = await cp.executions.start("once", 0, {}, "")
        done = await finished(cp, record.execution_id)
        assert done.status is ExecutionStatus.FAILED
        task = done.tasks["t"]
        assert task.status is TaskStatus.FAILED
        assert [a.status for a in task.attempts] == [AttemptStatus.LOST] * 3 + [
            AttemptStatus.FAILED
        ]
        assert task.error is not None and task.error.type == "NodeLost"

    run(body, tmp_path)
