"""Ray backend: the only package that imports ray (agent replicas, dispatch, metrics)."""

from ray_backend.backend import DeployError, RayAgentBackend
from ray_backend.cluster import connect, disconnect

__all__ = ["DeployError", "RayAgentBackend", "connect", "disconnect"]
