"""Ray backend: the only package that imports ray (agent replicas, dispatch, metrics)."""

from ray_backend.backend import RayAgentBackend
from ray_backend.cluster import connect, disconnect
from ray_backend.named_actors import DeployError

__all__ = ["DeployError", "RayAgentBackend", "connect", "disconnect"]
