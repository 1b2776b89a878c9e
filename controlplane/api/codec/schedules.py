"""orchestrator.v1 Schedule <-> models.schedules.

A request's unset fields read as the model defaults (time zone UTC, overlap SKIP, catch-up
window 1 h); output-only fields of a request are ignored. Whether a spec makes sense is the
engine's to say."""

from __future__ import annotations

from controlplane.api.codec.enums import matching_table
from controlplane.api.codec.wellknown import (
    dict_to_struct,
    duration,
    instant,
    optional_seconds,
    struct_to_dict,
    timestamp,
)
from controlplane.api.gen.orchestrator.v1 import schedule_pb2
from models.schedules import (
    DEFAULT_CATCH_UP_WINDOW_S,
    DEFAULT_TIME_ZONE,
    FiringState,
    OverlapPolicy,
    Schedule,
    ScheduleSpec,
)

OVERLAP_POLICIES = matching_table(
    schedule_pb2.OverlapPolicy, OverlapPolicy, unspecified=OverlapPolicy.SKIP
)


def schedule_spec_to_proto(spec: ScheduleSpec) -> schedule_pb2.Schedule:
    return schedule_pb2.Schedule(
        name=spec.name,
        workflow=spec.workflow,
        revision=spec.revision,
        inputs=dict_to_struct(spec.inputs),
        cron=spec.cron,
        time_zone=spec.time_zone,
        overlap_policy=OVERLAP_POLICIES.to_proto(spec.overlap_policy),
        catch_up_window=duration(spec.catch_up_window_s),
        namespace=spec.namespace,
        paused=spec.paused,
    )


def schedule_spec_from_proto(message: schedule_pb2.Schedule, field: str) -> ScheduleSpec:
    """The spec part of `message`, read from the request field at path `field`."""
    window = optional_seconds(message, "catch_up_window")
    return ScheduleSpec(
        name=message.name,
        workflow=message.workflow,
        cron=message.cron,
        revision=message.revision,
        inputs=struct_to_dict(message.inputs),
        time_zone=message.time_zone or DEFAULT_TIME_ZONE,
        overlap_policy=OVERLAP_POLICIES.from_proto(
            message.overlap_policy, f"{field}.overlap_policy"
        ),
        catch_up_window_s=DEFAULT_CATCH_UP_WINDOW_S if window is None else window,
        namespace=message.namespace,
        paused=message.paused,
    )


def schedule_to_proto(schedule: Schedule) -> schedule_pb2.Schedule:
    message = schedule_spec_to_proto(schedule.spec)
    state = schedule.state
    message.schedule_id = schedule.schedule_id
    message.create_time.CopyFrom(instant(schedule.create_time))
    message.update_time.CopyFrom(instant(schedule.update_time))
    for name in ("next_fire_time", "last_fire_time", "buffered_fire_time"):
        value = timestamp(getattr(state, name))
        if value is not None:
            getattr(message, name).CopyFrom(value)
    message.last_execution_ids.extend(state.last_execution_ids)
    message.skipped_count = state.skipped_count
    message.missed_count = state.missed_count
    message.failed_count = state.failed_count
    message.last_error = state.last_error
    return message


def schedule_from_proto(message: schedule_pb2.Schedule) -> Schedule:
    return Schedule(
        spec=schedule_spec_from_proto(message, "schedule"),
        schedule_id=message.schedule_id,
        create_time=optional_seconds(message, "create_time") or 0.0,
        update_time=optional_seconds(message, "update_time") or 0.0,
        state=FiringState(
            next_fire_time=optional_seconds(message, "next_fire_time"),
            last_fire_time=optional_seconds(message, "last_fire_time"),
            last_execution_ids=tuple(message.last_execution_ids),
            buffered_fire_time=optional_seconds(message, "buffered_fire_time"),
            skipped_count=message.skipped_count,
            missed_count=message.missed_count,
            failed_count=message.failed_count,
            last_error=message.last_error,
        ),
    )
