"""Packaging a directory of agent code: the same tree always gives the same bytes, the ignore
rules decide what goes in, and a directory over the size limit is refused naming its largest
files."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from controlplane.api.client.ignore_rules import IgnoreRules, parse_rule
from controlplane.api.client.packaging import FIXED_TIME, PackagingError, build_package


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def names(data: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


CODE = {
    "agent.py": "class Agent: ...\n",
    "lib/__init__.py": "",
    "lib/util.py": "X = 1\n",
    "run.sh": "#!/bin/sh\n",
}


def test_the_same_tree_gives_the_same_sha256_wherever_and_whenever_it_is(tmp_path: Path) -> None:
    first = tree(tmp_path / "a", CODE)
    second = tree(tmp_path / "elsewhere" / "b", dict(reversed(CODE.items())))
    os.utime(second / "agent.py", (1_000_000_000, 1_000_000_000))
    (second / "lib" / "util.py").chmod(0o600)  # only the executable bit is kept
    one, other = build_package(first), build_package(second)
    assert one.data == other.data and one.sha256 == other.sha256 and one.files == 4
    assert names(one.data) == ["agent.py", "lib/__init__.py", "lib/util.py", "run.sh"]
    archive = zipfile.ZipFile(io.BytesIO(one.data))
    assert {info.date_time for info in archive.infolist()} == {FIXED_TIME}
    assert {info.external_attr >> 16 & 0o777 for info in archive.infolist()} == {0o644}


def test_a_changed_file_or_executable_bit_changes_the_sha256(tmp_path: Path) -> None:
    root = tree(tmp_path / "code", CODE)
    before = build_package(root).sha256
    (root / "run.sh").chmod(0o755)
    executable = build_package(root)
    assert executable.sha256 != before
    modes = {i.filename: i.external_attr >> 16 & 0o777 for i in zipfile.ZipFile(
        io.BytesIO(executable.data)).infolist()}  # fmt: skip
    assert modes["run.sh"] == 0o755 and modes["agent.py"] == 0o644
    (root / "lib" / "util.py").write_text("X = 2\n")
    assert build_package(root).sha256 != executable.sha256


def test_a_module_is_packaged_inside_a_folder_of_its_name(tmp_path: Path) -> None:
    module = tree(tmp_path / "mylib", {"__init__.py": "", "core.py": "Y = 1\n"})
    assert names(build_package(module, as_module=True).data) == [
        "mylib/__init__.py",
        "mylib/core.py",
    ]
    with pytest.raises(PackagingError, match="'my-lib' is not a Python identifier"):
        build_package(tree(tmp_path / "my-lib", {"a.py": ""}), as_module=True)


def test_version_control_caches_and_virtualenvs_always_stay_out(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "code",
        {
            "agent.py": "",
            ".git/HEAD": "ref",
            "lib/__pycache__/util.cpython-311.pyc": "x",
            ".venv/bin/python": "x",
            "lib/.venv": "a file named .venv",
        },
    )
    (root / ".orchestratorignore").write_text("!.git\n!__pycache__/\n")
    assert names(build_package(root).data) == [".orchestratorignore", "agent.py"]


def test_the_ignore_file_excludes_and_brings_back(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "code",
        {
            "agent.py": "",
            "notes.pyc": "",
            "data/big.bin": "",
            "data/keep.txt": "",
            "docs/a.md": "",
            "docs/deep/b.md": "",
            "build/out.txt": "",
            "src/build": "a file, not a directory",
            "logs/2024/x.log": "",
            "logs/keep.log": "",
        },
    )
    (root / ".orchestratorignore").write_text(
        "# comments and blank lines are skipped\n\n"
        "*.pyc\n"
        "data/*\n"
        "!data/keep.txt\n"
        "/docs/*.md\n"
        "build/\n"
        "logs/**/*.log\n"
        "!logs/keep.log\n"
    )
    assert names(build_package(root).data) == [
        ".orchestratorignore",
        "agent.py",
        "data/keep.txt",
        "docs/deep/b.md",
        "logs/keep.log",
        "src/build",
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "excluded"),
    [
        ("*.pyc", "a/b/c.pyc", False, True),
        ("*.pyc", "a/b/c.py", False, False),
        ("secret", "deep/down/secret", False, True),
        ("/secret", "deep/secret", False, False),
        ("/secret", "secret", False, True),
        ("a/*.txt", "a/x.txt", False, True),
        ("a/*.txt", "a/b/x.txt", False, False),  # `*` stops at `/`
        ("a/**/x.txt", "a/x.txt", False, True),
        ("a/**/x.txt", "a/b/c/x.txt", False, True),
        ("**/cache", "p/q/cache", True, True),
        ("out/", "out", False, False),  # directories only
        ("out/", "out", True, True),
        ("t?st.py", "test.py", False, True),
        ("[ab].py", "c.py", False, False),
        ("\\#literal", "#literal", False, True),
    ],
)
def test_one_pattern(pattern: str, path: str, is_dir: bool, excluded: bool) -> None:
    assert IgnoreRules.parse(pattern).excluded(path, is_dir) is excluded


def test_the_last_matching_line_wins() -> None:
    rules = IgnoreRules.parse("*.log\n!important.log\nimportant.log\n")
    assert rules.excluded("important.log", False)
    assert not IgnoreRules.parse("*.log\n!important.log\n").excluded("important.log", False)
    assert parse_rule("   ") is None and parse_rule("# note") is None and parse_rule("/") is None


def test_over_the_size_limit_is_refused_naming_the_largest_files(tmp_path: Path) -> None:
    root = tree(tmp_path / "code", {"agent.py": "class A: ...\n"})
    (root / "model.bin").write_bytes(os.urandom(300_000))  # random: does not compress
    (root / "weights.bin").write_bytes(os.urandom(200_000))
    with pytest.raises(PackagingError) as refused:
        build_package(root, max_bytes=256 * 1024)
    message = str(refused.value)
    assert "packs to more than 0.2 MiB (the package size limit)" in message
    assert "model.bin (0.3 MiB), weights.bin (0.2 MiB)" in message
    assert ".orchestratorignore" in message and "\n" not in message
    (root / ".orchestratorignore").write_text("*.bin\n")
    assert build_package(root, max_bytes=256 * 1024).files == 2


def test_what_cannot_be_packaged_says_why(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="is not a directory"):
        build_package(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackagingError, match="has no file to package"):
        build_package(tmp_path / "empty")
    root = tree(tmp_path / "code", {"agent.py": ""})
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(PackagingError, match="dangling is a broken symbolic link"):
        build_package(root)
    (root / "dangling").unlink()
    (root / os.fsdecode(b"bad\xffname.py")).write_text("")
    with pytest.raises(PackagingError, match="the file name is not printable UTF-8"):
        build_package(root)


def test_links_are_followed_and_a_loop_ends(tmp_path: Path) -> None:
    shared = tree(tmp_path / "shared", {"tools.py": "T = 1\n"})
    root = tree(tmp_path / "code", {"agent.py": ""})
    (root / "linked").symlink_to(shared)
    (root / "loop").symlink_to(root)
    assert names(build_package(root).data) == ["agent.py", "linked/tools.py"]
