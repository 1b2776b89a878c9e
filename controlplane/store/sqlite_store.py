"""SQLite (WAL) store: workflow revisions, agents, executions, tasks, attempts and events.

Reads use one connection on the caller's thread; writes go through `write()` on a second
connection, used only by the StoreWriter thread, one transaction per call.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from controlplane.store.agent_keys import key_condition
from controlplane.store.agent_rows import put_agent_statement
from controlplane.store.audit_events import AUDIT_SCHEMA
from controlplane.store.codec import (
    load,
    load_agent_spec,
    load_error,
)
from controlplane.store.credentials_schema import CREDENTIALS_SCHEMA
from controlplane.store.earlier_attempts import SCHEMA as EARLIER_ATTEMPTS_SCHEMA
from controlplane.store.earlier_attempts import attach_earlier_attempts
from controlplane.store.execution_pages import ORDER as PAGE_ORDER
from controlplane.store.execution_pages import ExecutionPageKey, page_condition
from controlplane.store.heartbeats import SCHEMA as HEARTBEAT_SCHEMA
from controlplane.store.heartbeats import UPSERT_HEARTBEAT, attach_heartbeats
from controlplane.store.migrations import migrate
from controlplane.store.namespaced_keys import (
    name_of_key_sql,
    namespace_of_key_sql,
    request_id_of,
    request_key,
)
from controlplane.store.retention import RETENTION_SCHEMA
from controlplane.store.schema import SCHEMA, SCHEMA_VERSION
from controlplane.store.write_batch import WriteBatch
from models.agents import AgentRecord
from models.executions import (
    AttemptRecord,
    AttemptStatus,
    Event,
    EventType,
    ExecutionRecord,
    ExecutionStatus,
    TaskRecord,
    TaskStatus,
)
from models.namespaces import qualified_name, split_qualified
from models.security import ALL_NAMESPACES
from models.workflows import WorkflowRevision

UPSERT_EXECUTION = """
INSERT INTO executions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (execution_id) DO UPDATE SET status=excluded.status, outputs=excluded.outputs,
  error=excluded.error, start_time=excluded.start_time, end_time=excluded.end_time,
  last_sequence=excluded.last_sequence, paused=excluded.paused, inputs=excluded.inputs
"""
UPSERT_TASK = """
INSERT INTO tasks VALUES (?,?,?,?,?,?,?)
ON CONFLICT (execution_id, task_id) DO UPDATE SET status=excluded.status,
  output=excluded.output, error=excluded.error
"""
UPSERT_ATTEMPT = """
INSERT INTO attempts VALUES (?,?,?,?,?,?,?,?,?)
ON CONFLICT (execution_id, task_id, number) DO UPDATE SET status=excluded.status,
  replica=excluded.replica, agent_version=excluded.agent_version, end_time=excluded.end_time,
  error=excluded.error
"""
INSERT_EVENT = "INSERT INTO events VALUES (?,?,?,?,?,?)"

ACTIVE_STATUSES = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SqliteStore:
    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        """`synchronous=FULL` makes every commit survive power loss, not only a process kill."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = _connect(path, synchronous)
        try:
            migrate(
                self._writer,
                SCHEMA
                + HEARTBEAT_SCHEMA
                + EARLIER_ATTEMPTS_SCHEMA
                + CREDENTIALS_SCHEMA
                + AUDIT_SCHEMA
                + RETENTION_SCHEMA,
                path,
            )
        except BaseException:
            self._writer.close()
            raise
        self._reader = _connect(path, synchronous)
        self._write_lock = threading.Lock()
        self._decoded_agents: dict[str, tuple[tuple[Any, ...], AgentRecord]] = {}

    def close(self) -> None:
        self._reader.close()
        self._writer.close()

    # -- writes ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer connection. A failure anywhere, the COMMIT
        included (disk full), rolls back: a transaction left open would make every later BEGIN
        fail, even once space is back."""
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                    conn.execute("ROLLBACK")
                raise

    def probe(self) -> None:
        """A small committed write (the header's user_version, rewritten as it is): raises what
        any write meets now. It appends to the WAL like any other write, so a full disk fails
        it."""
        with self._write_lock:
            self._writer.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def write(self, batch: WriteBatch) -> None:
        """Applies a batch in one transaction (rows later in the batch win)."""
        with self._transaction() as conn:
            conn.executemany(UPSERT_EXECUTION, batch.executions)
            conn.executemany(UPSERT_TASK, batch.tasks)
            conn.executemany(UPSERT_ATTEMPT, batch.attempts)
            conn.executemany(INSERT_EVENT, batch.events)
            conn.executemany(UPSERT_HEARTBEAT, batch.heartbeats)
            for sql, params in batch.statements:
                conn.execute(sql, params)

    def add_workflow_revision(
        self, namespace: str, name: str, definition: str, digest: str, now: float
    ) -> tuple[WorkflowRevision, bool]:
        """Stores a new revision unless the latest one has the same digest."""
        key = qualified_name(namespace, name)
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT * FROM workflow_revisions WHERE name=? ORDER BY revision DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is not None and row[3] == digest:
                return _revision(row), False
            revision = 1 if row is None else row[1] + 1
            conn.execute(
                "INSERT INTO workflow_revisions VALUES (?,?,?,?,?)",
                (key, revision, definition, digest, now),
            )
        return WorkflowRevision(name, revision, definition, digest, now, namespace), True

    def put_agent(self, record: AgentRecord) -> None:
        with self._write_lock:
            self._writer.execute(*put_agent_statement(record))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in its own transaction (for small tables written rarely)."""
        with self._write_lock:
            self._writer.execute(sql, params)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Several statements in one transaction (all or nothing)."""
        with self._transaction() as conn:
            for sql, params in statements:
                conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._reader.execute(sql, params).fetchall())

    def delete_agent(self, name: str) -> None:
        with self._write_lock:
            self._writer.execute("DELETE FROM agents WHERE name=?", (name,))

    # -- workflows ------------------------------------------------------------------------

    def get_workflow_revision(
        self, namespace: str, name: str, revision: int = 0
    ) -> WorkflowRevision | None:
        key = qualified_name(namespace, name)
        if revision:
            row = self._reader.execute(
                "SELECT * FROM workflow_revisions WHERE name=? AND revision=?", (key, revision)
            ).fetchone()
        else:
            row = self._reader.execute(
                "SELECT * FROM workflow_revisions WHERE name=? ORDER BY revision DESC LIMIT 1",
                (key,),
            ).fetchone()
        return None if row is None else _revision(row)

    def list_latest_revisions(
        self, namespace: str, after: str, limit: int
    ) -> list[WorkflowRevision]:
        """The latest revision of each workflow of `namespace` (or of every one: `*`), in the
        order of "namespace/name", after that position `after`."""
        position = f"{namespace_of_key_sql('name')} || '/' || {name_of_key_sql('name')}"
        where = f"{position} > :after"
        if namespace != ALL_NAMESPACES:
            where += f" AND {namespace_of_key_sql('name')} = :namespace"
        rows = self._reader.execute(
            "SELECT w.* FROM workflow_revisions w JOIN (SELECT name, MAX(revision) AS r, "
            f"{position} AS position FROM workflow_revisions WHERE {where} GROUP BY name) m "
            "ON w.name = m.name AND w.revision = m.r ORDER BY m.position LIMIT :limit",
            {"namespace": namespace, "after": after, "limit": limit},
        ).fetchall()
        return [_revision(row) for row in rows]

    # -- agents ---------------------------------------------------------------------------

    def get_agent(self, name: str) -> AgentRecord | None:
        row = self._reader.execute("SELECT * FROM agents WHERE name=?", (name,)).fetchone()
        if row is None:
            self._decoded_agents.pop(name, None)
            return None
        # Read for every attempt: the spec is decoded again only when its row changed.
        known = self._decoded_agents.get(name)
        if known is not None and known[0] == row:
            return known[1]
        record = _agent(row)
        self._decoded_agents[name] = (row, record)
        return record

    def list_agents(
        self, after_name: str = "", limit: int = 1_000_000, namespace: str = ALL_NAMESPACES
    ) -> list[AgentRecord]:
        """Agents by key after `after_name`, of `namespace` (by default of every one)."""
        condition, params = key_condition("name", namespace)
        rows = self._reader.execute(
            f"SELECT * FROM agents WHERE name > ? AND {condition} ORDER BY name LIMIT ?",
            (after_name, *params, limit),
        ).fetchall()
        return [_agent(row) for row in rows]

    # -- executions -----------------------------------------------------------------------

    def find_execution_id(self, namespace: str, request_id: str) -> str | None:
        """The execution `request_id` started in `namespace`."""
        row = self._reader.execute(
            "SELECT execution_id FROM executions WHERE request_id=?",
            (request_key(namespace, request_id),),
        ).fetchone()
        return None if row is None else str(row[0])

    def execution_namespace(self, execution_id: str) -> str | None:
        """The execution's namespace (None: no such execution)."""
        row = self._reader.execute(
            "SELECT namespace FROM executions WHERE execution_id=?", (execution_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    def load_execution(
        self, execution_id: str, inline_limit: int | None = None
    ) -> ExecutionRecord | None:
        """The execution with its tasks. With `inline_limit`, a value whose JSON text is longer
        is not read at all: it comes back as None with its size in `*_omitted`."""
        if inline_limit is None:
            row = self._reader.execute(
                "SELECT * FROM executions WHERE execution_id=?", (execution_id,)
            ).fetchone()
            if row is None:
                return None
            execution = _execution(row)
            self._attach_tasks(execution)
            return execution
        row = self._reader.execute(
            f"{SELECT_EXECUTION_CUT} WHERE execution_id=:id",
            {"id": execution_id, "inline": inline_limit},
        ).fetchone()
        if row is None:
            return None
        execution = _execution_cut(row)
        self._attach_tasks(execution, inline_limit)
        return execution

    def value_text(
        self, execution_id: str, column: str, task_id: str = ""
    ) -> tuple[str, str | None] | None:
        """(the owner's status, the stored JSON text or None) of an execution's `inputs` or
        `outputs`, or of a task's `output` (`column`), without decoding it; None when the
        execution (or the task) does not exist."""
        if column == "output":
            row = self._reader.execute(
                "SELECT status, output FROM tasks WHERE execution_id=? AND task_id=?",
                (execution_id, task_id),
            ).fetchone()
        else:
            assert column in ("inputs", "outputs"), column
            row = self._reader.execute(
                f"SELECT status, {column} FROM executions WHERE execution_id=?", (execution_id,)
            ).fetchone()
        return None if row is None else (str(row[0]), None if row[1] is None else str(row[1]))

    def execution_progress(self, execution_id: str) -> tuple[ExecutionStatus, int] | None:
        """Status and last event sequence only (what a watcher polls), without the tasks."""
        row = self._reader.execute(
            "SELECT status, last_sequence FROM executions WHERE execution_id=?", (execution_id,)
        ).fetchone()
        return None if row is None else (ExecutionStatus(row[0]), int(row[1]))

    def workflow_names(self, namespace: str) -> set[str]:
        """The names of the workflows of `namespace`."""
        rows = self._reader.execute(
            f"SELECT DISTINCT {name_of_key_sql('name')} FROM workflow_revisions "
            f"WHERE {namespace_of_key_sql('name')} = ?",
            (namespace,),
        ).fetchall()
        return {str(row[0]) for row in rows}

    def parent_of(self, execution_id: str) -> str:
        """The execution's parent ("" for none, or an unknown execution)."""
        row = self._reader.execute(
            "SELECT parent_execution_id FROM executions WHERE execution_id=?", (execution_id,)
        ).fetchone()
        return "" if row is None else str(row[0])

    def load_active_executions(self) -> list[ExecutionRecord]:
        rows = self._reader.execute(
            "SELECT * FROM executions WHERE status IN (?, ?) ORDER BY create_time",
            ACTIVE_STATUSES,
        ).fetchall()
        executions = [_execution(row) for row in rows]
        for execution in executions:
            self._attach_tasks(execution)
        return executions

    def list_executions(
        self,
        namespace: str,
        workflow: str,
        statuses: Sequence[ExecutionStatus],
        after: ExecutionPageKey | None,
        limit: int,
        inline_limit: int | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first, without tasks, of `namespace` (`*`: of every one); values longer
        than `inline_limit` left out with their size, as in `load_execution`."""
        where, params = page_condition(namespace, workflow, statuses, after)
        rows = self._reader.execute(
            f"{SELECT_EXECUTION_CUT} {where} {PAGE_ORDER} LIMIT :limit",
            {**params, "limit": limit, "inline": inline_limit},
        ).fetchall()
        return [_execution_cut(row) for row in rows]

    def read_events(
        self,
        execution_id: str,
        from_sequence: int = 1,
        limit: int = 1000,
        of_type: EventType | None = None,
    ) -> list[Event]:
        typed = "" if of_type is None else " AND type=?"
        rows = self._reader.execute(
            f"SELECT * FROM events WHERE execution_id=? AND sequence>=?{typed} "
            "ORDER BY sequence LIMIT ?",
            (execution_id, from_sequence, *(() if of_type is None else (of_type.value,)), limit),
        ).fetchall()
        return [_event(row) for row in rows]

    def last_event(self, execution_id: str, type_: EventType) -> Event | None:
        """The execution's latest event of one type (None when it has none)."""
        row = self._reader.execute(
            "SELECT * FROM events WHERE execution_id=? AND type=? ORDER BY sequence DESC LIMIT 1",
            (execution_id, type_.value),
        ).fetchone()
        return None if row is None else _event(row)

    def _attach_tasks(self, execution: ExecutionRecord, inline_limit: int | None = None) -> None:
        eid = execution.execution_id
        cut = inline_limit is not None
        query = (
            f"SELECT task_id, agent, status, {_cut('output')}, error, depends_on FROM tasks "
            "WHERE execution_id=:id ORDER BY rowid"
            if cut
            else "SELECT task_id, agent, status, output, NULL, error, depends_on FROM tasks "
            "WHERE execution_id=:id ORDER BY rowid"
        )
        for row in self._reader.execute(query, {"id": eid, "inline": inline_limit}):
            execution.tasks[row[0]] = TaskRecord(
                task_id=row[0],
                agent=row[1],
                status=TaskStatus(row[2]),
                output=load(row[3]),
                output_omitted=_omitted(row[3], row[4]),
                error=load_error(row[5]),
                depends_on=tuple(load(row[6])),
            )
        for row in self._reader.execute(
            "SELECT * FROM attempts WHERE execution_id=? ORDER BY task_id, number", (eid,)
        ):
            execution.tasks[row[1]].attempts.append(_attempt(row))
        attach_earlier_attempts(self._reader, execution)
        if inline_limit != 0:  # 0: states only (no value is read)
            attach_heartbeats(self._reader, execution)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        execution_id=row[0],
        sequence=row[1],
        type=EventType(row[2]),
        task_id=row[3],
        time=row[4],
        details=load(row[5]),
    )


def _revision(row: tuple[Any, ...]) -> WorkflowRevision:
    key, revision, definition, digest, create_time = row
    namespace, name = split_qualified(str(key))
    return WorkflowRevision(
        name, int(revision), str(definition), str(digest), float(create_time), namespace
    )


def _agent(row: tuple[Any, ...]) -> AgentRecord:
    return AgentRecord(
        spec=load_agent_spec(str(row[1])),
        create_time=float(row[2]),
        update_time=float(row[3]),
    )


def _execution(row: tuple[Any, ...]) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=str(row[0]),
        workflow=split_qualified(str(row[1]))[1],
        revision=int(row[2]),
        status=ExecutionStatus(row[3]),
        inputs=load(row[4]),
        outputs=load(row[5]),
        error=load_error(row[6]),
        request_id=request_id_of(str(row[7] or ""), str(row[12])),
        create_time=float(row[8]),
        start_time=row[9],
        end_time=row[10],
        last_sequence=int(row[11]),
        namespace=str(row[12]),
        paused=bool(row[13]),
        parent_execution_id=str(row[14]),
    )


def _cut(column: str) -> str:
    """The column's JSON text if it is at most :inline bytes (else NULL), and its length in
    bytes: as a blob, which SQLite measures without counting characters (the text is ASCII)."""
    size = f"length(CAST({column} AS BLOB))"
    return f"CASE WHEN {size} > :inline THEN NULL ELSE {column} END, {size}"


SELECT_EXECUTION_CUT = (
    "SELECT execution_id, workflow, revision, status, "
    f"{_cut('inputs')}, {_cut('outputs')}, error, request_id, create_time, start_time, "
    "end_time, last_sequence, namespace, paused, parent_execution_id FROM executions"
)


def _omitted(text: str | None, length: int | None) -> int | None:
    """The size of a value the query left out; None when it was read (or there is none)."""
    return None if text is not None or length is None else int(length)


def _execution_cut(row: tuple[Any, ...]) -> ExecutionRecord:
    inputs_omitted = _omitted(row[4], row[5])
    return ExecutionRecord(
        execution_id=str(row[0]),
        workflow=split_qualified(str(row[1]))[1],
        revision=int(row[2]),
        status=ExecutionStatus(row[3]),
        inputs={} if inputs_omitted is not None else load(row[4]),
        inputs_omitted=inputs_omitted,
        outputs=load(row[6]),
        outputs_omitted=_omitted(row[6], row[7]),
        error=load_error(row[8]),
        request_id=request_id_of(str(row[9] or ""), str(row[14])),
        create_time=float(row[10]),
        start_time=row[11],
        end_time=row[12],
        last_sequence=int(row[13]),
        namespace=str(row[14]),
        paused=bool(row[15]),
        parent_execution_id=str(row[16]),
    )


def _attempt(row: tuple[Any, ...]) -> AttemptRecord:
    return AttemptRecord(
        number=int(row[2]),
        status=AttemptStatus(row[3]),
        replica=str(row[4]),
        agent_version=str(row[5]),
        start_time=float(row[6]),
        end_time=row[7],
        error=load_error(row[8]),
    )
