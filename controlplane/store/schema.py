"""The store's tables (SQLite), and the version written to a data dir's header."""

from __future__ import annotations

# 7: task_heartbeats, 8: rollouts, 9: signals, 10: agent_events, 11: task_earlier_attempts,
# 12: schedules, 13: api_keys, role_bindings, namespace_policies
SCHEMA_VERSION = 13

SCHEMA = """
CREATE TABLE IF NOT EXISTS workflow_revisions (
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    definition TEXT NOT NULL,
    digest TEXT NOT NULL,
    create_time REAL NOT NULL,
    PRIMARY KEY (name, revision)
);
CREATE TABLE IF NOT EXISTS agents (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_versions (
    agent TEXT NOT NULL,
    version TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL,
    PRIMARY KEY (agent, version)
);
CREATE TABLE IF NOT EXISTS rollouts (
    rollout_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    record TEXT NOT NULL,
    create_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rollouts_by_agent ON rollouts (agent, create_time);
CREATE TABLE IF NOT EXISTS signals (
    execution_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    request_id TEXT NOT NULL,
    time REAL NOT NULL,
    consumed_by TEXT,
    PRIMARY KEY (execution_id, sequence)
);
CREATE INDEX IF NOT EXISTS signals_by_name ON signals (execution_id, name, consumed_by);
CREATE TABLE IF NOT EXISTS executions (
    execution_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    revision INTEGER NOT NULL,
    status TEXT NOT NULL,
    inputs TEXT NOT NULL,
    outputs TEXT,
    error TEXT,
    request_id TEXT UNIQUE,
    create_time REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    last_sequence INTEGER NOT NULL,
    namespace TEXT NOT NULL DEFAULT 'default',
    paused INTEGER NOT NULL DEFAULT 0,
    parent_execution_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS executions_by_time ON executions (create_time DESC, execution_id DESC);
-- ListExecutions of one namespace (and one status), newest first: a page reads its own rows.
CREATE INDEX IF NOT EXISTS executions_by_namespace_time
    ON executions (namespace, create_time, execution_id);
CREATE INDEX IF NOT EXISTS executions_by_namespace_status
    ON executions (namespace, status, create_time, execution_id);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status);
CREATE INDEX IF NOT EXISTS executions_by_parent ON executions (parent_execution_id);
CREATE TABLE IF NOT EXISTS tasks (
    execution_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    error TEXT,
    depends_on TEXT NOT NULL,
    PRIMARY KEY (execution_id, task_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    execution_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    replica TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    start_time REAL NOT NULL,
    end_time REAL,
    error TEXT,
    PRIMARY KEY (execution_id, task_id, number)
);
-- A version's live health reads the attempts that ended in the last minutes.
CREATE INDEX IF NOT EXISTS attempts_by_end ON attempts (end_time);
CREATE TABLE IF NOT EXISTS pools (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pool_repairs (
    pool TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    policy TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reservations (
    reservation_id TEXT PRIMARY KEY,
    pool TEXT NOT NULL,
    state TEXT NOT NULL,
    request_id TEXT UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS load_samples (
    agent TEXT NOT NULL,
    resolution INTEGER NOT NULL,
    time REAL NOT NULL,
    arrivals REAL NOT NULL,
    completions REAL NOT NULL,
    queue_depth REAL NOT NULL,
    in_flight REAL NOT NULL,
    service_time_s REAL NOT NULL,
    replicas REAL NOT NULL,
    PRIMARY KEY (agent, resolution, time)
);
CREATE TABLE IF NOT EXISTS events (
    execution_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    task_id TEXT NOT NULL,
    time REAL NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (execution_id, sequence)
);
CREATE TABLE IF NOT EXISTS scaling_policies (
    agent TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scaling_events (
    event_id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    time REAL NOT NULL,
    current INTEGER NOT NULL,
    desired INTEGER NOT NULL,
    policy TEXT NOT NULL,
    reason TEXT NOT NULL,
    inputs TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS scaling_events_by_agent ON scaling_events (agent, event_id);
-- Queries in agent_events.py. AUTOINCREMENT: a sequence is never handed out twice.
CREATE TABLE IF NOT EXISTS agent_events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL, type TEXT NOT NULL, source TEXT NOT NULL,
    agent TEXT NOT NULL, replica TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS agent_events_by_agent ON agent_events (agent, sequence);
-- Queries in schedules.py: a schedule's spec and firing state, as JSON.
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    schedule_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    create_time REAL NOT NULL,
    update_time REAL NOT NULL
);
"""
