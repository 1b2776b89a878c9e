"""orchestrator.v1.AgentSpec (with its resources and endpoint options) <-> models.agents.

Apart from agents.py so that the rollout codec, which carries specs, and the agent codec, which
carries a rollout, can both use it."""

from __future__ import annotations

from dataclasses import replace

from controlplane.api.codec.agent_keys import (
    check_own_namespace,
    key_from_wire,
    key_to_wire,
    request_key,
)
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
    struct_to_dict,
)
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agents import AgentSpec, EndpointOptions, ReplicaResources


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
    namespace, name = key_to_wire(spec.name)
    return agent_pb2.AgentSpec(
        namespace=namespace,
        name=name,
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
    """The spec named by its key (see agent_keys); a request's spec: `deployed_spec`."""
    return AgentSpec(
        name=key_from_wire(message.namespace, message.name),
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


def deployed_spec(request: agent_pb2.DeployAgentRequest) -> AgentSpec:
    """The spec a DeployAgentRequest deploys, keyed in the request's namespace (the spec's own
    namespace, if given, must be that one)."""
    message = request.agent
    key = request_key(request.namespace, message.name, "agent.name")
    check_own_namespace(message.namespace, request.namespace, "agent.namespace")
    return replace(agent_spec_from_proto(message), name=key)
