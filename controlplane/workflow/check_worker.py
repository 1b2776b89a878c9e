"""The process that checks large workflow definitions for the control plane (started by
`controlplane.engine.executions.definition_checker`, one request at a time over its pipes).

Frames are a 4-byte big-endian length and a pickle: in, `(text, known agent names, whether to
send the definition back)`, optionally with the known workflow names as a fourth element (None
or absent: child workflows are not checked against the catalog) and the `WorkflowLimits` as a
fifth (absent: the defaults); out, `(definition or None, problems)`. A definition of thousands
of tasks takes tens of milliseconds to unpickle, so it is sent only when wanted. Pickle is safe
here: both ends are this package, and the pipes are private to the pair.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import IO, Any

from controlplane.workflow.definition import validate_workflow
from models.limits import DEFAULT_LIMITS
from models.workflows import Severity, ValidationProblem

# More problems than anyone reads; the rest are counted in one last problem.
MAX_PROBLEMS = 1000
HEADER = struct.Struct(">I")


def bounded(problems: list[ValidationProblem]) -> list[ValidationProblem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    more = len(problems) - MAX_PROBLEMS
    last = ValidationProblem("", f"... and {more} more problems", problems[MAX_PROBLEMS].severity)
    return [*problems[:MAX_PROBLEMS], last]


def write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def main() -> None:
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while header := source.read(HEADER.size):
        (length,) = HEADER.unpack(header)
        text, agents, wanted, *rest = pickle.loads(source.read(length))
        workflows = rest[0] if rest else None
        limits = rest[1] if len(rest) > 1 else DEFAULT_LIMITS
        definition, problems = validate_workflow(
            text, agents, Severity.WARNING, workflows, limits=limits
        )
        write_frame(sink, (definition if wanted else None, bounded(problems)))


if __name__ == "__main__":
    main()
