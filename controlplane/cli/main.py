"""Entry point of the `orchestrator` command: parse, run the command's handler, map failures to
one line on stderr and an exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from controlplane.cli.parser import build_parser
from controlplane.cli.parsing import error_line
from controlplane.cli.usage import UsageProblem
from models.values import shorten

# Exit codes (documented in the README): scripts can tell a typo from an outage from a refusal.
EXIT_FAILED = 1  # the command ran and what it did failed (e.g. `run --wait` on a failed execution)
EXIT_USAGE = 2  # bad arguments or unreadable local input; nothing was sent
EXIT_UNREACHABLE = 3  # no answer from the control plane (UNAVAILABLE, DEADLINE_EXCEEDED)
EXIT_REJECTED = 4  # the control plane answered and refused the request
_UNREACHABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    return EXIT_USAGE


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    sys.stderr.write(" ".join(message.split()) + "\n")
    sys.stderr.flush()
    return code


def _run_server_command(args: argparse.Namespace) -> int:
    try:
        code: int = args.runner(args)
        return code
    except (KeyboardInterrupt, OSError, UsageProblem):
        raise
    except Exception as exc:
        return _command_failed(args, exc)


def _command_failed(args: argparse.Namespace, exc: Exception) -> int:
    """One line (the traceback only with --verbose), exit 1."""
    if args.verbose:
        logging.getLogger(__name__).exception("%s failed", args.command)
    return _fail(
        f"error: {args.command} failed: {type(exc).__name__}: {shorten(str(exc), 500)}",
        EXIT_FAILED,
    )


def _run_client_command(args: argparse.Namespace) -> int:
    # Imported here: neither the gRPC client nor rich is needed to parse or to print help.
    from controlplane.api.client import ClientError, CredentialsError, OrchestratorClient
    from controlplane.cli.credentials import credentials_from_args
    from controlplane.cli.render import make_console

    try:
        credentials = credentials_from_args(args)
        with OrchestratorClient(
            args.address,
            timeout_s=args.timeout,
            credentials=credentials,
            namespace=args.namespace,
        ) as client:
            code: int = args.handler(args, client, make_console())
            return code
    except ClientError as exc:
        code = EXIT_UNREACHABLE if exc.code_name in _UNREACHABLE_CODES else EXIT_REJECTED
        return _fail(error_line(exc.code_name, exc.message, exc.violations), code)
    except CredentialsError as exc:
        raise UsageProblem(str(exc)) from None
    except (OSError, UsageProblem):
        raise
    except Exception as exc:
        # An answer this CLI cannot read (e.g. a newer server's enum value).
        return _command_failed(args, exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return _exit_code(exc)
    try:
        local_handler = getattr(args, "local_handler", None)
        if local_handler is not None:
            local_code: int = local_handler(args)
            return local_code
        if getattr(args, "runner", None) is not None:
            return _run_server_command(args)
        return _run_client_command(args)
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except UsageProblem as exc:
        return _fail(f"error: {exc}")
    except OSError as exc:
        return _fail(f"error: {exc}")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
