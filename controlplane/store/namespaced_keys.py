"""How the store keys what belongs to a namespace, and the one move of a data dir written before
namespaces to these keys.

Workflow revisions and schedules are keyed `qualified_name(namespace, name)` (the bare name in
`default`), and an execution's `workflow` column holds its workflow's key. An execution's
`request_id` column holds `request_key(namespace, request_id)`, so the same idempotency key
in two namespaces starts two executions.
"""

from __future__ import annotations

import sqlite3

from models.security import DEFAULT_NAMESPACE


def request_key(namespace: str, request_id: str) -> str:
    """The `request_id` column of an execution: the bare id in `default` (as before
    namespaces), `namespace/id` otherwise. A default id with a `/` is prefixed too, so that
    no two (namespace, id) pairs share a key (a namespace has no `/`)."""
    if namespace == DEFAULT_NAMESPACE and "/" not in request_id:
        return request_id
    return f"{namespace}/{request_id}"


def request_id_of(key: str, namespace: str) -> str:
    """The request id a `request_key` of `namespace` was made from."""
    return key.removeprefix(f"{namespace}/")


# Namespaces whose rows were written before namespaces keyed them: executions started there
# (their workflow column is a bare name) and schedules whose executions ran there.
_LEGACY_NAMESPACES = """
SELECT DISTINCT namespace FROM executions
    WHERE namespace != 'default' AND instr(workflow, '/') = 0
UNION
SELECT DISTINCT json_extract(spec, '$.namespace') FROM schedules
    WHERE instr(name, '/') = 0 AND json_extract(spec, '$.namespace') NOT IN ('', 'default')
"""
# Before namespaces every namespace ran the one catalog, which is `default`'s now: a namespace
# that has data from then gets its own copy, so what ran there runs on (and starts) as before.
_COPY_CATALOG = """
INSERT OR IGNORE INTO workflow_revisions
    SELECT ? || '/' || name, revision, definition, digest, create_time
    FROM workflow_revisions WHERE instr(name, '/') = 0
"""
_MOVES = (
    # Default's ids with a '/' first: the keys they free may be taken by the next statement.
    """UPDATE executions SET request_id = 'default/' || request_id
        WHERE namespace = 'default' AND instr(request_id, '/') > 0
        AND request_id NOT LIKE 'default/%'""",
    """UPDATE executions SET workflow = namespace || '/' || workflow,
        request_id = CASE WHEN request_id IS NULL THEN NULL
                          ELSE namespace || '/' || request_id END
        WHERE namespace != 'default' AND instr(workflow, '/') = 0""",
    """UPDATE schedules SET name = json_extract(spec, '$.namespace') || '/' || name
        WHERE instr(name, '/') = 0 AND json_extract(spec, '$.namespace') NOT IN ('', 'default')""",
)


def _exists(conn: sqlite3.Connection, table: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,))
    return found.fetchone() is not None


def move_to_namespaced_keys(conn: sqlite3.Connection) -> None:
    """Moves the rows of a data dir written before namespaces to namespaced keys (a migration
    step: its caller holds the transaction). Only rows keyed the old way change."""
    if not (_exists(conn, "executions") and _exists(conn, "workflow_revisions")):
        return
    with_schedules = _exists(conn, "schedules")
    legacy = _LEGACY_NAMESPACES if with_schedules else _LEGACY_NAMESPACES.split("UNION")[0]
    for (namespace,) in conn.execute(legacy).fetchall():
        conn.execute(_COPY_CATALOG, (namespace,))
    for statement in _MOVES if with_schedules else _MOVES[:2]:
        conn.execute(statement)


def namespace_of_key_sql(column: str) -> str:
    """SQL: the namespace of a key `qualified_name` made, held in `column`."""
    slash = f"instr({column}, '/')"
    return f"(CASE {slash} WHEN 0 THEN 'default' ELSE substr({column}, 1, {slash} - 1) END)"


def name_of_key_sql(column: str) -> str:
    """SQL: the name of a key `qualified_name` made, held in `column`."""
    return f"substr({column}, instr({column}, '/') + 1)"
