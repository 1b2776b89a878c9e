"""The unary calls of ScheduleService as data (see `calls`): both clients run these. Each names
its namespace ("*" for a list of all)."""

from __future__ import annotations

from controlplane.api.client.calls import Call, Page, Paged
from controlplane.api.client.errors import ClientError
from controlplane.api.codec.schedules import schedule_from_proto, schedule_spec_to_proto
from controlplane.api.gen.orchestrator.v1 import schedule_pb2
from models.schedules import Schedule, ScheduleSpec
from models.values import MAX_WIRE_DEPTH, value_problems


def create_schedule(spec: ScheduleSpec, namespace: str) -> Call[tuple[Schedule, bool]]:
    # As for StartExecution: name the path where protobuf could not even encode the value.
    problems = value_problems(spec.inputs, "schedule.inputs", MAX_WIRE_DEPTH, None)
    if problems:
        raise ClientError(
            "INVALID_ARGUMENT",
            f"inputs are not JSON values the API carries: {problems[0].path} "
            f"{problems[0].description}",
            [(p.path, p.description) for p in problems],
        )
    request = schedule_pb2.CreateScheduleRequest(
        schedule=schedule_spec_to_proto(spec), namespace=namespace
    )
    return Call(
        "schedules.CreateSchedule",
        request,
        lambda r: (schedule_from_proto(r.schedule), r.created),
    )


def get_schedule(name: str, namespace: str) -> Call[Schedule]:
    request = schedule_pb2.GetScheduleRequest(name=name, namespace=namespace)
    return Call("schedules.GetSchedule", request, lambda r: schedule_from_proto(r.schedule))


def list_schedules(page_size: int, namespace: str) -> Paged[Schedule]:
    def page(token: str) -> Call[Page[Schedule]]:
        request = schedule_pb2.ListSchedulesRequest(
            page_size=page_size, page_token=token, namespace=namespace
        )
        return Call(
            "schedules.ListSchedules",
            request,
            lambda r: Page([schedule_from_proto(s) for s in r.schedules], r.next_page_token),
        )

    return page


def pause_schedule(name: str, namespace: str) -> Call[Schedule]:
    request = schedule_pb2.PauseScheduleRequest(name=name, namespace=namespace)
    return Call("schedules.PauseSchedule", request, lambda r: schedule_from_proto(r.schedule))


def resume_schedule(name: str, namespace: str) -> Call[Schedule]:
    request = schedule_pb2.ResumeScheduleRequest(name=name, namespace=namespace)
    return Call("schedules.ResumeSchedule", request, lambda r: schedule_from_proto(r.schedule))


def delete_schedule(name: str, namespace: str) -> Call[None]:
    request = schedule_pb2.DeleteScheduleRequest(name=name, namespace=namespace)
    return Call("schedules.DeleteSchedule", request, lambda r: None)
