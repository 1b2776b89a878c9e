"""A directory of agent code as a package: a zip whose bytes depend on the files' paths,
contents and executable bits only (entries sorted, fixed timestamps and permissions), so the
same tree always gives the same sha256 and an unchanged tree is never stored twice.

`.orchestratorignore` at the directory's root says what stays out (see `ignore_rules`);
`.git`, `__pycache__` and `.venv` always do. Empty directories are not kept. Symbolic links
are followed (a link to a directory already being packaged is skipped, so a loop ends).
"""

from __future__ import annotations

import hashlib
import heapq
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from controlplane.api.client.ignore_rules import IGNORE_FILE, IgnoreRules
from models.packages import DEFAULT_MAX_PACKAGE_BYTES

# Zip's earliest date: no clock or file time reaches the bytes.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_READ_CHUNK = 1 << 20
_LARGEST_SHOWN = 3


class PackagingError(Exception):
    """The directory cannot be packaged (missing, unreadable, too large); the message is one
    line naming the path."""


@dataclass(frozen=True)
class Package:
    """A built package: the zip bytes and their sha256 (64 lower-case hex digits)."""

    data: bytes
    sha256: str
    files: int

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def build_package(
    directory: str | os.PathLike[str],
    *,
    as_module: bool = False,
    max_bytes: int = DEFAULT_MAX_PACKAGE_BYTES,
) -> Package:
    """Zips `directory` for a runtime_env: as a working_dir (its contents at the top of the
    zip), or with `as_module` as a py_modules entry (inside a folder named after it, so
    `import <name>` works). PackagingError when it cannot, or when the zip would be larger
    than `max_bytes`."""
    root = Path(directory)
    if not root.is_dir():
        raise PackagingError(f"{root} is not a directory")
    prefix = ""
    if as_module:
        name = Path(os.path.abspath(directory)).name
        if not name.isidentifier():
            raise PackagingError(
                f"{directory}: a py_modules directory is imported by its name, and {name!r} "
                "is not a Python identifier"
            )
        prefix = f"{name}/"
    root = root.resolve()
    rules = _rules(root)
    files = _files(root, rules)
    if not files:
        raise PackagingError(f"{directory} has no file to package (all excluded, or empty)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative, path in files:
            _add(archive, path, prefix + relative, buffer, max_bytes, directory, files)
    data = buffer.getvalue()
    if len(data) > max_bytes:
        raise _too_large(directory, max_bytes, files)
    return Package(data, hashlib.sha256(data).hexdigest(), len(files))


def _rules(root: Path) -> IgnoreRules:
    ignore_file = root / IGNORE_FILE
    if not ignore_file.is_file():
        return IgnoreRules()
    try:
        return IgnoreRules.parse(ignore_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PackagingError(f"cannot read {ignore_file}: {exc}") from None


def _files(root: Path, rules: IgnoreRules) -> list[tuple[str, Path]]:
    """(path in the zip, file) of every file kept, sorted by path in the zip."""
    found: list[tuple[str, Path]] = []
    visiting = {root}

    def walk(directory: Path, relative: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as exc:
            raise PackagingError(f"cannot read {directory}: {exc.strerror or exc}") from None
        for entry in entries:
            path = Path(entry.path)
            inside = f"{relative}{entry.name}"
            try:
                is_dir = entry.is_dir()  # follows links
                is_file = entry.is_file()
            except OSError:
                is_dir = is_file = False
            if rules.excluded(inside, is_dir):
                continue
            if is_dir:
                real = path.resolve()
                if real in visiting:
                    continue  # a link back up the tree
                visiting.add(real)
                walk(path, inside + "/")
                visiting.discard(real)
            elif is_file:
                if not inside.isprintable():  # also names that are not UTF-8 (surrogates)
                    raise PackagingError(f"{str(path)!a}: the file name is not printable UTF-8")
                found.append((inside, path))
            elif not path.exists():
                raise PackagingError(f"{path} is a broken symbolic link")

    walk(root, "")
    found.sort(key=lambda item: item[0])
    return found


def _add(
    archive: zipfile.ZipFile,
    path: Path,
    name: str,
    buffer: io.BytesIO,
    max_bytes: int,
    directory: str | os.PathLike[str],
    files: list[tuple[str, Path]],
) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the permission bits below are read back
    try:
        status = path.stat()
        executable = bool(status.st_mode & stat.S_IXUSR)
        info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
        info.file_size = status.st_size  # decides whether the entry needs zip64 fields
        with path.open("rb") as source, archive.open(info, "w") as target:
            while chunk := source.read(_READ_CHUNK):
                target.write(chunk)
                if buffer.tell() > max_bytes:
                    raise _too_large(directory, max_bytes, files)
    except OSError as exc:
        raise PackagingError(f"cannot read {path}: {exc.strerror or exc}") from None


def _too_large(
    directory: str | os.PathLike[str], max_bytes: int, files: list[tuple[str, Path]]
) -> PackagingError:
    sizes = []
    for relative, path in files:
        try:
            sizes.append((path.stat().st_size, relative))
        except OSError:
            continue
    largest = ", ".join(
        f"{name} ({mib(size)})" for size, name in heapq.nlargest(_LARGEST_SHOWN, sizes)
    )
    return PackagingError(
        f"{directory} packs to more than {mib(max_bytes)} (the package size limit); "
        f"largest files: {largest}. Exclude files in {IGNORE_FILE} or raise the limit"
    )
