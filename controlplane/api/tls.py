"""TLS credentials from PEM files, for the server (optionally requiring client certificates)
and for clients. A file that cannot be read is an error naming its setting."""

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


def channel_credentials(
    ca: Path | None, cert: Path | None, key: Path | None
) -> grpc.ChannelCredentials:
    """Client TLS: `ca` verifies the server (None: the system's roots); `cert` and `key` are
    the client's certificate for mutual TLS."""
    if (cert is None) != (key is None):
        raise ConfigError("tls", "a client certificate needs its key (--tls-cert with --tls-key)")
    return grpc.ssl_channel_credentials(
        root_certificates=None if ca is None else read_pem("tls_ca", ca),
        private_key=None if key is None else read_pem("tls_key", key),
        certificate_chain=None if cert is None else read_pem("tls_cert", cert),
    )
