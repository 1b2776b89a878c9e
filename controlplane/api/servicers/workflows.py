"""orchestrator.v1.WorkflowService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from controlplane.api.codec.wellknown import struct_to_dict
from controlplane.api.codec.workflows import (
    EXECUTION_STATUSES,
    create_workflow_to_proto,
    event_to_proto,
    execution_to_proto,
    validation_to_proto,
    workflow_to_proto,
)
from controlplane.api.gen.orchestrator.v1 import workflow_pb2, workflow_pb2_grpc
from controlplane.api.servicers.guard import streaming, unary
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.service import ExecutionEngine
from models.errors import invalid
from models.workflows import (
    CreateWorkflowResult,
    Severity,
    ValidationResult,
    WorkflowRevision,
    WorkflowView,
)

Ctx: TypeAlias = grpc.aio.ServicerContext


class WorkflowServicer(workflow_pb2_grpc.WorkflowServiceServicer):
    def __init__(self, catalog: WorkflowCatalog, executions: ExecutionEngine) -> None:
        self._catalog = catalog
        self._executions = executions

    def _workflow(self, revision: WorkflowRevision, latest: int) -> WorkflowView:
        task_ids = tuple(t.id for t in self._catalog.definition(revision).tasks)
        return WorkflowView(revision, latest, task_ids)

    @unary
    async def CreateWorkflow(
        self, request: workflow_pb2.CreateWorkflowRequest, context: Ctx
    ) -> workflow_pb2.CreateWorkflowResponse:
        if not request.definition.strip():
            raise invalid("definition", "is required")
        revision, created, warnings = await self._catalog.create(request.definition)
        view = self._workflow(revision, self._catalog.get(revision.name).revision)
        return create_workflow_to_proto(CreateWorkflowResult(view, created, list(warnings)))

    @unary
    async def GetWorkflow(
        self, request: workflow_pb2.GetWorkflowRequest, context: Ctx
    ) -> workflow_pb2.GetWorkflowResponse:
        if not request.name:
            raise invalid("name", "is required")
        latest = self._catalog.get(request.name)
        revision = self._catalog.get(request.name, request.revision) if request.revision else latest
        view = self._workflow(revision, latest.revision)
        return workflow_pb2.GetWorkflowResponse(workflow=workflow_to_proto(view))

    @unary
    async def ListWorkflows(
        self, request: workflow_pb2.ListWorkflowsRequest, context: Ctx
    ) -> workflow_pb2.ListWorkflowsResponse:
        revisions, token = self._catalog.list(request.page_size, request.page_token)
        return workflow_pb2.ListWorkflowsResponse(
            workflows=[workflow_to_proto(self._workflow(r, r.revision)) for r in revisions],
            next_page_token=token,
        )

    @unary
    async def ValidateWorkflow(
        self, request: workflow_pb2.ValidateWorkflowRequest, context: Ctx
    ) -> workflow_pb2.ValidateWorkflowResponse:
        _, problems = await self._catalog.validate(request.definition)
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
            request.namespace,
        )
        return workflow_pb2.StartExecutionResponse(
            execution=execution_to_proto(record), created=created
        )

    @unary
    async def GetExecution(
        self, request: workflow_pb2.GetExecutionRequest, context: Ctx
    ) -> workflow_pb2.GetExecutionResponse:
        record = self._executions.get(request.execution_id)
        return workflow_pb2.GetExecutionResponse(execution=execution_to_proto(record))

    @unary
    async def ListExecutions(
        self, request: workflow_pb2.ListExecutionsRequest, context: Ctx
    ) -> workflow_pb2.ListExecutionsResponse:
        statuses = [
            EXECUTION_STATUSES.from_proto(value, f"statuses[{i}]")
            for i, value in enumerate(request.statuses)
        ]
        records, token = self._executions.list(
            request.workflow, statuses, request.page_size, request.page_token
        )
        return workflow_pb2.ListExecutionsResponse(
            executions=[execution_to_proto(r, with_tasks=False) for r in records],
            next_page_token=token,
        )

    @unary
    async def CancelExecution(
        self, request: workflow_pb2.CancelExecutionRequest, context: Ctx
    ) -> workflow_pb2.CancelExecutionResponse:
        record = await self._executions.cancel(request.execution_id, request.reason)
        return workflow_pb2.CancelExecutionResponse(execution=execution_to_proto(record))

    @streaming
    async def WatchExecution(
        self, request: workflow_pb2.WatchExecutionRequest, context: Ctx
    ) -> AsyncIterator[workflow_pb2.WatchExecutionResponse]:
        async for event in self._executions.watch(request.execution_id, request.from_sequence):
            yield workflow_pb2.WatchExecutionResponse(event=event_to_proto(event))
