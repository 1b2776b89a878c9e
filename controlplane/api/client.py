"""A typed, synchronous Python client for the orchestrator's gRPC API.

Every method returns domain models (`models.*`, `AgentView`, `WorkflowView`); generated protobuf
types stay inside this module. Failures raise `ClientError`, decoded from the gRPC status and its
`google.rpc.BadRequest` field violations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from controlplane.api import convert
from controlplane.api.convert import (
    ClusterState,
    NamespaceUsage,
    NodeUsage,
    PlannedOperation,
    PlanResult,
    PoolInfo,
    PoolRepairInfo,
    PoolUsage,
    ReservationInfo,
    SchedulerInfo,
)
from controlplane.api.gen.orchestrator.v1 import (
    agent_pb2,
    agent_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
    scaling_pb2,
    scaling_pb2_grpc,
    scheduler_pb2,
    scheduler_pb2_grpc,
    workflow_pb2,
    workflow_pb2_grpc,
)
from models.agents import AgentSpec, AgentView
from models.capacity import PoolSpec
from models.executions import Event, ExecutionRecord, ExecutionStatus
from models.forecasting import FittedForecast
from models.load import RAW, LoadSample
from models.queueing import NamespacePolicy
from models.resources import PlacementStrategy, ResourceAmounts
from models.scaling import PolicyView, ScalingEvent, ScalingPolicy, ScalingStatus
from models.workflows import ValidationProblem, WorkflowView

__all__ = [
    "AgentView",
    "ClientError",
    "ClusterState",
    "CreateWorkflowResult",
    "NamespaceUsage",
    "NodeUsage",
    "OrchestratorClient",
    "PlanResult",
    "PlannedOperation",
    "PoolInfo",
    "PoolRepairInfo",
    "PoolUsage",
    "ReservationInfo",
    "SchedulerInfo",
    "StartExecutionResult",
    "ValidationResult",
    "WorkflowView",
]

T = TypeVar("T")

_PAGE_SIZE = 200


class ClientError(Exception):
    """A failed call: the gRPC status code name, its message and any field violations."""

    def __init__(
        self, code_name: str, message: str, violations: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(f"{code_name}: {message}")
        self.code_name = code_name
        self.message = message
        self.violations: list[tuple[str, str]] = list(violations or [])

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, address: str = "") -> ClientError:
        code = error.code() if isinstance(error, grpc.Call) else None
        code_name = code.name if code is not None else "UNKNOWN"
        message = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
        if code is grpc.StatusCode.UNAVAILABLE:
            where = f" at {address}" if address else ""
            message = f"cannot reach the orchestrator{where} ({message})"
        violations: list[tuple[str, str]] = []
        if isinstance(error, grpc.Call):
            violations = _violations(error)
        return cls(code_name, " ".join(message.split()), violations)


def _violations(call: grpc.Call) -> list[tuple[str, str]]:
    try:
        status = rpc_status.from_call(call)
    except ValueError:
        return []
    if status is None:
        return []
    found: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            found.extend((v.field, v.description) for v in bad_request.field_violations)
    return found


@dataclass(frozen=True)
class CreateWorkflowResult:
    workflow: WorkflowView
    created: bool
    warnings: list[ValidationProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ValidationResult:
    valid: bool
    problems: list[ValidationProblem] = field(default_factory=list)


@dataclass(frozen=True)
class StartExecutionResult:
    execution: ExecutionRecord
    created: bool


class OrchestratorClient:
    """Synchronous client; use as a context manager or call `close()`."""

    def __init__(self, address: str, timeout_s: float = 30) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._channel = grpc.insecure_channel(address)
        self._agents = agent_pb2_grpc.AgentServiceStub(self._channel)
        self._workflows = workflow_pb2_grpc.WorkflowServiceStub(self._channel)
        self._resources = resource_pb2_grpc.ResourceServiceStub(self._channel)
        self._schedulers = scheduler_pb2_grpc.SchedulerServiceStub(self._channel)
        self._scaling = scaling_pb2_grpc.ScalingServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def __enter__(self) -> OrchestratorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the channel; RPCs in flight (e.g. a watch) are cancelled."""
        self._channel.close()

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None

    # -- health -------------------------------------------------------------------------------

    def wait_ready(self, deadline_s: float = 30.0, service: str = "") -> None:
        """Polls grpc.health.v1 Check until SERVING; raises ClientError after `deadline_s`."""
        deadline = time.monotonic() + deadline_s
        last = "not serving"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError(
                    "DEADLINE_EXCEEDED",
                    f"orchestrator at {self.address} not ready after {deadline_s:g}s ({last})",
                )
            try:
                response = self._health.Check(
                    health_pb2.HealthCheckRequest(service=service),
                    timeout=min(remaining, 5.0),
                    wait_for_ready=True,
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as exc:
                last = str(ClientError.from_rpc_error(exc))
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    # -- agents -------------------------------------------------------------------------------

    def deploy_agent(self, spec: AgentSpec) -> AgentView:
        response = self._call(
            self._agents.DeployAgent,
            agent_pb2.DeployAgentRequest(agent=convert.agent_spec_to_proto(spec)),
        )
        return convert.agent_from_proto(response.agent)

    def get_agent(self, name: str) -> AgentView:
        response = self._call(self._agents.GetAgent, agent_pb2.GetAgentRequest(name=name))
        return convert.agent_from_proto(response.agent)

    def list_agents(self) -> list[AgentView]:
        agents: list[AgentView] = []
        token = ""
        while True:
            response = self._call(
                self._agents.ListAgents,
                agent_pb2.ListAgentsRequest(page_size=_PAGE_SIZE, page_token=token),
            )
            agents.extend(convert.agent_from_proto(a) for a in response.agents)
            token = response.next_page_token
            if not token:
                return agents

    def scale_agent(self, name: str, replicas: int) -> AgentView:
        response = self._call(
            self._agents.ScaleAgent, agent_pb2.ScaleAgentRequest(name=name, replicas=replicas)
        )
        return convert.agent_from_proto(response.agent)

    def delete_agent(self, name: str) -> None:
        self._call(self._agents.DeleteAgent, agent_pb2.DeleteAgentRequest(name=name))

    # -- workflows ----------------------------------------------------------------------------

    def create_workflow(self, text: str) -> CreateWorkflowResult:
        response = self._call(
            self._workflows.CreateWorkflow, workflow_pb2.CreateWorkflowRequest(definition=text)
        )
        return CreateWorkflowResult(
            workflow=convert.workflow_from_proto(response.workflow),
            created=response.created,
            warnings=[convert.problem_from_proto(p) for p in response.warnings],
        )

    def validate_workflow(self, text: str) -> ValidationResult:
        response = self._call(
            self._workflows.ValidateWorkflow,
            workflow_pb2.ValidateWorkflowRequest(definition=text),
        )
        return ValidationResult(
            valid=response.valid,
            problems=[convert.problem_from_proto(p) for p in response.problems],
        )

    def get_workflow(self, name: str, revision: int = 0) -> WorkflowView:
        response = self._call(
            self._workflows.GetWorkflow,
            workflow_pb2.GetWorkflowRequest(name=name, revision=revision),
        )
        return convert.workflow_from_proto(response.workflow)

    def list_workflows(self) -> list[WorkflowView]:
        workflows: list[WorkflowView] = []
        token = ""
        while True:
            response = self._call(
                self._workflows.ListWorkflows,
                workflow_pb2.ListWorkflowsRequest(page_size=_PAGE_SIZE, page_token=token),
            )
            workflows.extend(convert.workflow_from_proto(w) for w in response.workflows)
            token = response.next_page_token
            if not token:
                return workflows

    # -- executions ---------------------------------------------------------------------------

    def start_execution(
        self,
        workflow: str,
        inputs: dict[str, Any] | None = None,
        revision: int = 0,
        request_id: str = "",
        namespace: str = "",
    ) -> StartExecutionResult:
        response = self._call(
            self._workflows.StartExecution,
            workflow_pb2.StartExecutionRequest(
                workflow=workflow,
                revision=revision,
                inputs=convert.dict_to_struct(inputs),
                request_id=request_id,
                namespace=namespace,
            ),
        )
        return StartExecutionResult(
            execution=convert.execution_from_proto(response.execution),
            created=response.created,
        )

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        response = self._call(
            self._workflows.GetExecution,
            workflow_pb2.GetExecutionRequest(execution_id=execution_id),
        )
        return convert.execution_from_proto(response.execution)

    def list_executions(
        self, workflow: str = "", statuses: Iterable[ExecutionStatus] = ()
    ) -> list[ExecutionRecord]:
        """Every matching execution, newest first (tasks omitted: use get_execution)."""
        codes = [f"EXECUTION_STATUS_{s.value}" for s in statuses]
        executions: list[ExecutionRecord] = []
        token = ""
        while True:
            response = self._call(
                self._workflows.ListExecutions,
                workflow_pb2.ListExecutionsRequest(
                    workflow=workflow, statuses=codes, page_size=_PAGE_SIZE, page_token=token
                ),
            )
            executions.extend(convert.execution_from_proto(e) for e in response.executions)
            token = response.next_page_token
            if not token:
                return executions

    def cancel_execution(self, execution_id: str, reason: str = "") -> ExecutionRecord:
        response = self._call(
            self._workflows.CancelExecution,
            workflow_pb2.CancelExecutionRequest(execution_id=execution_id, reason=reason),
        )
        return convert.execution_from_proto(response.execution)

    def watch_execution(self, execution_id: str, from_sequence: int = 0) -> Iterator[Event]:
        """Stored events from `from_sequence`, then live ones; ends after the terminal event.

        No deadline applies to the stream. Closing the generator cancels the call.
        """
        stream = self._workflows.WatchExecution(
            workflow_pb2.WatchExecutionRequest(
                execution_id=execution_id, from_sequence=from_sequence
            )
        )
        try:
            for response in stream:
                event = convert.event_from_proto(response.event)
                if event is not None:
                    yield event
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        finally:
            stream.cancel()

    # -- resource pools -----------------------------------------------------------------------

    def create_pool(self, spec: PoolSpec) -> PoolInfo:
        response = self._call(
            self._resources.CreatePool,
            resource_pb2.CreatePoolRequest(pool=convert.pool_spec_to_proto(spec)),
        )
        return convert.pool_from_proto(response.pool)

    def get_pool(self, name: str) -> PoolInfo:
        response = self._call(self._resources.GetPool, resource_pb2.GetPoolRequest(name=name))
        return convert.pool_from_proto(response.pool)

    def list_pools(self) -> list[PoolInfo]:
        pools: list[PoolInfo] = []
        token = ""
        while True:
            response = self._call(
                self._resources.ListPools,
                resource_pb2.ListPoolsRequest(page_size=_PAGE_SIZE, page_token=token),
            )
            pools.extend(convert.pool_from_proto(p) for p in response.pools)
            token = response.next_page_token
            if not token:
                return pools

    def update_pool(self, spec: PoolSpec) -> PoolInfo:
        """Replaces the pool's whole spec (selector, capacity and strategy)."""
        response = self._call(
            self._resources.UpdatePool,
            resource_pb2.UpdatePoolRequest(pool=convert.pool_spec_to_proto(spec)),
        )
        return convert.pool_from_proto(response.pool)

    def delete_pool(self, name: str) -> None:
        self._call(self._resources.DeletePool, resource_pb2.DeletePoolRequest(name=name))

    # -- cluster, quotas ----------------------------------------------------------------------

    def cluster_state(self) -> ClusterState:
        response = self._call(
            self._resources.GetClusterState, resource_pb2.GetClusterStateRequest()
        )
        return convert.cluster_state_from_proto(response)

    def set_quota(self, policy: NamespacePolicy) -> NamespacePolicy:
        """Replaces the namespace's whole policy (limits, weight, priority, backpressure...)."""
        response = self._call(
            self._resources.SetQuota,
            resource_pb2.SetQuotaRequest(quota=convert.quota_to_proto(policy)),
        )
        return convert.quota_from_proto(response.quota)

    def get_quota(self, namespace: str) -> NamespacePolicy:
        """The namespace's policy; one never configured reads as the defaults."""
        response = self._call(
            self._resources.GetQuota, resource_pb2.GetQuotaRequest(namespace=namespace)
        )
        return convert.quota_from_proto(response.quota)

    # -- reservations -------------------------------------------------------------------------

    def reserve(
        self,
        namespace: str,
        pool: str,
        resources: ResourceAmounts,
        duration_s: float,
        start_time: float | None = None,
        strategy: PlacementStrategy | None = None,
        request_id: str = "",
    ) -> ReservationInfo:
        """Capacity in `pool` from `start_time` (epoch seconds; default: now) for `duration_s`."""
        request = resource_pb2.ReserveRequest(
            namespace=namespace,
            pool=pool,
            resources=convert.amounts_to_proto(resources),
            strategy=f"PLACEMENT_STRATEGY_{strategy.value if strategy else 'UNSPECIFIED'}",
            request_id=request_id,
        )
        request.duration.FromNanoseconds(round(duration_s * 1e9))
        if start_time is not None:
            request.start_time.FromNanoseconds(round(start_time * 1e9))
        response = self._call(self._resources.Reserve, request)
        return convert.reservation_info_from_proto(response.reservation)

    def get_reservation(self, reservation_id: str) -> ReservationInfo:
        response = self._call(
            self._resources.GetReservation,
            resource_pb2.GetReservationRequest(reservation_id=reservation_id),
        )
        return convert.reservation_info_from_proto(response.reservation)

    def cancel_reservation(self, reservation_id: str) -> ReservationInfo:
        response = self._call(
            self._resources.CancelReservation,
            resource_pb2.CancelReservationRequest(reservation_id=reservation_id),
        )
        return convert.reservation_info_from_proto(response.reservation)

    # -- schedulers ---------------------------------------------------------------------------

    def list_schedulers(self) -> list[SchedulerInfo]:
        response = self._call(
            self._schedulers.ListSchedulers, scheduler_pb2.ListSchedulersRequest()
        )
        return [convert.scheduler_info_from_proto(s) for s in response.schedulers]

    def plan(
        self,
        problem_json: str = "",
        scheduler: str = "",
        time_limit_s: float | None = None,
        seed: int = 0,
        workers: int = 0,
        namespace: str = "",
        adopt: bool = False,
    ) -> PlanResult:
        """Plans `problem_json` (the JSON scheduling model) or, with `namespace`, that
        namespace's live work (`adopt`: the dispatcher switches to this plan now).

        Defaults are the server's: scheduler `auto` (or the namespace's batch scheduler),
        a 10 s time limit, one worker. The call's deadline is stretched to cover the limit.
        """
        request = scheduler_pb2.PlanRequest(
            problem_json=problem_json,
            scheduler=scheduler,
            seed=seed,
            workers=workers,
            namespace=namespace,
            adopt=adopt,
        )
        if time_limit_s is not None:
            request.time_limit.FromNanoseconds(round(time_limit_s * 1e9))
        limit = 10.0 if time_limit_s is None else time_limit_s
        try:
            response = self._schedulers.Plan(request, timeout=self.timeout_s + limit)
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        return convert.plan_from_proto(response)

    # -- scaling ------------------------------------------------------------------------------

    def set_scaling_policy(self, policy: ScalingPolicy) -> PolicyView:
        response = self._call(
            self._scaling.SetScalingPolicy,
            scaling_pb2.SetScalingPolicyRequest(policy=convert.scaling_policy_to_proto(policy)),
        )
        return convert.policy_view_from_proto(
            response.policy, response.create_time, response.update_time
        )

    def get_scaling_policy(self, agent: str) -> PolicyView:
        response = self._call(
            self._scaling.GetScalingPolicy, scaling_pb2.GetScalingPolicyRequest(agent=agent)
        )
        return convert.policy_view_from_proto(
            response.policy, response.create_time, response.update_time
        )

    def delete_scaling_policy(self, agent: str) -> None:
        self._call(
            self._scaling.DeleteScalingPolicy, scaling_pb2.DeleteScalingPolicyRequest(agent=agent)
        )

    def get_scaling_status(self, agent: str, decisions: int = 0) -> ScalingStatus:
        response = self._call(
            self._scaling.GetScalingStatus,
            scaling_pb2.GetScalingStatusRequest(agent=agent, decisions=decisions),
        )
        return convert.scaling_status_from_proto(response.status)

    def get_forecast(
        self, agent: str, horizon_s: float = 0.0, model: str = "", level: float = 0.0
    ) -> FittedForecast:
        """The agent's arrival-rate forecast (attempts/s). When the server has none fitted for
        this model and level yet, it fits one first: the call's deadline allows for that."""
        request = scaling_pb2.GetForecastRequest(agent=agent, model=model, level=level)
        if horizon_s:
            request.horizon.CopyFrom(convert.duration(horizon_s))
        try:
            response = self._scaling.GetForecast(request, timeout=self.timeout_s + 60.0)
        except grpc.RpcError as exc:
            raise ClientError.from_rpc_error(exc, self.address) from None
        return convert.forecast_from_proto(response)

    def list_scaling_events(
        self, agent: str, include_holds: bool = False, limit: int | None = None
    ) -> list[ScalingEvent]:
        """The agent's decisions, newest first (every page, or the first `limit`)."""
        events: list[ScalingEvent] = []
        token = ""
        while True:
            size = _PAGE_SIZE if limit is None else min(_PAGE_SIZE, limit - len(events))
            response = self._call(
                self._scaling.ListScalingEvents,
                scaling_pb2.ListScalingEventsRequest(
                    agent=agent, include_holds=include_holds, page_size=size, page_token=token
                ),
            )
            events.extend(convert.scaling_event_from_proto(e) for e in response.events)
            token = response.next_page_token
            if not token or (limit is not None and len(events) >= limit):
                return events

    def get_load_history(
        self,
        agent: str,
        resolution: int = RAW,
        start: float | None = None,
        end: float | None = None,
    ) -> list[LoadSample]:
        """Samples of an agent (or "pool:<name>") in [start, end), oldest first, every page
        (defaults: the last hour)."""
        samples: list[LoadSample] = []
        token = ""
        while True:
            request = scaling_pb2.GetLoadHistoryRequest(
                agent=agent,
                resolution=convert.load_resolution_to_proto(resolution),  # type: ignore[arg-type]
                start=convert.timestamp(start),
                end=convert.timestamp(end),
                page_size=1000,
                page_token=token,
            )
            response = self._call(self._scaling.GetLoadHistory, request)
            samples.extend(
                convert.load_sample_from_proto(s, agent, resolution) for s in response.samples
            )
            token = response.next_page_token
            if not token:
                return samples
