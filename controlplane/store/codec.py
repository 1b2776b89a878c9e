"""Row <-> model conversion for the SQLite store (JSON for nested values)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from models.agents import AgentSpec, EndpointOptions, ReplicaResources
from models.executions import ErrorInfo
from models.replica_health import (
    CircuitBreaker,
    HealthCheck,
    LoadBalancing,
    LoadBalancingStrategy,
)
from models.values import json_text


def dump(value: Any) -> str:
    return json_text(value)


def load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def dump_error(error: ErrorInfo | None) -> str | None:
    return None if error is None else dump(asdict(error))


def load_error(text: str | None) -> ErrorInfo | None:
    data = load(text)
    return None if data is None else ErrorInfo(**data)


def dump_agent_spec(spec: AgentSpec) -> str:
    data = asdict(spec)
    data["load_balancing"]["strategy"] = spec.load_balancing.strategy.value
    return dump(data)


def load_agent_spec(text: str) -> AgentSpec:
    data = json.loads(text)
    data["resources"] = ReplicaResources(**data["resources"])
    data["capabilities"] = tuple(data["capabilities"])
    # Specs stored before these settings existed take the defaults.
    if "health_check" in data:
        data["health_check"] = HealthCheck(**data["health_check"])
    if "circuit_breaker" in data:
        data["circuit_breaker"] = CircuitBreaker(**data["circuit_breaker"])
    if "load_balancing" in data:
        balancing = data["load_balancing"]
        balancing["strategy"] = LoadBalancingStrategy(balancing["strategy"])
        data["load_balancing"] = LoadBalancing(**balancing)
    # Rows stored before external agents have no endpoint fields: the defaults apply.
    data["endpoint_options"] = EndpointOptions(**data.get("endpoint_options", {}))
    return AgentSpec(**data)
