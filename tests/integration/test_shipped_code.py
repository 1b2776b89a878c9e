"""Agent code that exists only in a temporary directory outside the project, shipped with
`orchestrator agents deploy --working-dir/--py-module`, runs on real Ray; it keeps running
after the control plane restarts, and after the control plane and the whole local Ray restart
(Ray's GCS empty again, the directory deleted): replicas are recreated from the stored package.
Code that cannot start fails the deploy within seconds, the cause in the one-line message."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray.experimental.internal_kv import _internal_kv_exists

from controlplane.api.client.packaging import build_package
from controlplane.cli.main import EXIT_REJECTED, main
from models.packages import PackageRef
from ray_backend import cluster
from ray_backend.packages import gcs_uri
from tests.integration.test_foreign_client import generate_stubs
from tests.support.server_thread import ServerThread

FOREIGN_UPLOADER = Path(__file__).resolve().parents[1] / "support" / "foreign_uploader.py"

FAST_S = 10.0

GREETER = """
import os

from shoutlib import shout

with open(os.path.join(os.path.dirname(__file__), "greeting.txt")) as f:
    GREETING = f.read().strip()


class Greeter:
    def __init__(self, punctuation: str = "!", **config):
        self.punctuation = punctuation

    def execute(self, input, context):
        return {
            "said": shout(f"{GREETING}, {input['name']}") + self.punctuation,
            "cwd_has_greeting": os.path.exists("greeting.txt"),
            "secret_shipped": os.path.exists("secret.txt"),
            "mode": os.environ.get("GREETER_MODE", ""),
        }
"""

BROKEN = """
class Broken:
    def __init__(self, **config):
        raise ValueError("no api key in this package")

    def execute(self, input, context):
        return input
"""

WORKFLOW = """
name: greet
inputs: {name: {type: string}}
tasks:
  - {id: hello, agent: greeter, input: {name: "${inputs.name}"}}
outputs: {hello: "${tasks.hello.output}"}
"""


class Plane:
    """The control plane under test, restarted on the same data dir."""

    def __init__(self, data_dir: Path, namespace: str) -> None:
        self.data_dir = data_dir
        self.namespace = namespace
        self.thread = ServerThread(data_dir, namespace)

    def stop(self) -> None:
        """Stops the control plane; its replicas keep running, as after a crash."""
        self.thread.stop(destroy_replicas=False)

    def start(self) -> None:
        self.thread = ServerThread(self.data_dir, self.namespace)

    def restart_ray(self) -> None:
        """A new local Ray: no actor, an empty GCS."""
        cluster.disconnect()
        cluster.connect(None, namespace=self.namespace, num_cpus=2, include_dashboard=False)

    def cli(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--address", self.thread.address, "--timeout", "120", *argv])
        out, err = capsys.readouterr()
        return code, out, err


@pytest.fixture(scope="module")
def plane(ray_namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    plane = Plane(tmp_path_factory.mktemp("cp"), ray_namespace)
    yield plane
    plane.thread.stop()


@pytest.fixture
def code(tmp_path: Path) -> tuple[Path, Path]:
    """The agent's directory and a library directory, both only under pytest's tmp dir."""
    agents = tmp_path / "my_agents"
    agents.mkdir()
    (agents / "greeter.py").write_text(GREETER)
    (agents / "broken.py").write_text(BROKEN)
    (agents / "greeting.txt").write_text("hello\n")
    (agents / "secret.txt").write_text("not for the cluster\n")
    (agents / ".orchestratorignore").write_text("secret.txt\n")
    library = tmp_path / "shoutlib"
    library.mkdir()
    (library / "__init__.py").write_text("def shout(text):\n    return text.upper()\n")
    return agents, library


def deploy(
    plane: Plane, capsys: pytest.CaptureFixture[str], name: str, import_path: str,
    code: tuple[Path, Path],
) -> tuple[int, str, str, float]:  # fmt: skip
    agents, library = code
    started = time.monotonic()
    result = plane.cli(
        capsys, "agents", "deploy", name, "--import-path", import_path,
        "--working-dir", str(agents), "--py-module", str(library), "--env", "GREETER_MODE=warm",
    )  # fmt: skip
    return (*result, time.monotonic() - started)


def greet(plane: Plane, capsys: pytest.CaptureFixture[str], workflow: Path, who: str) -> dict:
    code, out, err = plane.cli(
        capsys, "-o", "json", "run", str(workflow), "-i", f"name={who}", "-w"
    )
    assert code == 0, err
    outputs: dict = json.loads(out)["outputs"]["hello"]
    return outputs


def test_a_constructor_that_raises_fails_the_deploy_at_once(
    plane: Plane, capsys: pytest.CaptureFixture[str], code: tuple[Path, Path]
) -> None:
    exit_code, _, err, elapsed = deploy(plane, capsys, "broken", "broken:Broken", code)
    assert exit_code == EXIT_REJECTED and err.count("\n") == 1, err
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
    assert err.startswith(
        "error: FAILED_PRECONDITION: agent 'broken' failed to start: ValueError: no api key "
        "in this package (in Broken.__init__, broken.py:"
    ), err


def test_a_module_the_package_lacks_fails_the_deploy_at_once(
    plane: Plane, capsys: pytest.CaptureFixture[str], code: tuple[Path, Path]
) -> None:
    exit_code, _, err, elapsed = deploy(plane, capsys, "ghost", "no_such_module:Agent", code)
    assert exit_code == EXIT_REJECTED and err.count("\n") == 1, err
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
    assert "agent.import_path: ModuleNotFoundError: No module named 'no_such_module'" in err


def test_a_local_directory_as_working_dir_is_refused_at_once(
    plane: Plane, capsys: pytest.CaptureFixture[str], code: tuple[Path, Path]
) -> None:
    env = json.dumps({"working_dir": str(code[0])})
    started = time.monotonic()
    exit_code, _, err = plane.cli(
        capsys, "agents", "deploy", "local", "--import-path", "greeter:Greeter",
        "--runtime-env", env,
    )  # fmt: skip
    assert time.monotonic() - started < FAST_S
    assert exit_code == EXIT_REJECTED and err.count("\n") == 1, err
    assert err.startswith("error: INVALID_ARGUMENT: invalid agent spec"), err
    assert "agent.runtime_env.working_dir" in err and "--working-dir DIR" in err


def test_a_client_in_any_language_uploads_and_deploys_with_the_rpcs(
    plane: Plane, tmp_path: Path
) -> None:
    generate_stubs(tmp_path)
    result = subprocess.run(
        [sys.executable, "-I", str(FOREIGN_UPLOADER), plane.thread.address, str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    uri_matches, created, created_again, status, *said = result.stdout.split()
    assert (uri_matches, created, created_again) == ("True", "True", "False")
    assert status == "EXECUTION_STATUS_SUCCEEDED" and said == ["hi", "there"]


def test_shipped_code_runs_and_survives_restarts_of_the_control_plane_and_ray(
    plane: Plane, capsys: pytest.CaptureFixture[str], code: tuple[Path, Path], tmp_path: Path
) -> None:
    workflow = tmp_path / "greet.yaml"
    workflow.write_text(WORKFLOW)
    exit_code, out, err, _ = deploy(plane, capsys, "greeter", "greeter:Greeter", code)
    assert exit_code == 0, err
    work = build_package(code[0]).sha256
    assert f"package://sha256-{work}" in out and "READY" in out
    expected = {
        "said": "HELLO, ADA!",
        "cwd_has_greeting": True,
        "secret_shipped": False,
        "mode": "warm",
    }
    assert greet(plane, capsys, workflow, "ada") == expected
    assert (plane.data_dir / "packages" / f"sha256-{work}.zip").is_file()
    # From here on the code exists only in the control plane's data dir (and Ray's GCS).
    shutil.rmtree(code[0])
    shutil.rmtree(code[1])

    plane.stop()
    plane.start()
    assert greet(plane, capsys, workflow, "ada") == expected

    stored_in_ray = gcs_uri(PackageRef(work))
    plane.stop()
    plane.restart_ray()
    assert not _internal_kv_exists(stored_in_ray)
    plane.start()  # recreates the replicas, loading the package into the new GCS first
    assert _internal_kv_exists(stored_in_ray)
    assert "READY" in plane.cli(capsys, "agents", "get", "greeter")[1]
    assert greet(plane, capsys, workflow, "bo") == {**expected, "said": "HELLO, BO!"}
