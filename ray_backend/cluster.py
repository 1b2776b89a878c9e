"""Connecting the control plane (the Ray driver) to a Ray cluster."""

from __future__ import annotations

import logging
import os
from typing import Any

import ray

log = logging.getLogger(__name__)

# A local Ray on a small, busy machine can take longer than Ray's defaults (30 s for the GCS
# to publish its port, 10 s for the raylet to register); give it more time. An explicit setting
# in the environment wins.
STARTUP_ENV_DEFAULTS = {
    "RAY_gcs_server_port_wait_time_s": "120",
    "RAY_raylet_start_wait_time_s": "60",
}
LOCAL_START_ATTEMPTS = 2


def connect(
    address: str | None,
    namespace: str = "orchestrator",
    num_cpus: int | None = None,
    include_dashboard: bool | None = None,
) -> str | None:
    """Starts a local Ray (``address`` None) or joins one (``"auto"`` or ``"host:port"``).

    Returns the dashboard URL, or None when the dashboard is not running. Blocking; call it
    from the main thread (``ray.init`` installs signal handlers).
    """
    kwargs: dict[str, Any] = {
        "namespace": namespace,
        "log_to_driver": False,
        "include_dashboard": include_dashboard,
    }
    if address is not None:
        context = ray.init(address=address, **kwargs)
        return _format_url(getattr(context, "dashboard_url", None))
    # "local" forces a new local instance even if RAY_ADDRESS is set in the environment.
    kwargs["address"] = "local"
    if num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    for key, value in STARTUP_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            context = ray.init(**kwargs)
            return _format_url(getattr(context, "dashboard_url", None))
        except Exception as exc:  # Ray raises a bare Exception when its node times out
            if attempt == LOCAL_START_ATTEMPTS or "timed out" not in str(exc).lower():
                raise
            log.warning("local Ray did not start (%s); starting it again", exc)
            ray.shutdown()
    raise AssertionError("unreachable")


def dashboard_url() -> str | None:
    """The dashboard URL of the connected cluster, if any."""
    if not ray.is_initialized():
        return None
    try:
        from ray._private.worker import global_worker

        node = global_worker.node
        return _format_url(getattr(node, "webui_url", None) if node is not None else None)
    except Exception:
        return None


def is_connected() -> bool:
    return ray.is_initialized()


def disconnect() -> None:
    """Disconnects the driver (a local Ray started by ``connect`` stops with it)."""
    if ray.is_initialized():
        ray.shutdown()


def _format_url(url: str | None) -> str | None:
    if not url:
        return None
    return url if "://" in url else f"http://{url}"
