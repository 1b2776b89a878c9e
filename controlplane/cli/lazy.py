"""Parts of the command tree resolved on first use, so that building it (and `--help`) imports
none of the heavy modules (numpy, statsmodels, the engine, Ray) the commands need to run."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class Handler:
    """A command's handler named by module and function; the module is imported when the
    command runs."""

    module: str
    function: str

    def resolve(self) -> Callable[..., int]:
        handler: Callable[..., int] = getattr(importlib.import_module(self.module), self.function)
        return handler

    def __call__(self, *args: Any) -> int:
        return self.resolve()(*args)


def handler(path: str) -> Handler:
    """`handler("controlplane.cli.client.agents:agents_list")`."""
    module, _, function = path.partition(":")
    return Handler(module, function)


Fill = Callable[[argparse.ArgumentParser], None]


class DeferredParser(argparse.ArgumentParser):
    """An argument parser whose arguments `fill` adds on first use (parsing, help or usage),
    and whose usage errors are one line.

    For a subcommand whose flags list names owned by a heavy module (forecast models, scaling
    metrics): the names are read only when that subcommand is used. Subparsers made with
    `add_subparsers` are of this class too, so `add_parser(name, fill=...)` works at any level.
    """

    def __init__(self, *args: Any, fill: Fill | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fill = fill

    def _complete(self) -> None:
        fill, self._fill = self._fill, None
        if fill is not None:
            fill(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._complete()
        return super().format_usage()

    def format_help(self) -> str:
        self._complete()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        """A usage error as one line (argparse would print the whole usage first), exit 2."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} -h)\n")
