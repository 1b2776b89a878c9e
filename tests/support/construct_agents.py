"""Agents for the tests of workflow constructs on real Ray (integration and system tests),
imported by Ray workers (the worktree is on their PYTHONPATH).

Each takes an optional ``calls_file`` in its config and appends one line per call to it,
``"{execution_id} {task_id} {attempt} call"`` (and ``... cancelled`` when a call is
cancelled), so a test counts the calls of every task across replicas, processes and
control-plane restarts. Outputs are functions of the input only (``Reviewer`` with ``timed``
aside), so a recovered run answers what an uninterrupted one would.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from typing import Any

# A gate no test opens ends the wait eventually, so a forgotten replica does not hold forever.
GATE_LIMIT_S = 300.0


def record_call(calls_file: str, context: dict[str, Any], what: str = "call") -> None:
    if not calls_file:
        return
    line = f"{context['execution_id']} {context['task_id']} {context['attempt']} {what}\n"
    # O_APPEND: one short line per write, so replicas in other processes do not interleave.
    fd = os.open(calls_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_calls(calls_file: str, execution_id: str, what: str = "call") -> list[str]:
    """The task ids called (or whose call was cancelled) for `execution_id`, in order."""
    if not os.path.exists(calls_file):
        return []
    with open(calls_file) as lines:
        rows = [line.split() for line in lines]
    return [task for eid, task, _, kind in rows if eid == execution_id and kind == what]


async def wait_for_file(path: str) -> None:
    """Returns once `path` exists (a gate a test opens when it chooses)."""
    deadline = time.monotonic() + GATE_LIMIT_S
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {path} never opened")
        await asyncio.sleep(0.02)


class Worker:
    """Answers its input. ``until_file`` holds the call until that file exists (async, so a
    cancel interrupts it); ``fail: true`` raises RuntimeError."""

    def __init__(self, calls_file: str = "") -> None:
        self.calls_file = calls_file

    async def execute(self, input: Any, context: dict[str, Any]) -> Any:
        record_call(self.calls_file, context)
        data = input if isinstance(input, dict) else {"value": input}
        if data.get("until_file"):
            try:
                await wait_for_file(str(data["until_file"]))
            except asyncio.CancelledError:
                record_call(self.calls_file, context, "cancelled")
                raise
        if data.get("fail"):
            raise RuntimeError(f"{context['task_id']} failed as asked")
        return data


class Reviewer:
    """One item of a fan-out: ``{file, position}`` in, a score derived from the file out, after
    ``delay_s``. With ``timed`` the output also carries the call's wall-clock start and end, so
    a test can count how many items ran at once. Items from position ``hold_from`` on wait
    until ``until_file`` exists."""

    def __init__(self, calls_file: str = "", delay_s: float = 0.0, timed: bool = False) -> None:
        self.calls_file = calls_file
        self.delay_s = float(delay_s)
        self.timed = bool(timed)

    async def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        record_call(self.calls_file, context)
        started = time.time()
        hold_from = input.get("hold_from")
        if hold_from is not None and 0 <= hold_from <= input["position"]:
            await wait_for_file(str(input["until_file"]))
        await asyncio.sleep(self.delay_s)
        output: dict[str, Any] = {
            "file": input["file"],
            "position": input["position"],
            "score": score(str(input["file"])),
        }
        if self.timed:
            output.update(started=started, ended=time.time())
        return output


def score(file: str) -> int:
    return int(hashlib.sha256(file.encode()).hexdigest()[:4], 16) % 100


class Reviser:
    """The body of a revise-until-approved loop: iteration ``round`` is approved once it
    reaches ``approve_at``, and says what it revised (``previous``). Iteration ``hold_round``
    waits until ``until_file`` exists."""

    def __init__(self, calls_file: str = "") -> None:
        self.calls_file = calls_file

    async def execute(self, input: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        record_call(self.calls_file, context)
        round_ = int(input["round"])
        if round_ == input.get("hold_round") and input.get("until_file"):
            await wait_for_file(str(input["until_file"]))
        return {
            "round": round_,
            "approved": round_ >= int(input["approve_at"]),
            "revised": input.get("previous"),
        }
