"""What the user typed or pointed at: a usage problem (exit 2) and reading a file or stdin."""

from __future__ import annotations

import sys
from pathlib import Path


class UsageProblem(Exception):
    """A problem with what the user typed or pointed at (e.g. an unreadable file): exit 2."""


def read_text(path: str) -> str:
    """The UTF-8 text of a file (`-`: stdin); UsageProblem when it cannot be read as text."""
    shown = "stdin" if path == "-" else path
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read {shown}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageProblem(f"cannot read {shown}: not UTF-8 text (at byte {exc.start})") from None
