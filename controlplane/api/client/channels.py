"""How a client reaches the control plane: plaintext or TLS (with a client certificate for
mutual TLS), and an API key sent as `authorization: Bearer` metadata on every call.

`Credentials.from_env()` reads ORCHESTRATOR_API_KEY and ORCHESTRATOR_TLS_CA / _CERT / _KEY
(ORCHESTRATOR_TLS=1 for TLS with the system's root certificates).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

API_KEY_ENV = "ORCHESTRATOR_API_KEY"
TLS_ENV = "ORCHESTRATOR_TLS"
TLS_CA_ENV = "ORCHESTRATOR_TLS_CA"
TLS_CERT_ENV = "ORCHESTRATOR_TLS_CERT"
TLS_KEY_ENV = "ORCHESTRATOR_TLS_KEY"


class CredentialsError(ValueError):
    """A client certificate without its key, or a file that is not PEM."""


@dataclass(frozen=True)
class Credentials:
    api_key: str | None = None
    # TLS: on with any of the files, or alone to trust the system's root certificates.
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if environ is None else environ

        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        return cls(
            api_key=env.get(API_KEY_ENV) or None,
            tls=env.get(TLS_ENV, "").lower() in ("1", "true", "yes"),
            tls_ca=path(TLS_CA_ENV),
            tls_cert=path(TLS_CERT_ENV),
            tls_key=path(TLS_KEY_ENV),
        )

    @property
    def uses_tls(self) -> bool:
        return self.tls or any(p is not None for p in (self.tls_ca, self.tls_cert, self.tls_key))

    def channel_credentials(self) -> grpc.ChannelCredentials:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise CredentialsError("a client certificate needs its key (--tls-cert, --tls-key)")
        return grpc.ssl_channel_credentials(
            root_certificates=_pem("--tls-ca", self.tls_ca),
            private_key=_pem("--tls-key", self.tls_key),
            certificate_chain=_pem("--tls-cert", self.tls_cert),
        )

    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.api_key}")] if self.api_key else []


def _pem(option: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise CredentialsError(f"{option}: {path} is not a PEM file")
    return data


_Details = collections.namedtuple(
    "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
)


class _CallDetails(_Details, grpc.ClientCallDetails):
    pass


def _with_metadata(details: Any, extra: Sequence[tuple[str, str]]) -> Any:
    metadata = [*(details.metadata or ()), *extra]
    if isinstance(details, grpc.aio.ClientCallDetails):
        return details._replace(metadata=metadata)
    return _CallDetails(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


class _SyncMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata
        self.closed = False

    def _go(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        # grpc crashes the process (SIGSEGV) on a call through an intercepted channel closed
        # underneath; a plain channel raises this.
        if self.closed:
            raise ValueError("Cannot invoke RPC on closed channel!")
        return continuation(_with_metadata(details, self._metadata), request)

    intercept_unary_unary = _go
    intercept_unary_stream = _go
    intercept_stream_unary = _go
    intercept_stream_stream = _go


class _AioUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)


class _AioUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return await continuation(_with_metadata(details, self._metadata), request)


class _AioStreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = metadata

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return await continuation(_with_metadata(details, self._metadata), requests)


class _KeyedChannel(grpc.Channel):
    """A channel that sends the API key with every call, and refuses calls once closed."""

    def __init__(self, channel: grpc.Channel, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = _SyncMetadata(metadata)
        self._channel = grpc.intercept_channel(channel, self._metadata)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._channel.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._channel.unsubscribe(callback)

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.unary_unary(*args, **kwargs)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.unary_stream(*args, **kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_stream(*args, **kwargs)

    def close(self) -> None:
        self._metadata.closed = True
        self._channel.close()

    def __enter__(self) -> _KeyedChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_channel(
    address: str, options: list[tuple[str, Any]], credentials: Credentials
) -> grpc.Channel:
    if credentials.uses_tls:
        channel = grpc.secure_channel(address, credentials.channel_credentials(), options)
    else:
        channel = grpc.insecure_channel(address, options=options)
    metadata = credentials.metadata()
    return _KeyedChannel(channel, metadata) if metadata else channel


def open_aio_channel(
    address: str, options: list[tuple[str, Any]], credentials: Credentials
) -> grpc.aio.Channel:
    metadata = credentials.metadata()
    interceptors: list[Any] = (
        [_AioUnaryUnary(metadata), _AioUnaryStream(metadata), _AioStreamUnary(metadata)]
        if metadata
        else []
    )
    if credentials.uses_tls:
        return grpc.aio.secure_channel(
            address, credentials.channel_credentials(), options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
