"""orchestrator.v1 AgentEvent <-> models.agent_events.AgentEvent."""

from __future__ import annotations

import logging

from controlplane.api.codec.agent_keys import key_from_wire, key_to_wire
from controlplane.api.codec.wellknown import dict_to_struct, seconds, struct_to_dict, timestamp
from controlplane.api.gen.orchestrator.v1 import agent_pb2
from models.agent_events import AgentEvent, AgentEventType

log = logging.getLogger(__name__)


def agent_event_to_proto(event: AgentEvent) -> agent_pb2.AgentEvent:
    return agent_pb2.AgentEvent(
        sequence=event.sequence,
        time=timestamp(event.time),
        type=event.type.value,
        source=event.source,
        namespace=key_to_wire(event.agent)[0],
        agent=key_to_wire(event.agent)[1],
        replica=event.replica,
        data=dict_to_struct(event.data),
    )


def agent_event_from_proto(message: agent_pb2.AgentEvent) -> AgentEvent | None:
    """None for a type this side does not know: a newer server may add types, and a reader
    should skip them rather than stop."""
    try:
        event_type = AgentEventType(message.type)
    except ValueError:
        log.debug("skipping unknown agent event type %r", message.type)
        return None
    return AgentEvent(
        sequence=message.sequence,
        time=seconds(message.time),
        agent=key_from_wire(message.namespace, message.agent),
        type=event_type,
        source=message.source,
        replica=message.replica,
        data=struct_to_dict(message.data),
    )
