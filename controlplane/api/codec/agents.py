"""orchestrator.v1.AgentService messages <-> models.agents (the spec's codec is agent_specs,
the rollout's rollouts)."""

from __future__ import annotations

from google.protobuf import duration_pb2

from controlplane.api.codec.agent_specs import agent_spec_from_proto, agent_spec_to_proto
from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.rollouts import rollout_from_proto, rollout_to_proto
from controlplane.api.codec.wellknown import (
    duration,
    duration_seconds,
    optional_seconds,
    seconds,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agents import (
    AgentRecord,
    AgentState,
    AgentVersion,
    AgentView,
    ReplicaInfo,
    ReplicaState,
    StartFailure,
    VersionHealth,
    VersionState,
)
from models.packages import StoredPackage
from models.replica_health import BreakerState, HealthStatus

REPLICA_STATES = matching_table(agent_pb2.ReplicaState, ReplicaState)
REPLICA_HEALTH = matching_table(agent_pb2.ReplicaHealth, HealthStatus)
BREAKER_STATES = matching_table(agent_pb2.BreakerState, BreakerState)
AGENT_STATES = matching_table(agent_pb2.AgentState, AgentState)


def replica_to_proto(replica: ReplicaInfo) -> agent_pb2.Replica:
    message = agent_pb2.Replica(
        name=replica.name,
        version=replica.version,
        state=REPLICA_STATES.to_proto(replica.state),
        outstanding_attempts=replica.outstanding_attempts,
        node_id=replica.node_id,
        restarts=replica.restarts,
        health=REPLICA_HEALTH.to_proto(replica.health),
        breaker=BREAKER_STATES.to_proto(replica.breaker),
        last_error=replica.last_error,
        last_error_time=timestamp(replica.last_error_time),
        health_change_time=timestamp(replica.health_change_time),
        breaker_change_time=timestamp(replica.breaker_change_time),
    )
    for name, value in (
        ("latency_p50", replica.latency_p50_s),
        ("latency_p95", replica.latency_p95_s),
        ("health_response_time", replica.health_response_time_s),
    ):
        if value is not None:
            getattr(message, name).CopyFrom(duration(value))
    return message


def replica_from_proto(message: agent_pb2.Replica) -> ReplicaInfo:
    return ReplicaInfo(
        name=message.name,
        version=message.version,
        state=REPLICA_STATES.from_proto(message.state, "replica.state"),
        outstanding_attempts=message.outstanding_attempts,
        node_id=message.node_id,
        restarts=message.restarts,
        # Unset by a server that does not report them: nothing known against the replica.
        health=(
            REPLICA_HEALTH.from_proto(message.health, "replica.health")
            if message.health
            else HealthStatus.HEALTHY
        ),
        breaker=(
            BREAKER_STATES.from_proto(message.breaker, "replica.breaker")
            if message.breaker
            else BreakerState.CLOSED
        ),
        last_error=message.last_error,
        last_error_time=optional_seconds(message, "last_error_time"),
        latency_p50_s=optional_seconds(message, "latency_p50"),
        latency_p95_s=optional_seconds(message, "latency_p95"),
        health_response_time_s=optional_seconds(message, "health_response_time"),
        health_change_time=optional_seconds(message, "health_change_time"),
        breaker_change_time=optional_seconds(message, "breaker_change_time"),
    )


def start_failure_to_proto(
    failure: StartFailure, with_detail: bool = True
) -> agent_pb2.StartFailure:
    return agent_pb2.StartFailure(
        version=failure.version,
        summary=failure.summary,
        detail=failure.detail if with_detail else "",
        time=timestamp(failure.time),
    )


def start_failure_from_proto(message: agent_pb2.StartFailure) -> StartFailure:
    return StartFailure(
        version=message.version,
        summary=message.summary,
        detail=message.detail,
        time=seconds(message.time),
    )


def agent_to_proto(view: AgentView, with_detail: bool = True) -> agent_pb2.Agent:
    """`with_detail` False leaves the start failure's traceback out (list responses)."""
    message = agent_pb2.Agent(
        spec=agent_spec_to_proto(view.record.spec),
        state=AGENT_STATES.to_proto(view.state),
        replicas=[replica_to_proto(r) for r in view.replicas],
        create_time=timestamp(view.record.create_time),
        update_time=timestamp(view.record.update_time),
    )
    if view.start_failure is not None:
        message.start_failure.CopyFrom(start_failure_to_proto(view.start_failure, with_detail))
    if view.rollout is not None:
        message.rollout.CopyFrom(rollout_to_proto(view.rollout))
    return message


def agent_from_proto(message: agent_pb2.Agent) -> AgentView:
    return AgentView(
        record=AgentRecord(
            spec=agent_spec_from_proto(message.spec),
            create_time=seconds(message.create_time),
            update_time=seconds(message.update_time),
        ),
        state=AGENT_STATES.from_proto(message.state, "agent.state"),
        replicas=[replica_from_proto(r) for r in message.replicas],
        start_failure=(
            start_failure_from_proto(message.start_failure)
            if message.HasField("start_failure")
            else None
        ),
        rollout=rollout_from_proto(message.rollout) if message.HasField("rollout") else None,
    )


# -- versions ---------------------------------------------------------------------------------

VERSION_STATES = matching_table(agent_pb2.AgentVersionState, VersionState)


def _optional_duration(seconds_value: float | None) -> duration_pb2.Duration | None:
    return None if seconds_value is None else duration(seconds_value)


def version_health_to_proto(health: VersionHealth) -> agent_pb2.VersionHealth:
    return agent_pb2.VersionHealth(
        window=duration(health.window_s),
        attempts=health.attempts,
        succeeded=health.succeeded,
        failed=health.failed,
        success_rate=health.success_rate,
        p50_latency=_optional_duration(health.p50_latency_s),
        p95_latency=_optional_duration(health.p95_latency_s),
    )


def version_health_from_proto(message: agent_pb2.VersionHealth) -> VersionHealth:
    def optional(field: str) -> float | None:
        return duration_seconds(getattr(message, field)) if message.HasField(field) else None

    return VersionHealth(
        window_s=duration_seconds(message.window),
        attempts=message.attempts,
        succeeded=message.succeeded,
        p50_latency_s=optional("p50_latency"),
        p95_latency_s=optional("p95_latency"),
    )


def agent_version_to_proto(version: AgentVersion) -> agent_pb2.AgentVersion:
    message = agent_pb2.AgentVersion(
        spec=agent_spec_to_proto(version.spec),
        state=VERSION_STATES.to_proto(version.state),
        create_time=timestamp(version.create_time),
        update_time=timestamp(version.update_time),
    )
    if version.health is not None:
        message.health.CopyFrom(version_health_to_proto(version.health))
    return message


def agent_version_from_proto(message: agent_pb2.AgentVersion) -> AgentVersion:
    return AgentVersion(
        spec=agent_spec_from_proto(message.spec),
        state=VERSION_STATES.from_proto(message.state, "version.state"),
        create_time=seconds(message.create_time),
        update_time=seconds(message.update_time),
        health=version_health_from_proto(message.health) if message.HasField("health") else None,
    )


def stored_package_to_proto(package: StoredPackage) -> agent_pb2.UploadPackageResponse:
    return agent_pb2.UploadPackageResponse(
        uri=package.uri,
        sha256=package.sha256,
        size_bytes=package.size_bytes,
        created=package.created,
    )


def stored_package_from_proto(message: agent_pb2.UploadPackageResponse) -> StoredPackage:
    return StoredPackage(
        uri=message.uri,
        sha256=message.sha256,
        size_bytes=message.size_bytes,
        created=message.created,
    )
