"""CEL conditions (`when`, `loop.until`): checked when a workflow is created, evaluated by the
engine while it runs.

The CEL implementation is the CEL project's own C++ runtime (`cel-expr-python`): its type
checker finds syntax errors, undeclared names and type errors with their line and column at
create time, and a compiled program evaluates in microseconds, reading only the parts of the
activation it touches. Its runtime bounds every evaluation: a comprehension (`exists`, `all`,
`map`, `filter`) over 10,000 elements or more fails with "Iteration budget exceeded", so no
condition can hold the engine's event loop for long.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cel_expr_python import cel

from models.workflows import ValidationProblem

# The names a condition may read, by place (the engine's activation holds exactly these):
# `when` decides for the whole task once its dependencies ended, over the inputs and the
# tasks (id -> {"output", "status"}); in a finally task also `execution` ({"status": what
# the execution ends as}). `loop` is a reserved word in CEL, so loop.until reads the loop's
# state as `iteration` (the 1-based number of the iteration that produced `output`) and
# `previous` (the output of the iteration before; null after the first), the values
# `${loop.iteration}` and `${loop.previous}` held in that iteration's input.
WHEN_NAMES = frozenset({"inputs", "tasks"})
UNTIL_NAMES = WHEN_NAMES | {"output", "iteration", "previous"}
FINALLY_NAMES = frozenset({"execution"})

# Where a name that is not available here can be used, for the hint in the problem.
_WHERE_AVAILABLE = {
    "item": "only as ${item} in the input of a for_each task, not in its conditions",
    "index": "only as ${index} in the input of a for_each task, not in its conditions",
    "output": "only in loop.until",
    "iteration": "only in loop.until",
    "previous": "only in loop.until",
    "execution": "only in the conditions of finally tasks",
}
_RESERVED_HINTS = {
    "loop": "'loop' is a reserved word in CEL: loop.until reads `iteration` and `previous`",
}

_TYPES: dict[str, cel.Type] = {
    "inputs": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    "tasks": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    "execution": cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    "iteration": cel.Type.INT,
    "output": cel.Type.DYN,
    "previous": cel.Type.DYN,
}

# Far beyond any readable condition; keeps the checker's work per condition small.
MAX_CONDITION_LENGTH = 4096
MAX_MESSAGE_LENGTH = 500
# The same condition is evaluated for many items and iterations: compile it once.
COMPILED_CACHE_SIZE = 1024

_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r" \[[A-Z_]+\]$")
_CHECK_ERROR = re.compile(r"^ERROR: <input>:(-?\d+):(-?\d+): (.*)$")
_UNDECLARED = re.compile(r"^undeclared reference to '([^']*)'")
_RESERVED = re.compile(r"^reserved identifier: (\w+)")


class ConditionError(Exception):
    """A condition that failed while the engine evaluated it: the CEL error, or a result
    that is not a boolean."""


@dataclass(frozen=True)
class _CelError:
    line: int
    column: int
    message: str

    @property
    def where(self) -> str:
        if self.column < 1:  # limits of the whole expression have no position
            return ""
        if self.line > 1:
            return f" (at line {self.line}, column {self.column})"
        return f" (at column {self.column})"

    def __str__(self) -> str:
        return f"{self.message}{self.where}"


@dataclass(frozen=True)
class _Compiled:
    program: cel.Expression | None
    errors: tuple[_CelError, ...]
    result_type: str  # the checked type's name ("bool", "dyn", "int", ...); "" when invalid


def condition_problems(
    text: str, path: str, names: frozenset[str], task_ids: Collection[str] | None = None
) -> list[ValidationProblem]:
    """What is wrong with the condition `text` at `path`, as far as can be seen before it runs:
    syntax, names outside `names`, type errors, a result that cannot be a boolean and, when
    `task_ids` is given, `tasks.<id>` for ids that are not among them."""
    if not text.strip():
        return [ValidationProblem(path, "condition is empty")]
    if len(text) > MAX_CONDITION_LENGTH:
        return [
            ValidationProblem(path, f"condition is longer than {MAX_CONDITION_LENGTH:,} characters")
        ]
    compiled = _compile(text, names)
    messages = dict.fromkeys(_explain(error, names) for error in compiled.errors)
    problems = [ValidationProblem(path, message) for message in messages]
    if compiled.program is None:
        return problems
    if compiled.result_type not in ("bool", "dyn"):
        problems.append(
            ValidationProblem(path, f"condition yields {compiled.result_type}, not a boolean")
        )
    if task_ids is not None:
        known = set(task_ids)
        for task_id in condition_task_ids(text):
            if task_id not in known:
                problems.append(ValidationProblem(path, f"references unknown task '{task_id}'"))
    return problems


def evaluate_condition(text: str, activation: Mapping[str, Any]) -> bool:
    """The condition's value over `activation` (JSON values by name: `inputs`, `tasks` as
    id -> {"output", "status"}, ...); raises ConditionError."""
    compiled = _compile(text, frozenset(activation))
    if compiled.program is None:
        raise ConditionError("; ".join(str(error) for error in compiled.errors))
    try:
        result = compiled.program.eval(data=dict(activation))
    except RuntimeError as exc:  # e.g. the runtime's iteration budget
        raise ConditionError(_clean(str(exc))) from None
    kind = result.type()
    if kind == cel.Type.BOOL:
        return bool(result.value())
    if kind == cel.Type.ERROR or kind == cel.Type.UNKNOWN:
        raise ConditionError(_clean(str(result.value())))
    raise ConditionError(f"condition yielded {_type_name(kind)}, not a boolean")


def condition_task_ids(text: str) -> list[str]:
    """The task ids a condition reads as `tasks.ID` or `tasks["ID"]`, first occurrence order.

    Read from the tokens, so strings and comments are not mistaken for references; a task id
    computed at run time (`tasks[inputs.name]`) cannot be seen.
    """
    tokens = list(_tokens(text))
    found: list[str] = []
    for i, (kind, value) in enumerate(tokens):
        if kind != "ident" or value != "tasks" or (i and tokens[i - 1] == ("punct", ".")):
            continue
        task_id = _selected(tokens[i + 1 : i + 4])
        if task_id is not None and task_id not in found:
            found.append(task_id)
    return found


# --- compiling ---------------------------------------------------------------------------

_environments: dict[frozenset[str], cel.Env] = {}
_lock = threading.Lock()


def _environment(names: frozenset[str]) -> cel.Env:
    with _lock:
        env = _environments.get(names)
        if env is None:
            variables = {name: _TYPES.get(name, cel.Type.DYN) for name in names}
            env = _environments[names] = cel.NewEnv(variables=variables)
        return env


@lru_cache(maxsize=COMPILED_CACHE_SIZE)
def _compile(text: str, names: frozenset[str]) -> _Compiled:
    env = _environment(names)
    try:
        with _lock:
            program = env.compile(text)
    except RuntimeError as exc:
        return _Compiled(None, _check_errors(str(exc)), "")
    return _Compiled(program, (), _type_name(program.return_type()))


def _check_errors(report: str) -> tuple[_CelError, ...]:
    """The checker's report ("ERROR: <input>:1:4: message", then a snippet and a caret per
    error) as errors; the snippet lines are left out."""
    errors = []
    for line in _clean(report).splitlines():
        found = _CHECK_ERROR.match(line)
        if found is not None:
            message = found.group(3).replace(" (in container '')", "")
            errors.append(_CelError(int(found.group(1)), int(found.group(2)), message))
    return tuple(errors) or (_CelError(1, 1, _clean(report)),)


def _explain(error: _CelError, names: frozenset[str]) -> str:
    reserved = _RESERVED.match(error.message)
    if reserved is not None and reserved.group(1) in _RESERVED_HINTS:
        return f"{_RESERVED_HINTS[reserved.group(1)]}{error.where}"
    undeclared = _UNDECLARED.match(error.message)
    if undeclared is None:
        return str(error)
    name = undeclared.group(1).split(".")[0]
    if name in _WHERE_AVAILABLE and name not in names:
        return f"'{name}' is available {_WHERE_AVAILABLE[name]}{error.where}"
    available = ", ".join(sorted(names))
    return f"unknown name '{name}'{error.where}; available here: {available}"


def _clean(message: str) -> str:
    """The message without the runtime's status code, and cut short: some quote the whole
    value they refused."""
    text = _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", message.strip()))
    if len(text) <= MAX_MESSAGE_LENGTH:
        return text
    return f"{text[:MAX_MESSAGE_LENGTH]}... ({len(text):,} characters)"


def _type_name(kind: cel.Type) -> str:
    """`LIST<DYN>` -> list, `BOOL` -> bool."""
    return str(kind.name()).split("<")[0].lower()


# --- reading task references ---------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<string>[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''
                              |"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>\d[\w.]*)
    | (?P<punct>.)
    """,
    re.VERBOSE,
)


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        if kind != "space":
            yield kind, match.group()


def _selected(after: list[tuple[str, str]]) -> str | None:
    """The id in `. ID` or `[ "ID" ]` following `tasks`."""
    if len(after) >= 2 and after[0] == ("punct", ".") and after[1][0] == "ident":
        return after[1][1]
    if len(after) == 3 and after[0] == ("punct", "[") and after[2] == ("punct", "]"):
        kind, literal = after[1]
        if kind == "string" and literal[0] in "'\"" and "\\" not in literal:
            return literal.strip(literal[0])
    return None
