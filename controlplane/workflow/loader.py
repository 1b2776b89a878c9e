"""Reads a definition's text (JSON or YAML) into plain JSON values, within a budget.

YAML is read strictly, as the JSON subset of YAML 1.2: `on`, `yes` and `no` are strings, a date
is a string, duplicate keys and tags other than the JSON types are refused, and `.nan`/`.inf`
are refused (JSON has no such numbers). Before anything is built the event stream is measured,
so a small hostile text cannot cost much: nesting deeper than the limit and alias expansion
("billion laughs") beyond a node budget are refused without recursing or expanding anything.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from models.values import MAX_DEPTH

# A definition holds values (defaults, task inputs, outputs) three levels below its root; the
# margin lets a value that is a little too deep be reported with its own path.
DEFINITION_DEPTH_MARGIN = 8
MAX_DEFINITION_DEPTH = MAX_DEPTH + DEFINITION_DEPTH_MARGIN
# Nodes after expanding every alias: a 5,000-task definition has about 100,000.
MAX_NODES = 250_000


class DefinitionTooComplex(ValueError):
    """The text is nested too deeply or expands to too many nodes."""


class _StrictResolver(yaml.resolver.BaseResolver):
    """The YAML 1.2 core schema restricted to JSON scalars."""


_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"),
    list("-+.0123456789"),
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+."),
)


class _StrictConstructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node))
        if text.lower().lstrip("+-") in (".inf", ".nan"):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text} is not a JSON number", node.start_mark
            )
        return float(text)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is not a string", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def refuse_tag(self, node: yaml.Node) -> Any:
        raise yaml.constructor.ConstructorError(
            None, None, f"the tag {node.tag} is not a JSON type", node.start_mark
        )


_StrictConstructor.yaml_constructors = {
    "tag:yaml.org,2002:null": _StrictConstructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": _StrictConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _StrictConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _StrictConstructor.construct_yaml_float,
    "tag:yaml.org,2002:str": _StrictConstructor.construct_yaml_str,
    "tag:yaml.org,2002:seq": _StrictConstructor.construct_yaml_seq,
    "tag:yaml.org,2002:map": _StrictConstructor.construct_yaml_map,
    None: _StrictConstructor.refuse_tag,
}
_StrictConstructor.yaml_multi_constructors = {}


# libyaml parses and composes when PyYAML was built with it (several times faster).
_Parser: Any
try:
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _Parser = None


class _StrictPyLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _StrictConstructor,
    _StrictResolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _StrictConstructor.__init__(self)
        _StrictResolver.__init__(self)


if _Parser is not None:

    class _StrictCLoader(_Parser, _StrictConstructor, _StrictResolver):
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _StrictConstructor.__init__(self)
            _StrictResolver.__init__(self)

    _StrictLoader: Any = _StrictCLoader
else:
    _StrictLoader = _StrictPyLoader


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def measure_yaml(text: str, max_depth: int = MAX_DEFINITION_DEPTH) -> None:
    """Refuses text whose nesting or alias expansion is over budget; reads events only."""
    depth = 0
    nodes = 0
    # Expanded size of each anchored node, and of every collection still open.
    anchored: dict[str, int] = {}
    open_sizes: list[tuple[int, str | None]] = []

    def add(size: int, mark: Any) -> None:
        nonlocal nodes
        nodes += size
        if nodes > MAX_NODES:
            raise DefinitionTooComplex(
                f"definition expands to more than {MAX_NODES} values{_at(mark)}"
                " (aliases count once per use)"
            )

    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise DefinitionTooComplex(
                    f"definition is nested deeper than {max_depth} levels{_at(event.start_mark)}"
                )
            open_sizes.append((nodes, event.anchor))
            add(1, event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            start, anchor = open_sizes.pop()
            if anchor is not None:
                anchored[anchor] = nodes - start
        elif isinstance(event, yaml.ScalarEvent):
            add(1, event.start_mark)
            if event.anchor is not None:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            add(anchored.get(event.anchor or "", 1), event.start_mark)


def _load_yaml(text: str, max_depth: int) -> Any:
    measure_yaml(text, max_depth)
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _load_json(text: str, max_depth: int) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise DefinitionTooComplex(f"definition is nested deeper than {max_depth} levels") from None


def parse_text(text: str, max_depth: int = MAX_DEFINITION_DEPTH) -> Any:
    """The definition's values; ValueError says what is wrong and where. YAML nested deeper
    than `max_depth` is refused before it is built (JSON is measured by the caller)."""
    json_error: json.JSONDecodeError | None = None
    if text.lstrip().startswith("{"):
        # Text that looks like JSON is parsed as JSON first: YAML rejects some valid JSON
        # (tabs, `\/`), but a YAML flow mapping also starts with `{`, so fall back.
        try:
            return _load_json(text, max_depth)
        except json.JSONDecodeError as exc:
            json_error = exc
    try:
        return _load_yaml(text, max_depth)
    except yaml.YAMLError as exc:
        if json_error is not None:
            raise ValueError(
                f"invalid JSON at line {json_error.lineno}, column {json_error.colno}: "
                f"{json_error.msg}"
            ) from None
        raise ValueError(_yaml_message(exc)) from None


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "syntax error"
        if mark is not None:
            return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {reason}"
        return f"invalid YAML: {reason}"
    return f"invalid YAML: {exc}"
