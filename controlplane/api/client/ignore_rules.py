"""`.orchestratorignore`: which files of a directory stay out of its package.

The subset of gitignore syntax it understands, one pattern per line:
- blank lines and lines starting with `#` are skipped; `\\#` and `\\!` start a pattern with
  those characters;
- `*`, `?` and `[abc]` match within one path segment (never across `/`);
- `**` as a whole segment matches any number of directories (`**/build`, `logs/**`,
  `a/**/b`);
- a pattern with a `/` at its start or in its middle is anchored at the directory's root
  (`/dist`, `docs/*.md`); one without matches at any depth (`*.pyc`, `node_modules`);
- a trailing `/` matches directories only (`build/`);
- `!pattern` brings back what an earlier pattern excluded; the last matching line wins. As in
  git, nothing inside an excluded directory can be brought back (it is not even read).
Not supported: trailing-space escapes and ignore files in subdirectories.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

IGNORE_FILE = ".orchestratorignore"
# Never packaged, whatever the ignore file says: version control, caches, virtualenvs.
ALWAYS_EXCLUDED = frozenset({".git", "__pycache__", ".venv"})


@dataclass(frozen=True)
class Rule:
    segments: tuple[str, ...]
    negated: bool
    directories_only: bool

    def matches(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        if self.directories_only and not is_dir:
            return False
        return _match(self.segments, parts)


def _match(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    """Segment-wise glob match; `**` takes zero or more whole segments."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and _match(rest, parts[1:])


def parse_rule(line: str) -> Rule | None:
    """The rule of one line of an ignore file; None for blank lines and comments."""
    text = line.rstrip("\r\n").rstrip()
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    if negated or text.startswith(("\\#", "\\!")):
        text = text[1:]  # the "!", or the backslash escaping a leading "#" or "!"
    directories_only = text.endswith("/")
    text = text.rstrip("/")
    anchored = "/" in text
    segments = tuple(s for s in text.strip("/").split("/") if s)
    if not segments:
        return None
    if not anchored:
        segments = ("**", *segments)
    return Rule(segments, negated, directories_only)


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[Rule, ...] = ()

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        return cls(tuple(rule for line in text.splitlines() if (rule := parse_rule(line))))

    def excluded(self, relative_path: str, is_dir: bool) -> bool:
        """Whether the file or directory at `relative_path` ("a/b.py", '/'-separated, relative
        to the packaged directory) stays out."""
        parts = tuple(relative_path.split("/"))
        if parts[-1] in ALWAYS_EXCLUDED:
            return True
        excluded = False
        for rule in self.rules:
            if rule.negated == excluded and rule.matches(parts, is_dir):
                excluded = not rule.negated
        return excluded
