"""The server's TLS credentials from PEM files (requiring client certificates for mutual TLS);
a file that cannot be read is an error naming its setting. Clients: `client.channels`."""

from __future__ import annotations

from pathlib import Path

import grpc

from controlplane.config import ConfigError, TlsConfig


def read_pem(setting: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(setting, f"{path} is not a PEM file")
    return data


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials | None:
    """None without a certificate (plaintext)."""
    if tls.cert is None or tls.key is None:
        return None
    pair = (read_pem("tls.key", tls.key), read_pem("tls.cert", tls.cert))
    client_ca = None if tls.client_ca is None else read_pem("tls.client_ca", tls.client_ca)
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )
