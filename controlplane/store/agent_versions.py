"""The catalogue of agent versions in the SQLite store, and the attempt figures per version
that its live health is computed from."""

from __future__ import annotations

from controlplane.store.codec import dump_agent_spec, load_agent_spec
from controlplane.store.sqlite_store import SqliteStore
from models.agents import AgentSpec, AgentVersion, VersionState

# Attempts whose outcome says nothing about the version (the control plane stopped, or the
# task was preempted for another namespace) and attempts still running.
_NOT_THE_VERSIONS_DOING = ("LOST", "PREEMPTED", "RUNNING", "CANCELLED")


def _version(row: tuple[object, ...]) -> AgentVersion:
    return AgentVersion(
        spec=load_agent_spec(str(row[0])),
        state=VersionState(row[1]),
        create_time=float(str(row[2])),
        update_time=float(str(row[3])),
    )


class AgentVersionStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def put(self, spec: AgentSpec, state: VersionState, now: float) -> None:
        """Stores the version's spec and state (a redeploy of the same version replaces its
        spec and keeps its creation time)."""
        self._store.execute(
            "INSERT INTO agent_versions VALUES (?,?,?,?,?,?) ON CONFLICT (agent, version) DO "
            "UPDATE SET spec=excluded.spec, state=excluded.state, update_time=excluded.update_time",
            (spec.name, spec.version, dump_agent_spec(spec), state.value, now, now),
        )

    def move(self, agent: str, versions: dict[str, VersionState], now: float) -> None:
        """Sets the state of several versions in one transaction."""
        self._store.execute_all(
            [
                (
                    "UPDATE agent_versions SET state=?, update_time=? WHERE agent=? AND version=?",
                    (state.value, now, agent, version),
                )
                for version, state in versions.items()
            ]
        )

    def catalogue(self, agent: str) -> list[AgentVersion]:
        """Newest first."""
        rows = self._store.query(
            "SELECT spec, state, create_time, update_time FROM agent_versions WHERE agent=? "
            "ORDER BY create_time DESC, version DESC",
            (agent,),
        )
        return [_version(row) for row in rows]

    def delete(self, agent: str) -> None:
        self._store.execute("DELETE FROM agent_versions WHERE agent=?", (agent,))

    def finished_attempts(self, agent: str, since: float) -> list[tuple[str, str, float]]:
        """(version, status, seconds) of every attempt of the agent that ended after `since`
        and says something about its version."""
        rows = self._store.query(
            "SELECT a.agent_version, a.status, a.end_time - a.start_time FROM attempts a "
            "JOIN tasks t ON t.execution_id = a.execution_id AND t.task_id = a.task_id "
            f"WHERE t.agent = ? AND a.end_time >= ? AND a.status NOT IN "
            f"({','.join('?' * len(_NOT_THE_VERSIONS_DOING))})",
            (agent, since, *_NOT_THE_VERSIONS_DOING),
        )
        return [(str(v), str(s), float(d)) for v, s, d in rows]
