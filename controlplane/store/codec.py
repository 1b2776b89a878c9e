"""Row <-> model conversion for the SQLite store (JSON for nested values)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from models.agents import AgentSpec, EndpointOptions, ReplicaResources
from models.executions import ErrorInfo
from models.values import json_text


def dump(value: Any) -> str:
    return json_text(value)


def load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def dump_error(error: ErrorInfo | None) -> str | None:
    return None if error is None else dump(asdict(error))


def load_error(text: str | None) -> ErrorInfo | None:
    data = load(text)
    return None if data is None else ErrorInfo(**data)


def dump_agent_spec(spec: AgentSpec) -> str:
    return dump(asdict(spec))


def load_agent_spec(text: str) -> AgentSpec:
    data = json.loads(text)
    data["resources"] = ReplicaResources(**data["resources"])
    data["capabilities"] = tuple(data["capabilities"])
    # Rows stored before external agents have no endpoint fields: the defaults apply.
    data["endpoint_options"] = EndpointOptions(**data.get("endpoint_options", {}))
    return AgentSpec(**data)
