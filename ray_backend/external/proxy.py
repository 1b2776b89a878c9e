"""Which agent class a replica of a spec loads, and with what: the user's class, or the proxy
of the spec's endpoint (so external agents run on the same replica machinery)."""

from __future__ import annotations

import dataclasses
from typing import Any

from models.agents import AgentSpec

HTTP_PROXY = "ray_backend.external.http_agent:HttpAgent"
GRPC_PROXY = "ray_backend.external.grpc_agent:GrpcAgent"


def replica_target(spec: AgentSpec) -> tuple[str, dict[str, Any]]:
    """(import path, constructor arguments) of the agent object a replica of `spec` holds."""
    if not spec.endpoint:
        return spec.import_path, dict(spec.config)
    proxy = GRPC_PROXY if spec.endpoint.startswith("grpc://") else HTTP_PROXY
    return proxy, {
        "endpoint": spec.endpoint,
        "options": dataclasses.asdict(spec.endpoint_options),
    }
