"""orchestrator.v1.WorkflowService. Every request names its namespace (`request_namespace`);
the catalog looks workflows up there and the engine answers an execution of another namespace
as NotFound."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from controlplane.api.caller import current_caller
from controlplane.api.codec.modifications import in_request_terms, operations_from_proto
from controlplane.api.codec.wellknown import from_value, struct_to_dict
from controlplane.api.codec.workflows import (
    EXECUTION_STATUSES,
    EXECUTION_VIEWS,
    VALUE_PARTS,
    WORKFLOW_VIEWS,
    create_workflow_to_proto,
    event_to_proto,
    execution_to_proto,
    validation_to_proto,
    workflow_to_proto,
)
from controlplane.api.fitting import fit_event, fit_execution, fit_page
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.api.servicers.guard import streaming, unary
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.service import ExecutionEngine
from models.errors import FailedPrecondition, InvalidArgument, invalid
from models.executions import ExecutionRecord
from models.namespaces import request_namespace
from models.values import INLINE_VALUE_BYTES
from models.workflows import (
    CreateWorkflowResult,
    Severity,
    ValidationResult,
    View,
    WorkflowRevision,
    WorkflowView,
)

Ctx: TypeAlias = grpc.aio.ServicerContext

CHUNK_BYTES = 1 << 20


def _view(number: int, default: View) -> View:
    """The view a request asks for; UNSPECIFIED is the RPC's documented default."""
    return default if number == 0 else EXECUTION_VIEWS.from_proto(number, "view")


def _inline_limit(view: View) -> int:
    """Values the store need not even read for `view`: the rest come by ReadExecutionValue."""
    return INLINE_VALUE_BYTES if view is View.FULL else 0


def _without_definition(view: WorkflowView) -> WorkflowView:
    return dataclasses.replace(
        view, revision=dataclasses.replace(view.revision, definition_text="")
    )


def _full(record: ExecutionRecord) -> workflow_pb2.Execution:
    return fit_execution(record, View.FULL, execution_to_proto)


class WorkflowServicer(workflow_pb2_grpc.WorkflowServiceServicer):
    def __init__(self, catalog: WorkflowCatalog, executions: ExecutionEngine) -> None:
        self._catalog = catalog
        self._executions = executions

    async def _workflow(self, revision: WorkflowRevision, latest: int) -> WorkflowView:
        task_ids = tuple(t.id for t in (await self._catalog.load_definition(revision)).tasks)
        return WorkflowView(revision, latest, task_ids)

    @unary
    async def CreateWorkflow(
        self, request: workflow_pb2.CreateWorkflowRequest, context: Ctx
    ) -> workflow_pb2.CreateWorkflowResponse:
        namespace = request_namespace(request.namespace)
        if not request.definition.strip():
            raise invalid("definition", "is required")
        revision, created, warnings = await self._catalog.create(
            request.definition, namespace=namespace
        )
        latest = self._catalog.get(revision.name, namespace=namespace).revision
        view = await self._workflow(revision, latest)
        return create_workflow_to_proto(CreateWorkflowResult(view, created, list(warnings)))

    @unary
    async def GetWorkflow(
        self, request: workflow_pb2.GetWorkflowRequest, context: Ctx
    ) -> workflow_pb2.GetWorkflowResponse:
        namespace = request_namespace(request.namespace)
        if not request.name:
            raise invalid("name", "is required")
        latest = self._catalog.get(request.name, namespace=namespace)
        revision = (
            self._catalog.get(request.name, request.revision, namespace=namespace)
            if request.revision
            else latest
        )
        view = await self._workflow(revision, latest.revision)
        return workflow_pb2.GetWorkflowResponse(workflow=workflow_to_proto(view))

    @unary
    async def ListWorkflows(
        self, request: workflow_pb2.ListWorkflowsRequest, context: Ctx
    ) -> workflow_pb2.ListWorkflowsResponse:
        basic = request.view in (0, WORKFLOW_VIEWS.to_proto(View.BASIC))
        if not basic:
            WORKFLOW_VIEWS.from_proto(request.view, "view")
        namespace = request_namespace(request.namespace, allow_all=True)
        revisions, token = self._catalog.list(
            request.page_size, request.page_token, namespace=namespace
        )
        views = [await self._workflow(r, r.revision) for r in revisions]
        if basic:  # definitions can be megabytes each: a page of them would not fit
            views = [
                dataclasses.replace(v, revision=dataclasses.replace(v.revision, definition_text=""))
                for v in views
            ]
        return workflow_pb2.ListWorkflowsResponse(
            workflows=[workflow_to_proto(v) for v in views], next_page_token=token
        )

    @unary
    async def ValidateWorkflow(
        self, request: workflow_pb2.ValidateWorkflowRequest, context: Ctx
    ) -> workflow_pb2.ValidateWorkflowResponse:
        namespace = request_namespace(request.namespace)
        _, problems = await self._catalog.validate(request.definition, namespace=namespace)
        valid = not any(p.severity is Severity.ERROR for p in problems)
        return validation_to_proto(ValidationResult(valid, list(problems)))

    @unary
    async def StartExecution(
        self, request: workflow_pb2.StartExecutionRequest, context: Ctx
    ) -> workflow_pb2.StartExecutionResponse:
        record, created = await self._executions.start(
            request.workflow,
            request.revision,
            struct_to_dict(request.inputs),
            request.request_id,
            request_namespace(request.namespace),
        )
        return workflow_pb2.StartExecutionResponse(execution=_full(record), created=created)

    @unary
    async def GetExecution(
        self, request: workflow_pb2.GetExecutionRequest, context: Ctx
    ) -> workflow_pb2.GetExecutionResponse:
        view = _view(request.view, View.FULL)
        record = self._executions.get(
            request.execution_id,
            _inline_limit(view),
            namespace=request_namespace(request.namespace),
        )
        return workflow_pb2.GetExecutionResponse(
            execution=fit_execution(record, view, execution_to_proto)
        )

    @unary
    async def ListExecutions(
        self, request: workflow_pb2.ListExecutionsRequest, context: Ctx
    ) -> workflow_pb2.ListExecutionsResponse:
        statuses = [
            EXECUTION_STATUSES.from_proto(value, f"statuses[{i}]")
            for i, value in enumerate(request.statuses)
        ]
        view = _view(request.view, View.BASIC)
        records, token = self._executions.list(
            request.workflow,
            statuses,
            request.page_size,
            request.page_token,
            _inline_limit(view),
            namespace=request_namespace(request.namespace, allow_all=True),
        )
        return workflow_pb2.ListExecutionsResponse(
            executions=fit_page(records, view, execution_to_proto), next_page_token=token
        )

    @unary
    async def CancelExecution(
        self, request: workflow_pb2.CancelExecutionRequest, context: Ctx
    ) -> workflow_pb2.CancelExecutionResponse:
        record = await self._executions.cancel(
            request.execution_id, request.reason, namespace=request_namespace(request.namespace)
        )
        return workflow_pb2.CancelExecutionResponse(execution=_full(record))

    @unary
    async def SignalExecution(
        self, request: workflow_pb2.SignalExecutionRequest, context: Ctx
    ) -> workflow_pb2.SignalExecutionResponse:
        record = await self._executions.signal(
            request.execution_id,
            request.name,
            from_value(request.payload),
            request.request_id,
            namespace=request_namespace(request.namespace),
        )
        return workflow_pb2.SignalExecutionResponse(execution=_full(record))

    @unary
    async def PauseExecution(
        self, request: workflow_pb2.PauseExecutionRequest, context: Ctx
    ) -> workflow_pb2.PauseExecutionResponse:
        record = await self._executions.pause(
            request.execution_id, request.reason, namespace=request_namespace(request.namespace)
        )
        return workflow_pb2.PauseExecutionResponse(execution=_full(record))

    @unary
    async def ResumeExecution(
        self, request: workflow_pb2.ResumeExecutionRequest, context: Ctx
    ) -> workflow_pb2.ResumeExecutionResponse:
        record = await self._executions.resume(
            request.execution_id, request.reason, namespace=request_namespace(request.namespace)
        )
        return workflow_pb2.ResumeExecutionResponse(execution=_full(record))

    @unary
    async def RetryExecution(
        self, request: workflow_pb2.RetryExecutionRequest, context: Ctx
    ) -> workflow_pb2.RetryExecutionResponse:
        record = await self._executions.retry(
            request.execution_id,
            request.request_id,
            namespace=request_namespace(request.namespace),
        )
        return workflow_pb2.RetryExecutionResponse(execution=_full(record))

    @unary
    async def ModifyExecution(
        self, request: workflow_pb2.ModifyExecutionRequest, context: Ctx
    ) -> workflow_pb2.ModifyExecutionResponse:
        namespace = request_namespace(request.namespace)
        operations = operations_from_proto(request.operations)
        # Until the API authenticates callers, the peer's address is who made the change.
        caller = current_caller(context.peer()).identity
        try:
            record = await self._executions.modify(
                request.execution_id,
                operations,
                request.reason,
                caller,
                request.request_id,
                namespace=namespace,
            )
        except (InvalidArgument, FailedPrecondition) as exc:
            raise in_request_terms(exc, request.operations) from None
        return workflow_pb2.ModifyExecutionResponse(execution=_full(record))

    @streaming
    async def WatchExecution(
        self, request: workflow_pb2.WatchExecutionRequest, context: Ctx
    ) -> AsyncIterator[workflow_pb2.WatchExecutionResponse]:
        namespace = request_namespace(request.namespace)
        events = self._executions.watch(
            request.execution_id, request.from_sequence, namespace=namespace
        )
        async for event in events:
            yield workflow_pb2.WatchExecutionResponse(event=event_to_proto(fit_event(event)))

    @streaming
    async def ReadExecutionValue(
        self, request: workflow_pb2.ReadExecutionValueRequest, context: Ctx
    ) -> AsyncIterator[workflow_pb2.ReadExecutionValueResponse]:
        part = VALUE_PARTS.from_proto(request.part, "part")
        if request.read_offset < 0:
            raise invalid("read_offset", f"must be >= 0, got {request.read_offset}")
        if request.read_limit < 0:
            raise invalid("read_limit", f"must be >= 0, got {request.read_limit}")
        text = self._executions.value_text(
            request.execution_id,
            part,
            request.task_id,
            namespace=request_namespace(request.namespace),
        )
        data = text.encode("ascii")
        size = len(data)
        if request.read_offset > size:
            raise invalid("read_offset", f"{request.read_offset} is past the end ({size} bytes)")
        end = (
            size if not request.read_limit else min(size, request.read_offset + request.read_limit)
        )
        position = request.read_offset
        while True:
            chunk = data[position : min(end, position + CHUNK_BYTES)]
            yield workflow_pb2.ReadExecutionValueResponse(data=chunk, size_bytes=size)
            position += len(chunk)
            if position >= end:
                return
