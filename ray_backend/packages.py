"""Stored packages made available to Ray the way its job submission does it: the zip is put in
the GCS key-value store under ``gcs://_ray_pkg_<sha256>.zip`` and that URI is the actor's
working_dir or py_modules entry, so every node's runtime-env agent downloads it from the GCS.

Ray drops a GCS package once no actor or job refers to it, and a restarted local Ray starts
with an empty GCS: each replica creation checks first, and uploads the package again from the
control plane's data dir when it is missing. A temporary reference (a pin, as job submission
takes) keeps it from being dropped between that check and the actor's own reference.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ray._private.runtime_env.packaging import (
    package_exists,
    pin_runtime_env_uri,
    upload_package_to_gcs,
)

from models.backend import ReplicaStartError
from models.packages import PackageReader, PackageRef, package_refs

logger = logging.getLogger(__name__)

# Long enough for a replica to be created and registered after the check (Ray's job
# submission pins for the same 10 minutes).
PIN_S = 600


def gcs_uri(ref: PackageRef) -> str:
    return f"gcs://_ray_pkg_{ref.digest}.zip"


class RayPackages:
    """Turns ``package://`` references into GCS URIs, uploading the packages they need."""

    def __init__(self, read: PackageReader | None) -> None:
        self._read = read
        self._lock = threading.Lock()  # one upload of a package at a time, not one per replica

    def runtime_env(self, runtime_env: dict[str, Any]) -> dict[str, Any]:
        """`runtime_env` as Ray takes it; blocking (called from the thread creating the actor).
        ReplicaStartError naming the field when a package cannot be read."""
        refs = package_refs(runtime_env)
        if not refs:
            return dict(runtime_env)
        for field, ref in refs:
            self._ensure(f"agent.{field}", ref)
        resolved = dict(runtime_env)
        if isinstance(resolved.get("working_dir"), str):
            resolved["working_dir"] = _resolved(resolved["working_dir"])
        if isinstance(resolved.get("py_modules"), list):
            resolved["py_modules"] = [_resolved(m) for m in resolved["py_modules"]]
        return resolved

    def _ensure(self, field: str, ref: PackageRef) -> None:
        uri = gcs_uri(ref)
        with self._lock:
            pin_runtime_env_uri(uri, expiration_s=PIN_S)
            if package_exists(uri):
                return
            if self._read is None:
                raise ReplicaStartError(
                    f"{ref.uri} cannot be loaded: this backend has no package store", field=field
                )
            try:
                data = self._read(ref)
            except OSError as exc:
                raise ReplicaStartError(
                    f"{ref.uri} cannot be read from the control plane's data dir: "
                    f"{exc.strerror or exc}",
                    field=field,
                ) from None
            upload_package_to_gcs(uri, data)
            logger.info("uploaded %s to the GCS as %s (%d bytes)", ref.uri, uri, len(data))


def _resolved(value: Any) -> Any:
    ref = PackageRef.parse(value) if isinstance(value, str) else None
    return gcs_uri(ref) if ref is not None else value
