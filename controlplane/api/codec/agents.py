"""orchestrator.v1.AgentService messages <-> models.agents."""

from __future__ import annotations

from google.protobuf import duration_pb2

from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.replica_health import (
    circuit_breaker_from_proto,
    circuit_breaker_to_proto,
    health_check_from_proto,
    health_check_to_proto,
    load_balancing_from_proto,
    load_balancing_to_proto,
)
from controlplane.api.codec.wellknown import (
    dict_to_struct,
    duration,
    duration_seconds,
    optional_seconds,
    seconds,
    struct_to_dict,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentVersion,
    AgentView,
    EndpointOptions,
    ReplicaInfo,
    ReplicaResources,
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


def replica_resources_to_proto(resources: ReplicaResources) -> agent_pb2.ReplicaResources:
    return agent_pb2.ReplicaResources(
        num_cpus=resources.num_cpus,
        memory=resources.memory,
        num_gpus=resources.num_gpus,
        custom=dict(resources.custom),
    )


def replica_resources_from_proto(message: agent_pb2.ReplicaResources) -> ReplicaResources:
    return ReplicaResources(
        num_cpus=message.num_cpus,
        memory=message.memory,
        num_gpus=message.num_gpus,
        custom=dict(message.custom),
    )


def endpoint_options_to_proto(options: EndpointOptions) -> agent_pb2.EndpointOptions:
    return agent_pb2.EndpointOptions(
        headers=dict(options.headers),
        headers_from_env=dict(options.headers_from_env),
        connect_timeout=duration(options.connect_timeout_s),
        read_timeout=duration(options.read_timeout_s),
        poll_interval=duration(options.poll_interval_s),
        max_poll_interval=duration(options.max_poll_interval_s),
    )


def endpoint_options_from_proto(message: agent_pb2.EndpointOptions) -> EndpointOptions:
    """Unset durations take their defaults."""
    defaults = EndpointOptions()

    def given(name: str, default: float) -> float:
        value = optional_seconds(message, name)
        return default if value is None else value

    return EndpointOptions(
        headers=dict(message.headers),
        headers_from_env=dict(message.headers_from_env),
        connect_timeout_s=given("connect_timeout", defaults.connect_timeout_s),
        read_timeout_s=given("read_timeout", defaults.read_timeout_s),
        poll_interval_s=given("poll_interval", defaults.poll_interval_s),
        max_poll_interval_s=given("max_poll_interval", defaults.max_poll_interval_s),
    )


def agent_spec_to_proto(spec: AgentSpec) -> agent_pb2.AgentSpec:
    return agent_pb2.AgentSpec(
        name=spec.name,
        version=spec.version,
        import_path=spec.import_path,
        replicas=spec.replicas,
        resources=replica_resources_to_proto(spec.resources),
        max_concurrency=spec.max_concurrency,
        capabilities=list(spec.capabilities),
        runtime_env=dict_to_struct(spec.runtime_env),
        config=dict_to_struct(spec.config),
        pool=spec.pool,
        health_check=health_check_to_proto(spec.health_check),
        circuit_breaker=circuit_breaker_to_proto(spec.circuit_breaker),
        load_balancing=load_balancing_to_proto(spec.load_balancing),
        endpoint=spec.endpoint,
        endpoint_options=(
            endpoint_options_to_proto(spec.endpoint_options) if spec.endpoint else None
        ),
    )


def agent_spec_from_proto(message: agent_pb2.AgentSpec) -> AgentSpec:
    return AgentSpec(
        name=message.name,
        version=message.version,
        import_path=message.import_path,
        replicas=message.replicas,
        resources=replica_resources_from_proto(message.resources),
        # 0 is "not given": one attempt at a time, the AgentSpec default.
        max_concurrency=message.max_concurrency or 1,
        capabilities=tuple(message.capabilities),
        runtime_env=struct_to_dict(message.runtime_env),
        config=struct_to_dict(message.config),
        pool=message.pool,
        health_check=health_check_from_proto(message.health_check),
        circuit_breaker=circuit_breaker_from_proto(message.circuit_breaker),
        load_balancing=load_balancing_from_proto(
            message.load_balancing, "agent.load_balancing.strategy"
        ),
        endpoint=message.endpoint,
        endpoint_options=endpoint_options_from_proto(message.endpoint_options),
    )


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
