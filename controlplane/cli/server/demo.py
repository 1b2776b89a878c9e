"""`orchestrator demo`: an in-process control plane on local Ray running the build-app workflow.

The server runs on this process's asyncio loop; the demo itself is an ordinary gRPC client
over a real socket, run in a worker thread so the server keeps serving.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from controlplane.api.client import ClientError, OrchestratorClient
from controlplane.app import ControlPlane
from controlplane.cli import render
from controlplane.cli.json_text import json_text
from controlplane.cli.parsing import error_line
from controlplane.cli.server.serve import (
    install_stop_handlers,
    remove_stop_handlers,
    start_control_plane,
    stop_control_plane,
)
from controlplane.config import GrpcConfig, RayConfig, ServerConfig, StoreConfig
from models.agents import AgentSpec, AgentState
from models.executions import ExecutionRecord

log = logging.getLogger(__name__)

WORKFLOW_RESOURCE = "workflows/build-app.yaml"
DEMO_INPUTS = {"project": "demo-shop"}
DEMO_AGENTS = (
    AgentSpec(
        name="codegen",
        version="1.0.0",
        import_path="samples.agents:CodeGenAgent",
        replicas=2,
        capabilities=("generate-code",),
        config={"delay_s": 0.5},
    ),
    AgentSpec(
        name="tester",
        version="1.0.0",
        import_path="samples.agents:TesterAgent",
        replicas=1,
        capabilities=("run-tests",),
    ),
)
AGENT_READY_TIMEOUT_S = 120.0


def workflow_text() -> str:
    return resources.files("samples").joinpath(WORKFLOW_RESOURCE).read_text(encoding="utf-8")


def _wait_agent_ready(client: OrchestratorClient, name: str, console: Console) -> None:
    deadline = time.monotonic() + AGENT_READY_TIMEOUT_S
    while True:
        view = client.get_agent(name)
        if view.state is AgentState.READY:
            return
        if time.monotonic() > deadline:
            console.print(
                f"agent {name} is still {view.state.value}; continuing anyway", markup=False
            )
            return
        time.sleep(0.2)


def run_script(client: OrchestratorClient, console: Console) -> ExecutionRecord:
    """The demo proper, through the public API only (blocking; runs in a worker thread)."""
    client.wait_ready(60)
    for spec in DEMO_AGENTS:
        client.deploy_agent(spec)
        console.print(
            f"deployed agent {spec.name} ({spec.import_path}, {spec.replicas} replica(s))",
            markup=False,
        )
    with console.status("waiting for agent replicas to become ready"):
        for spec in DEMO_AGENTS:
            _wait_agent_ready(client, spec.name, console)
    console.print(render.agents_table(client.list_agents()))

    created = client.create_workflow(workflow_text())
    for warning in created.warnings:
        console.print(render.problem_line(warning))
    workflow = created.workflow
    console.print(
        f"workflow {workflow.name} revision {workflow.revision.revision}: "
        f"tasks {', '.join(workflow.task_ids)}",
        markup=False,
    )
    started = client.start_execution(
        workflow.name, dict(DEMO_INPUTS), revision=workflow.revision.revision
    )
    execution_id = started.execution.execution_id
    console.print(f"started execution {execution_id} with inputs {DEMO_INPUTS}", markup=False)
    final = render.follow(client, execution_id, console)
    render.execution_detail(console, final, with_outputs=False)
    return final


async def demo(config: ServerConfig, keep: bool, console: Console) -> int:
    stop = asyncio.Event()
    install_stop_handlers(stop)
    cp = ControlPlane(config)
    await start_control_plane(cp)
    client = OrchestratorClient(cp.address)
    try:
        install_stop_handlers(stop)
        console.print(f"orchestrator serving on {cp.address}", markup=False)
        console.print(f"ray dashboard: {cp.dashboard_url or 'not running'}", markup=False)
        script = asyncio.ensure_future(asyncio.to_thread(run_script, client, console))
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({script, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not script.done():
            console.print("interrupted; stopping", markup=False)
            client.close()  # cancels the watch stream, so the worker thread returns
            with contextlib.suppress(Exception):
                await script
            return 130
        stopper.cancel()
        try:
            final = script.result()
        except ClientError as exc:
            print(error_line(exc.code_name, exc.message, exc.violations), file=sys.stderr)
            return 2
        console.print("outputs:", style="bold")
        sys.stdout.write(json_text(final.outputs) + "\n")
        sys.stdout.flush()
        code = 0 if render.succeeded(final) else 1
        if keep:
            console.print(
                f"keeping the server up at {cp.address} "
                f"(dashboard: {cp.dashboard_url or 'not running'}); Ctrl-C to stop",
                markup=False,
            )
            await stop.wait()
        return code
    finally:
        client.close()
        destroy_all = getattr(cp.backend, "destroy_all", None)
        if destroy_all is not None:
            try:
                await destroy_all()
            except Exception:
                log.exception("could not remove the demo's agent replicas")
        await stop_control_plane(cp)
        remove_stop_handlers()


def run_demo(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    temporary = args.data_dir is None
    data_dir = (
        Path(tempfile.mkdtemp(prefix="orchestrator-demo-")) if temporary else Path(args.data_dir)
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    config = ServerConfig(
        store=StoreConfig(data_dir=data_dir, sqlite_synchronous="NORMAL"),
        grpc=GrpcConfig(host=args.host, port=args.port),
        ray=RayConfig(
            num_cpus=args.ray_num_cpus, include_dashboard=False if args.no_dashboard else None
        ),
    )
    console = render.make_console()
    try:
        return asyncio.run(demo(config, args.keep, console))
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
