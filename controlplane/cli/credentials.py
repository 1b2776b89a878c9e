"""The client credentials of a CLI command: its flags, else the ORCHESTRATOR_* environment."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from controlplane.api.client import Credentials


def credentials_from_args(args: argparse.Namespace) -> Credentials:
    found = Credentials.from_env()
    if getattr(args, "api_key", None):
        found = replace(found, api_key=args.api_key)
    if getattr(args, "tls", False):
        found = replace(found, tls=True)
    ca, cert, key = (getattr(args, name, None) for name in ("tls_ca", "tls_cert", "tls_key"))
    return replace(
        found,
        tls_ca=Path(ca) if ca else found.tls_ca,
        tls_cert=Path(cert) if cert else found.tls_cert,
        tls_key=Path(key) if key else found.tls_key,
    )
