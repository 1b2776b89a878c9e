"""What both clients send for UploadPackage: the zip bytes of a source (a directory packaged
here, a zip file, or bytes) as a stream of chunks, the first declaring the sha256 and size."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from controlplane.api.client.packaging import PackagingError, build_package
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.packages import DEFAULT_MAX_PACKAGE_BYTES

CHUNK_BYTES = 1 << 20
# The call's deadline grows with the package: at least this many bytes a second get through.
SLOWEST_BYTES_PER_S = 1 << 20

PackageSource = bytes | str | os.PathLike[str]


@dataclass(frozen=True)
class Upload:
    data: bytes
    sha256: str

    @property
    def extra_s(self) -> float:
        return len(self.data) / SLOWEST_BYTES_PER_S

    def requests(self) -> Iterator[agent_pb2.UploadPackageRequest]:
        """Chunks of at most CHUNK_BYTES; produced as they are sent, so a server that holds
        the package already and answers at once leaves the rest unsent."""
        yield agent_pb2.UploadPackageRequest(
            sha256=self.sha256, size_bytes=len(self.data), data=self.data[:CHUNK_BYTES]
        )
        for start in range(CHUNK_BYTES, len(self.data), CHUNK_BYTES):
            yield agent_pb2.UploadPackageRequest(data=self.data[start : start + CHUNK_BYTES])


def prepare_upload(
    source: PackageSource, as_module: bool = False, max_bytes: int = DEFAULT_MAX_PACKAGE_BYTES
) -> Upload:
    """The upload of `source`: bytes of a zip, a zip file, or a directory to package (as a
    working_dir, or with `as_module` as a py_modules entry). PackagingError when it cannot."""
    if isinstance(source, bytes):
        data = source
    elif Path(source).is_dir():
        data = build_package(source, as_module=as_module, max_bytes=max_bytes).data
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise PackagingError(f"cannot read {source}: {exc.strerror or exc}") from None
    return Upload(data, hashlib.sha256(data).hexdigest())
