"""Large definitions are checked in a child process; the answers are the in-process ones,
problems are bounded, and a worker that dies is an UNAVAILABLE answer, then replaced."""

from __future__ import annotations

import asyncio
import json

import pytest

from controlplane.engine.executions.definition_checker import DefinitionChecker
from controlplane.workflow import validate_workflow
from controlplane.workflow.check_worker import MAX_PROBLEMS
from models.errors import Unavailable


def chain(count: int) -> str:
    tasks = [{"id": f"t{i}", "agent": "echo", "depends_on": [f"t{i - 1}"]} for i in range(count)]
    del tasks[0]["depends_on"]
    return json.dumps({"name": "wide", "tasks": tasks})


def test_a_large_definition_gets_the_in_process_answer() -> None:
    async def check() -> None:
        checker = DefinitionChecker(in_process_bytes=1000)
        try:
            text = chain(300)
            definition, problems = await checker.check(text, {"echo"})
            assert definition == validate_workflow(text, {"echo"})[0]
            assert problems == []
            unwanted, _ = await checker.check(text, {"echo"}, wanted=False)
            assert unwanted is None
        finally:
            await checker.close()

    asyncio.run(check())


def test_problems_are_bounded_and_counted() -> None:
    unknown = "".join(f"f{i}: 1\n" for i in range(MAX_PROBLEMS + 500))
    text = f"name: u\ntasks: [{{id: a, agent: echo}}]\n{unknown}"

    async def check() -> None:
        checker = DefinitionChecker(in_process_bytes=1000)
        try:
            definition, problems = await checker.check(text, {"echo"})
            assert definition is None
            assert len(problems) == MAX_PROBLEMS + 1
            assert problems[-1].message == "... and 500 more problems"
        finally:
            await checker.close()

    asyncio.run(check())


def test_a_worker_that_dies_is_unavailable_then_replaced() -> None:
    async def check() -> None:
        checker = DefinitionChecker(in_process_bytes=1000)
        try:
            pending = asyncio.ensure_future(checker.check(chain(100), {"echo"}))
            while checker._worker is None:  # started: it has not answered yet
                await asyncio.sleep(0)
            checker._worker.kill()
            with pytest.raises(Unavailable, match="definition checker stopped"):
                await pending
            definition, _ = await checker.check(chain(100), {"echo"})
            assert definition is not None
        finally:
            await checker.close()

    asyncio.run(check())
