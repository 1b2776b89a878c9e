"""The generic replica actor: hosts one instance of a user's agent class inside a Ray actor.

``AgentReplica`` is a plain class; ``AgentReplicaActor`` is its Ray actor class (async actor).
``health`` and ``info`` run in their own concurrency group so that a replica whose attempt slots
are all busy still answers health checks promptly.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import traceback
from typing import Any

import ray

from models.failures import exception_summary
from ray_backend.agent_threads import AgentThreads
from ray_backend.attempt_context import AttemptContext, AttemptKey, HeardSince, ReplicaHeartbeats
from ray_backend.external.errors import ExternalAgentError, Pending

CONTROL_GROUP = "control"
# Attempts the agent runs asynchronously, waited for without holding an execute slot.
WAIT_GROUP = "wait"
WAIT_CONCURRENCY = 1000
# How long a cancelled attempt waits for the agent's cancel(context).
CANCEL_TIMEOUT_S = 10.0
# Envelope keys of what ``execute`` returns to the backend.
OK = "ok"
OUTPUT = "output"
ERROR_TYPE = "error_type"
ERROR_MESSAGE = "error_message"
ERROR_TRACEBACK = "error_traceback"
HEARTBEATS = "heartbeats"  # the attempt's final heartbeats (attempt_context.FinalBeats)
ERROR_RETRYABLE = "error_retryable"
RETRY_AFTER_S = "retry_after_s"
# The attempt goes on asynchronously: its outcome comes from ``wait(token, context)``.
PENDING = "pending"
# The attempt was cancelled inside a batch (see ``execute_batch``).
CANCELLED = "cancelled"
# Cancels of batched attempts remembered for a batch that has not started them yet.
EARLY_CANCELS_KEPT = 1024

logger = logging.getLogger(__name__)


class AgentStartFailed(Exception):
    """The replica could not build the user's agent; the message is a one-line summary with
    the root cause first. Raised from the original exception, so the traceback Ray reports
    holds the user's frames too."""


class AgentImportFailed(AgentStartFailed):
    """The agent class could not be imported (its module, or the class in it)."""


class AgentInitFailed(AgentStartFailed):
    """The agent class was imported but building it failed (its constructor raised, or it has
    no execute method)."""


def load_class(import_path: str) -> type:
    """Imports ``"package.module:ClassName"`` (``"package.module.ClassName"`` also accepted)."""
    if ":" in import_path:
        module_name, _, attr = import_path.partition(":")
    else:
        module_name, _, attr = import_path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"invalid import path {import_path!r}; expected 'package.module:Class'")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ImportError(f"{module_name!r} has no attribute {part!r}")
        target = getattr(target, part)
    if not isinstance(target, type):
        raise TypeError(f"{import_path!r} is not a class")
    return target


class AgentReplica:
    """One replica of an agent: the user's object plus a small control surface."""

    def __init__(
        self,
        import_path: str,
        config: dict[str, Any],
        *,
        agent: str = "",
        version: str = "",
        spec_hash: str = "",
        max_concurrency: int = 1,
    ) -> None:
        self._agent = agent
        self._version = version
        self._spec_hash = spec_hash
        self._import_path = import_path
        try:
            cls = load_class(import_path)
        except Exception as exc:
            raise AgentImportFailed(exception_summary(exc, skip_files=[__file__])) from exc
        try:
            self._impl = cls(**(config or {}))
            execute = getattr(self._impl, "execute", None)
            if execute is None or not callable(execute):
                raise TypeError(f"{import_path} has no execute(input, context) method")
        except Exception as exc:
            raise AgentInitFailed(exception_summary(exc, skip_files=[__file__])) from exc
        self._execute = execute
        self._execute_is_async = inspect.iscoroutinefunction(execute)
        self._health = getattr(self._impl, "health", None)
        self._heartbeats = ReplicaHeartbeats()
        # Sync agents run on these threads so that up to max_concurrency attempts overlap.
        self._threads = AgentThreads(max_concurrency)
        # Attempts running in a batch, by key: their loop and task (for cancel_attempts).
        self._batched: dict[AttemptKey, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}
        # Attempts cancelled before (or while) their batch started them, oldest first.
        self._cancelled_early: dict[AttemptKey, None] = {}

    async def execute(self, input: Any, context: dict[str, Any]) -> dict[str, Any]:
        """Runs one attempt; user exceptions come back in the envelope (cancellation does not:
        it calls the agent's ``cancel(context)`` first, when it has one)."""
        return await self._heartbeating(self._execute, self._execute_is_async, input, context)

    async def execute_batch(self, calls: list[tuple[Any, dict[str, Any]]]) -> list[Any]:
        """Runs several attempts at once, as many ``execute`` calls would (the control plane
        sends together the attempts it starts at the same moment, which saves a Ray call
        each). Returns their envelopes in order; an attempt cancelled through
        ``cancel_attempts`` gets a ``CANCELLED`` envelope, which nobody waits for."""
        loop = asyncio.get_running_loop()
        tasks = []
        for input, context in calls:
            key = _key_of(context)
            task = loop.create_task(self.execute(input, context))
            self._batched[key] = (loop, task)
            if key in self._cancelled_early:  # (after registering: see cancel_attempts)
                task.cancel()
            tasks.append(task)
        try:
            answers = await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for _, context in calls:
                key = _key_of(context)
                self._batched.pop(key, None)
                self._cancelled_early.pop(key, None)
        return [_batch_envelope(answer) for answer in answers]

    @ray.method(concurrency_group=CONTROL_GROUP)
    def cancel_attempts(self, keys: list[AttemptKey]) -> int:
        """Cancels attempts running in a batch (a Ray cancel would stop the whole batch);
        returns how many were found."""
        found = 0
        for listed in keys:
            key: AttemptKey = (str(listed[0]), str(listed[1]), int(listed[2]))
            # Noted first, looked up second: a batch that registers the attempt meanwhile
            # sees the note, so the cancel is never lost between the two threads.
            self._cancelled_early[key] = None
            while len(self._cancelled_early) > EARLY_CANCELS_KEPT:
                try:  # (a batch on the other thread may drop entries meanwhile)
                    self._cancelled_early.pop(next(iter(self._cancelled_early)), None)
                except (RuntimeError, StopIteration):
                    break
            entry = self._batched.get(key)
            if entry is not None:
                loop, task = entry
                loop.call_soon_threadsafe(task.cancel)  # the control group has its own loop
                found += 1
        return found

    async def _heartbeating(
        self, fn: Any, is_async: bool, first: Any, context: dict[str, Any]
    ) -> dict[str, Any]:
        """`fn(first, context)` with a context that heartbeats; the heartbeats made after the
        relay's last question come back in the envelope."""
        key = _key_of(context)
        attempt_context = AttemptContext(context, self._heartbeats.open(key))
        try:
            envelope = await self._attempt(fn, is_async, (first, attempt_context))
        finally:
            final = self._heartbeats.close(key)
        if final is not None:
            envelope[HEARTBEATS] = final
        return envelope

    @ray.method(concurrency_group=CONTROL_GROUP)
    def heartbeats(self, known: dict[AttemptKey, int]) -> dict[AttemptKey, HeardSince]:
        """What the attempts in `known` heartbeated since the sequence given for each."""
        return self._heartbeats.since(known)

    @ray.method(concurrency_group=WAIT_GROUP)
    async def wait(self, token: Any, context: dict[str, Any]) -> dict[str, Any]:
        """The outcome of an attempt whose ``execute`` returned ``Pending(token)``; its
        context heartbeats as execute's did (an HTTP agent's progress in its status answers)."""
        wait = getattr(self._impl, "wait", None)
        if wait is None or not callable(wait):
            return _failure(TypeError(f"{self._import_path} has no wait(token, context) method"))
        return await self._heartbeating(wait, inspect.iscoroutinefunction(wait), token, context)

    async def _attempt(self, fn: Any, is_async: bool, args: tuple[Any, Any]) -> dict[str, Any]:
        try:
            if is_async:
                output = await fn(*args)
            else:
                output = await self._threads.run(fn, *args)
        except asyncio.CancelledError:
            await self._cancel(args[1])
            raise
        except Exception as exc:
            return _failure(exc)
        if isinstance(output, Pending):
            return {OK: False, PENDING: output.token}
        return {OK: True, OUTPUT: output}

    async def _cancel(self, context: dict[str, Any]) -> None:
        """Tells the agent its attempt is cancelled (bounded; its failure is only logged)."""
        cancel = getattr(self._impl, "cancel", None)
        if cancel is None or not callable(cancel):
            return
        try:
            if inspect.iscoroutinefunction(cancel):
                await asyncio.wait_for(cancel(context), CANCEL_TIMEOUT_S)
            else:
                await asyncio.wait_for(asyncio.to_thread(cancel, context), CANCEL_TIMEOUT_S)
        except Exception:
            logger.warning("cancel(context) of %s failed", self._import_path, exc_info=True)

    @ray.method(concurrency_group=CONTROL_GROUP)
    async def health(self) -> dict[str, Any]:
        if self._health is None or not callable(self._health):
            return {"ok": True}
        if inspect.iscoroutinefunction(self._health):
            result = await self._health()
        else:
            result = self._health()
        if isinstance(result, dict):
            return {"ok": True, **result}
        return {"ok": bool(result) if result is not None else True}

    @ray.method(concurrency_group=CONTROL_GROUP)
    def info(self) -> dict[str, Any]:
        return {
            "agent": self._agent,
            "version": self._version,
            "spec_hash": self._spec_hash,
            "import_path": self._import_path,
            "pid": os.getpid(),
            "node_id": ray.get_runtime_context().get_node_id(),
        }


def _key_of(context: dict[str, Any]) -> AttemptKey:
    return (str(context.get("execution_id")), str(context.get("task_id")), context["attempt"])


def _batch_envelope(answer: Any) -> Any:
    if isinstance(answer, asyncio.CancelledError):
        return {OK: False, CANCELLED: True, ERROR_TYPE: "Cancelled", ERROR_MESSAGE: "cancelled"}
    if isinstance(answer, BaseException):  # a bug of the replica itself, reported as execute's
        return _failure(answer) if isinstance(answer, Exception) else _failure(RuntimeError(answer))
    return answer


def _failure(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ExternalAgentError):
        return {
            OK: False,
            ERROR_TYPE: exc.error_type,
            ERROR_MESSAGE: exc.message,
            ERROR_RETRYABLE: exc.retryable,
            RETRY_AFTER_S: exc.retry_after_s,
        }
    return {
        OK: False,
        ERROR_TYPE: type(exc).__name__,
        ERROR_MESSAGE: str(exc),
        ERROR_TRACEBACK: "".join(traceback.format_exception(exc, limit=20)),
    }


# Ray's typing stubs do not list concurrency_groups among ray.remote's keyword arguments.
AgentReplicaActor = ray.remote(  # type: ignore[call-overload]
    concurrency_groups={CONTROL_GROUP: 4, WAIT_GROUP: WAIT_CONCURRENCY}
)(AgentReplica)
