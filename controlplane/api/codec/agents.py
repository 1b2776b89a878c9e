"""orchestrator.v1.AgentService messages <-> models.agents."""

from __future__ import annotations

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
    AgentView,
    ReplicaInfo,
    ReplicaResources,
    ReplicaState,
    StartFailure,
)
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
