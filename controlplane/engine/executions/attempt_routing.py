"""Where the attempts of a task go: to the agent it names in its execution's namespace (each
namespace's `coder` is its own), and not to the version its last attempt failed on."""

from __future__ import annotations

from collections.abc import Iterable

from models.executions import AttemptStatus, TaskRecord
from models.namespaces import namespace_or_default, qualified_name, split_qualified

RETRY_ELSEWHERE = frozenset({AttemptStatus.FAILED, AttemptStatus.TIMED_OUT})


def agent_key(namespace: str, agent: str) -> str:
    """The registry's key of the agent `agent` of `namespace` (empty: default)."""
    return qualified_name(namespace_or_default(namespace), agent)


def agents_of(namespace: str, keys: Iterable[str]) -> set[str]:
    """The names of the agents of `namespace` among the registry's `keys`: the agents a task
    of that namespace may name."""
    namespace = namespace_or_default(namespace)
    return {name for owner, name in map(split_qualified, keys) if owner == namespace}


def failed_on(task: TaskRecord) -> str:
    """The agent version the task's last attempt failed on ("" if none did): during a canary,
    its retry goes to the stable version."""
    if task.attempts and task.attempts[-1].status in RETRY_ELSEWHERE:
        return task.attempts[-1].agent_version
    return ""
