"""Parses and validates workflow definitions away from the event loop.

Small texts are checked in a worker thread. A large one (up to a megabyte of YAML with
thousands of tasks, or a hostile text built to cost the most the loader's budget allows) is
checked in a separate process: in a thread it would hold the GIL for hundreds of milliseconds,
and every RPC the event loop serves meanwhile, health checks included, would wait for it. The
process is a plain `python -m` child rather than a multiprocessing pool, which would re-import
the embedding program's main script in the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import sys

from controlplane.workflow import validate_workflow
from controlplane.workflow.check_worker import HEADER, bounded
from models.errors import Unavailable
from models.limits import DEFAULT_LIMITS, WorkflowLimits
from models.workflows import Severity, ValidationProblem, WorkflowDefinition

log = logging.getLogger(__name__)

# Below this, parsing takes a few milliseconds: not worth a process round trip.
IN_PROCESS_BYTES = 16 << 10

Checked = tuple[WorkflowDefinition | None, list[ValidationProblem]]


class DefinitionChecker:
    def __init__(
        self, in_process_bytes: int = IN_PROCESS_BYTES, limits: WorkflowLimits = DEFAULT_LIMITS
    ) -> None:
        self._in_process_bytes = in_process_bytes
        self._limits = limits
        self._worker: asyncio.subprocess.Process | None = None
        self._one_at_a_time = asyncio.Lock()

    async def check(
        self,
        text: str,
        agents: set[str],
        wanted: bool = True,
        workflows: set[str] | None = None,
        limits: WorkflowLimits | None = None,
    ) -> Checked:
        """(the definition if valid and `wanted`, every problem: at most 1,000 and a count).
        With `workflows`, a child workflow outside it is an error. `limits` replaces the
        checker's own for this text."""
        limits = limits or self._limits
        if len(text) < self._in_process_bytes:
            definition, problems = await asyncio.to_thread(
                validate_workflow, text, agents, Severity.WARNING, workflows, limits=limits
            )
            return definition, bounded(problems)
        async with self._one_at_a_time:
            try:
                return await self._in_worker(text, agents, wanted, workflows, limits)
            except (EOFError, ConnectionError, asyncio.IncompleteReadError) as exc:
                log.error("the definition checker process stopped (%s); starting a new one", exc)
                await self._stop_worker()
                raise Unavailable("the definition checker stopped while checking; retry") from None

    async def _in_worker(
        self,
        text: str,
        agents: set[str],
        wanted: bool,
        workflows: set[str] | None,
        limits: WorkflowLimits,
    ) -> Checked:
        if self._worker is None or self._worker.returncode is not None:
            self._worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "controlplane.workflow.check_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        worker = self._worker
        assert worker.stdin is not None and worker.stdout is not None
        request = pickle.dumps(
            (text, agents, wanted, workflows, limits), protocol=pickle.HIGHEST_PROTOCOL
        )
        worker.stdin.write(HEADER.pack(len(request)) + request)
        await worker.stdin.drain()
        (length,) = HEADER.unpack(await worker.stdout.readexactly(HEADER.size))
        answer = await worker.stdout.readexactly(length)
        # In a thread: the loop keeps its turns at the GIL while thousands of tasks unpickle.
        definition, problems = await asyncio.to_thread(pickle.loads, answer)
        return definition, problems

    async def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None and worker.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
            await worker.wait()

    async def close(self) -> None:
        worker = self._worker
        if worker is not None and worker.stdin is not None:
            worker.stdin.close()  # the worker ends at the end of its input
        await self._stop_worker()
