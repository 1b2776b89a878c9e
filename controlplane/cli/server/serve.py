"""`orchestrator serve`: run the control plane until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from controlplane.api.server import BindError
from controlplane.app import ControlPlane
from controlplane.cli.server.settings import config_from_args
from controlplane.cli.usage import UsageProblem
from controlplane.config import (
    ConfigError,
    ServerConfig,
    authentication_required,
    binds_beyond_loopback,
)
from controlplane.store.data_dir_lock import DataDirInUse
from controlplane.store.integrity import StoreDamaged
from controlplane.store.migrations import SchemaTooNew

log = logging.getLogger(__name__)

READY_PREFIX = "orchestrator serving on"


def install_stop_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`. Call again after Ray starts: ray.init replaces the
    SIGTERM handler with one that exits the process."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def remove_stop_handlers() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)


async def start_control_plane(cp: ControlPlane) -> None:
    """`cp.start()`, releasing whatever was started (port, Ray) if it fails part way."""
    try:
        await cp.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await cp.stop()
        raise


async def stop_control_plane(cp: ControlPlane) -> None:
    try:
        await cp.stop()
    except Exception:
        log.exception("error while stopping the control plane")


def announce(cp: ControlPlane) -> None:
    sys.stdout.write(f"{READY_PREFIX} {cp.address}\n")
    if cp.dashboard_url:
        sys.stdout.write(f"ray dashboard: {cp.dashboard_url}\n")
    sys.stdout.flush()


async def serve(config: ServerConfig) -> int:
    stop = asyncio.Event()
    install_stop_handlers(stop)
    cp = ControlPlane(config)
    await start_control_plane(cp)
    try:
        install_stop_handlers(stop)
        announce(cp)
        await stop.wait()
        log.info("stopping: draining in-flight work")
    finally:
        await stop_control_plane(cp)
        remove_stop_handlers()
    return 0


def check_exposure(config: ServerConfig) -> None:
    """Refuses (ConfigError) an address beyond loopback with authentication turned off unless
    auth.insecure says so, and warns when it does."""
    if not authentication_required(config) and binds_beyond_loopback(config):
        log.warning(
            "serving %s:%d WITHOUT AUTHENTICATION (insecure): anyone who can reach this port "
            "can deploy agents and run code on the Ray cluster",
            config.grpc.host,
            config.grpc.port,
        )


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
        check_exposure(config)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    config.store.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(serve(config))
    except (BindError, DataDirInUse, StoreDamaged, SchemaTooNew) as exc:
        sys.stderr.write(f"orchestrator serve: {exc}\n")
        return 1
