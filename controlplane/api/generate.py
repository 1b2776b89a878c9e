"""Regenerates the protobuf and gRPC Python code from proto/ (run via `make proto`).

protoc emits absolute imports (`from orchestrator.v1 import x_pb2`); they are rewritten to live
under `controlplane.api.gen` so that the generated code is an ordinary subpackage.
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
OUT_DIR = Path(__file__).resolve().parent / "gen"
PACKAGE = "controlplane.api.gen"


def main() -> int:
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={OUT_DIR}",
        f"--pyi_out={OUT_DIR}",
        f"--grpc_python_out={OUT_DIR}",
        *protos,
    ]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    for path in OUT_DIR.rglob("*.py*"):
        text = path.read_text()
        fixed = re.sub(r"^from orchestrator\.", f"from {PACKAGE}.orchestrator.", text, flags=re.M)
        path.write_text(fixed)
    for folder in [OUT_DIR, *[d for d in OUT_DIR.rglob("*") if d.is_dir()]]:
        (folder / "__init__.py").touch()
    print(f"generated {len(protos)} proto files into {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
