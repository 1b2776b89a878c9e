"""Failures as a person reads them: one short line with the root cause first, and a bounded
detail without terminal colour codes.

Ray hands failures over as text (an actor whose constructor raised arrives as an
``ActorDiedError`` whose message is the remote traceback, coloured for a terminal) or as wrapper
exceptions whose ``cause`` attribute holds the original exception (``RayTaskError``). Everything
here works on plain exceptions and text, so it runs without Ray.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from collections.abc import Iterable

MAX_SUMMARY_CHARS = 300
MAX_DETAIL_CHARS = 16 * 1024
# Of a detail that is too long, the end is kept (the innermost frames and the exception).
DETAIL_HEAD_CHARS = 4 * 1024

# CSI sequences (colours, cursor moves) and the two-character escapes terminals also accept.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
# Python 3.11 marks the failing expression with lines of carets; Ray's remote tracebacks keep
# them without the source line they point at.
_CARETS = re.compile(r"^\s*[\^~]+\s*$")
# The last line of a Python traceback: "ValueError: message", "pkg.mod.Error: message", or a
# bare exception name.
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:\([\w.]*\))?)(?::(?P<message> .*)|$)")
_FRAME_LINE = re.compile(r'^\s+File "')


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def one_line(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """`text` without colour codes, its whitespace runs (newlines too) as one space, and cut to
    `limit` characters with an ellipsis."""
    flat = " ".join(strip_ansi(text).split())
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 0)] + "…"


def bounded_detail(text: str, limit: int = MAX_DETAIL_CHARS) -> str:
    """`text` without colour codes and caret-only lines; when still longer than `limit`, its
    beginning and its end with the number of characters left out between them."""
    lines = strip_ansi(text).splitlines()
    clean = "\n".join(line.rstrip() for line in lines if not _CARETS.match(line)).strip()
    if len(clean) <= limit:
        return clean
    head = min(DETAIL_HEAD_CHARS, limit // 4)
    marker = "\n... ({} characters left out) ...\n"
    tail = limit - head - len(marker.format(len(clean)))
    left_out = len(clean) - head - tail
    return clean[:head] + marker.format(left_out) + clean[len(clean) - tail :]


def innermost_exception(text: str) -> str | None:
    """The exception a Python traceback in `text` ends with (`"ValueError: bad"`), as one line;
    None when `text` holds no traceback frame followed by an exception line."""
    lines = strip_ansi(text).splitlines()
    seen_frame = False
    found: int | None = None
    for index, line in enumerate(lines):
        if _FRAME_LINE.match(line):
            seen_frame = True
        elif seen_frame and _EXCEPTION_LINE.match(line):
            found = index
    if found is None:
        return None
    # A message with newlines continues up to the blank line that separates chained exceptions.
    end = found + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    return one_line("\n".join(lines[found:end]))


def unwrap(exc: BaseException) -> BaseException:
    """The innermost exception behind wrappers that keep it as ``cause`` (Ray's RayTaskError,
    possibly nested)."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        cause = getattr(exc, "cause", None)
        if not isinstance(cause, BaseException):
            break
        exc = cause
    return exc


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(os.path.realpath(root) + os.sep for root in roots if root)


def where_raised(exc: BaseException, skip_files: Iterable[str] = ()) -> str:
    """`"MyAgent.__init__, my_agents.py:12"`: the innermost frame of `exc`'s traceback that is
    the user's code (outside the standard library, installed packages and `skip_files`); ""
    when there is none."""
    skipped = {os.path.realpath(path) for path in skip_files}
    roots = _library_roots()
    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        path = os.path.realpath(frame.f_code.co_filename)
        if path in skipped or path.startswith(roots) or frame.f_code.co_filename.startswith("<"):
            continue
        name = frame.f_code.co_qualname
        place = f"{os.path.basename(path)}:{line}"
        found = place if name == "<module>" else f"{name}, {place}"
    return found


def exception_summary(exc: BaseException, skip_files: Iterable[str] = ()) -> str:
    """`"ValueError: api_key is required (in MyAgent.__init__, my_agents.py:12)"`: type,
    message and the user's frame that raised it, as one bounded line."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    place = where_raised(exc, skip_files)
    suffix = f" (in {place})" if place else ""
    return one_line(text, MAX_SUMMARY_CHARS - len(suffix)) + suffix


def failure_summary(exc: BaseException) -> str:
    """One line naming the root cause of `exc`: the innermost wrapped exception, else the
    exception a traceback in its message ends with, else its type and first lines."""
    inner = unwrap(exc)
    if inner is not exc:
        message = str(inner)
        text = f"{type(inner).__name__}: {message}" if message else type(inner).__name__
        return one_line(text)
    message = str(exc)
    from_text = innermost_exception(message)
    if from_text is not None:
        return from_text
    return one_line(f"{type(exc).__name__}: {message}" if message.strip() else type(exc).__name__)
