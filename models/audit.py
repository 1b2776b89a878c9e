"""What a reader of the audit log asks for (the events themselves are `security.AuditEvent`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditFilter:
    """Every field left at its default matches everything. `rpc` is "AgentService/DeployAgent"
    or the method alone ("DeployAgent"); times are seconds since the epoch, `start_time`
    included, `end_time` not."""

    namespace: str = ""
    caller: str = ""
    rpc: str = ""
    start_time: float | None = None
    end_time: float | None = None
