"""Which executions a page of ListExecutions holds, as SQL: newest first, after the position
the previous page ended at (a key, never an offset), so that a page costs the same at any depth
and in any size of store.

The indexes that serve it: `executions_by_namespace_time` for one namespace,
`executions_by_namespace_status` for one namespace and one status, `executions_by_time` for
every namespace. Other filters scan one of these in order and skip what does not match. The
position's condition leads with a range on `create_time` that the index seeks to; the tie on
`execution_id` only filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.store.namespaced_keys import name_of_key_sql
from models.executions import ExecutionStatus
from models.namespaces import qualified_name
from models.security import ALL_NAMESPACES

ORDER = "ORDER BY create_time DESC, execution_id DESC"


@dataclass(frozen=True)
class ExecutionPageKey:
    """Position after the last execution of a page (newest first)."""

    create_time: float
    execution_id: str


def page_condition(
    namespace: str,
    workflow: str,
    statuses: Sequence[ExecutionStatus],
    after: ExecutionPageKey | None,
) -> tuple[str, dict[str, object]]:
    """The WHERE clause ("" for none) and its named parameters of the executions of
    `namespace` (`*`: of every one) of `workflow` ("": any) in `statuses` (none: any) that
    come after `after` in newest-first order."""
    clauses: list[str] = []
    params: dict[str, object] = {}
    if namespace != ALL_NAMESPACES:
        clauses.append("namespace = :namespace")
        params["namespace"] = namespace
        if workflow:
            clauses.append("workflow = :workflow")
            params["workflow"] = qualified_name(namespace, workflow)
    elif workflow:
        clauses.append(f"{name_of_key_sql('workflow')} = :workflow")  # in any namespace
        params["workflow"] = workflow
    if statuses:
        names = [f":status{i}" for i in range(len(statuses))]
        clauses.append(f"status IN ({','.join(names)})")
        params.update({name[1:]: s.value for name, s in zip(names, statuses, strict=True)})
    if after is not None:
        clauses.append(
            "create_time <= :after_time AND (create_time < :after_time OR execution_id < :after_id)"
        )
        params.update(after_time=after.create_time, after_id=after.execution_id)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params
