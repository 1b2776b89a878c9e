"""The tables of API keys, role bindings and namespace policies."""

CREDENTIALS_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    namespace TEXT NOT NULL,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    create_time REAL NOT NULL,
    created_by TEXT NOT NULL,
    revoke_time REAL
);
-- A name names one working key.
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_working_name ON api_keys (name)
    WHERE revoke_time IS NULL;
CREATE TABLE IF NOT EXISTS role_bindings (
    subject TEXT NOT NULL,
    namespace TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (subject, namespace)
);
CREATE TABLE IF NOT EXISTS namespace_policies (
    namespace TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
"""
