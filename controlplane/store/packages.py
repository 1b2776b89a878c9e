"""Package files in the data dir: `packages/sha256-<hex>.zip`, content-addressed.

A package is written to a temporary file beside its final name, checked (size, sha256, a zip
of relative paths), flushed to disk and renamed into place, so a file under a package's name is
always whole and correct, even after a crash or a full disk mid-upload.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from models.packages import PackageRef

PACKAGES_DIR = "packages"
_PARTIAL = ".part"


class PackageRejected(ValueError):
    """The received bytes are not the package they claim to be; `field` names what is wrong
    ("sha256", "size_bytes", "data")."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class PackageFiles:
    """The packages directory of one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / PACKAGES_DIR

    def path(self, ref: PackageRef) -> Path:
        return self.root / ref.file_name

    def has(self, ref: PackageRef) -> bool:
        return self.path(ref).is_file()

    def read(self, ref: PackageRef) -> bytes:
        """The zip bytes (FileNotFoundError when the package is not held)."""
        return self.path(ref).read_bytes()

    def remove_partial(self) -> None:
        """Deletes what uploads cut off by a stop or a crash left behind."""
        if not self.root.is_dir():
            return
        for leftover in self.root.glob(f"*{_PARTIAL}"):
            with contextlib.suppress(OSError):
                leftover.unlink()

    def begin(self, ref: PackageRef, size_bytes: int) -> PackageWrite:
        self.root.mkdir(parents=True, exist_ok=True)
        return PackageWrite(self, ref, size_bytes)


class PackageWrite:
    """One upload being written: `write` the chunks, then `commit` (or `abort`)."""

    def __init__(self, files: PackageFiles, ref: PackageRef, size_bytes: int) -> None:
        self._files = files
        self.ref = ref
        self.size_bytes = size_bytes
        self.received = 0
        self._hash = hashlib.sha256()
        self._temporary = files.root / f"{ref.file_name}.{uuid.uuid4().hex}{_PARTIAL}"
        self._out = self._temporary.open("wb")

    def write(self, data: bytes) -> None:
        if self.received + len(data) > self.size_bytes:
            raise PackageRejected(
                "size_bytes", f"more data arrived than the {self.size_bytes} bytes declared"
            )
        self._out.write(data)
        self._hash.update(data)
        self.received += len(data)

    def commit(self) -> None:
        """Checks the whole package, then makes it durable under its name."""
        if self.received != self.size_bytes:
            raise PackageRejected(
                "size_bytes",
                f"{self.size_bytes} bytes declared, the stream ended after {self.received}",
            )
        digest = self._hash.hexdigest()
        if digest != self.ref.digest:
            raise PackageRejected(
                "sha256", f"the data's sha256 is {digest}, not the {self.ref.digest} declared"
            )
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        check_zip(self._temporary)
        os.replace(self._temporary, self._files.path(self.ref))
        directory = os.open(self._files.root, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._out.close()
        with contextlib.suppress(OSError):
            self._temporary.unlink()


def check_zip(path: Path) -> None:
    """PackageRejected unless `path` is a zip whose every entry is a relative path inside it."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageRejected("data", f"is not a zip file ({exc})") from None
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if not parts or parts[0] == "/" or ".." in parts or ":" in parts[0]:
            raise PackageRejected(
                "data", f"the zip entry {name[:200]!r} is not a relative path inside the package"
            )
