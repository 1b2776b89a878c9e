"""Composition root: builds the store, backend, engine and server, and runs them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from controlplane.api.interceptors.audit import AuditCalls
from controlplane.api.interceptors.authentication import Authentication
from controlplane.api.interceptors.limits import CallLimits, limits_interceptor
from controlplane.api.interceptors.wrapping import AroundInterceptor
from controlplane.api.server import SERVICE_FILES, GrpcServer
from controlplane.api.tls import server_credentials
from controlplane.config import ServerConfig, authentication_required
from controlplane.engine.agents.events import AgentEvents
from controlplane.engine.agents.packages import PackageService
from controlplane.engine.agents.registry import AgentManager
from controlplane.engine.audit.log import AuditLog
from controlplane.engine.capacity.cluster import ClusterObserver
from controlplane.engine.capacity.pool_agents import PoolAgents
from controlplane.engine.capacity.pool_groups import PoolGroups
from controlplane.engine.capacity.pool_loop import PoolLoop
from controlplane.engine.capacity.pool_repair import PoolRepairer
from controlplane.engine.capacity.pools import PoolService
from controlplane.engine.capacity.quotas import QuotaService
from controlplane.engine.capacity.reservation_loop import ReservationLoop
from controlplane.engine.capacity.reservations import ReservationService
from controlplane.engine.dispatch.dispatcher import Dispatcher
from controlplane.engine.dispatch.refresh_loop import CapacityLoop
from controlplane.engine.dispatch.usage import UsageReport
from controlplane.engine.executions.catalog import WorkflowCatalog
from controlplane.engine.executions.event_hub import EventHub
from controlplane.engine.executions.runner_deps import RunnerDeps
from controlplane.engine.executions.service import ExecutionEngine
from controlplane.engine.planning.planner import Planner
from controlplane.engine.planning.rolling import RollingPlanner
from controlplane.engine.retention.loop import RetentionLoop, RetentionSettings
from controlplane.engine.scaling.forecasts import ForecastSettings, ForecastWorker
from controlplane.engine.scaling.load_recorder import LoadRecorder
from controlplane.engine.scaling.loop import ScalingLoop
from controlplane.engine.scaling.policies import ScalingManager
from controlplane.engine.schedules.loop import ExecutionPorts, ScheduleLoop
from controlplane.engine.schedules.manager import ScheduleManager
from controlplane.engine.security.access import AccessService
from controlplane.engine.security.authenticator import Authenticator
from controlplane.ports import AgentBackend, CapacityBackend
from controlplane.store import SqliteStore, StoreWriter
from controlplane.store.audit_events import AuditEventStore
from controlplane.store.capacity import CapacityStore
from controlplane.store.credentials import CredentialStore, known_namespaces
from controlplane.store.data_dir_lock import DataDirLock
from controlplane.store.integrity import check_before_open, mark
from controlplane.store.load_history import LoadHistoryStore
from controlplane.store.packages import PackageFiles
from controlplane.store.retention import RetentionStore
from controlplane.store.scaling import ScalingStore
from controlplane.store.schedules import ScheduleStore
from controlplane.store.signals import SignalStore
from controlplane.workflow.conditions import evaluate_condition
from models.executions import ExecutionStatus
from models.limits import WorkflowLimits
from models.queueing import QueueConfig

log = logging.getLogger(__name__)


def default_backend(config: ServerConfig, packages: PackageFiles) -> AgentBackend:
    from ray_backend.backend import RayAgentBackend

    return RayAgentBackend(
        address=config.ray.address,
        namespace=config.ray.namespace,
        num_cpus=config.ray.num_cpus,
        include_dashboard=config.ray.include_dashboard,
        read_package=packages.read,
    )


def default_capacity(config: ServerConfig) -> CapacityBackend:
    from ray_backend.capacity import RayCapacityBackend

    return RayCapacityBackend()


def workflow_limits(config: ServerConfig) -> WorkflowLimits:
    settings = config.limits
    return WorkflowLimits(
        definition_bytes=settings.definition_bytes,
        tasks_per_workflow=settings.tasks_per_workflow,
        value_depth=settings.value_depth,
        for_each_items=settings.for_each_items,
        events_per_execution=settings.events_per_execution,
    )


def call_limits(config: ServerConfig) -> CallLimits:
    settings = config.limits
    return CallLimits(
        requests_per_second=settings.requests_per_second,
        burst=settings.burst,
        streams_per_caller=settings.streams_per_caller,
        tracked_callers=settings.tracked_callers,
    )


class ControlPlane:
    def __init__(
        self,
        config: ServerConfig,
        backend: AgentBackend | None = None,
        clock: Callable[[], float] = time.time,
        capacity: CapacityBackend | None = None,
    ) -> None:
        self.config = config
        self.data_dir_lock = DataDirLock(config.store.data_dir)
        try:
            check_before_open(config.store.database_path)
            self.store = SqliteStore(
                config.store.database_path, synchronous=config.store.sqlite_synchronous
            )
        except BaseException:
            # Whatever kept the store from opening, the directory is not held by this process.
            self.data_dir_lock.release()
            raise
        mark(config.store.database_path)
        package_files = PackageFiles(config.store.data_dir)
        self.packages = PackageService(package_files)
        self.backend = backend if backend is not None else default_backend(config, package_files)
        self.writer = StoreWriter(self.store, on_outage=self._store_outage)
        self.hub = EventHub()
        self.agent_events = AgentEvents(self.store, clock)
        self.backend.on_replica_event(self.agent_events.replica_event)
        self.agents = AgentManager(
            self.store,
            self.backend,
            clock,
            self.packages,
            on_rollout_event=self.agent_events.rollout_event,
        )
        limits = workflow_limits(config)
        self.catalog = WorkflowCatalog(self.store, self.agents.names, clock, limits)
        self.placement = capacity if capacity is not None else default_capacity(config)
        capacity_store = CapacityStore(self.store)
        self.cluster = ClusterObserver(self.store, self.backend, capacity_store, clock)
        pool_agents = PoolAgents(self.store, self.backend)
        pool_groups = PoolGroups(self.placement)
        self.pool_repair = PoolRepairer(
            capacity_store, self.cluster, pool_groups, pool_agents, clock
        )
        self.pools = PoolService(
            capacity_store, self.cluster, pool_groups, self.pool_repair, pool_agents, clock
        )
        self.quotas = QuotaService(capacity_store)
        self.reservations = ReservationService(
            capacity_store, self.cluster, self.pools, self.placement, clock
        )
        self.reservation_loop = ReservationLoop(
            self.reservations, clock, config.loops.reservation_interval_s
        )
        self.pool_loop = PoolLoop(self.pool_repair, clock, config.loops.pool_reconcile_interval_s)
        self.dispatcher = Dispatcher(
            self.quotas.get_quota,
            self.backend.replicas,
            self.agents.pool_of,
            clock,
            QueueConfig(age_rate=config.queueing.age_rate, preemption=config.queueing.preemption),
        )
        deps = RunnerDeps(
            writer=self.writer,
            backend=self.backend,
            hub=self.hub,
            clock=clock,
            dispatcher=self.dispatcher,
            load=self.store.load_execution,
            routing_key=self.agents.routing_key,
            evaluate=evaluate_condition,
            signals=SignalStore(self.store),
            limits=limits,
        )
        self.executions = ExecutionEngine(
            self.store,
            deps,
            self.catalog,
            self.agents.names,
            self.quotas.get_quota,
            self.dispatcher.saturated,
        )
        self.rolling = RollingPlanner(
            self.dispatcher,
            self.executions.live_tasks,
            self.backend.replicas,
            self.agents.max_concurrency,
            self.quotas.get_quota,
            self.executions.namespaces,
            clock,
        )
        self.capacity = CapacityLoop(
            self.cluster,
            self.reservations,
            self.backend,
            self.dispatcher,
            self.rolling,
            self.executions,
            clock,
            config.loops.capacity_interval_s,
        )
        load_history = LoadHistoryStore(self.store)
        self.load = LoadRecorder(
            self.dispatcher,
            self.backend.replicas,
            self.agents.names,
            self.agents.pool_of,
            load_history,
            clock,
            config.loops.load_interval_s,
        )
        scaling_store = ScalingStore(self.store)
        self.scaling = ScalingManager(
            scaling_store, load_history, self.agents, clock, config.loops.load_interval_s
        )
        self.forecasts = ForecastWorker(
            load_history,
            self.scaling.policies,
            clock,
            ForecastSettings(
                refit_interval_s=config.forecasting.refit_interval_s,
                step_s=config.forecasting.step_s,
                history_s=config.forecasting.history_s,
                model=config.forecasting.model,
                evaluation_period_s=config.loops.scaling_interval_s,
                load_interval_s=config.loops.load_interval_s,
            ),
        )
        self.scaling_loop = ScalingLoop(
            self.scaling,
            self.agents,
            self.backend,
            load_history,
            scaling_store,
            self.forecasts,
            clock,
            config.loops.scaling_interval_s,
            config.loops.load_interval_s,
        )
        self.schedules = ScheduleManager(ScheduleStore(self.store), self.catalog, clock)
        self.schedule_loop = ScheduleLoop(
            self.schedules,
            ExecutionPorts(
                start=self.executions.start,
                cancel=self.executions.cancel,
                status_of=self._execution_status,
                started_by=self.store.find_execution_id,
            ),
            clock,
            config.loops.schedule_interval_s,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._health_updates: set[asyncio.Task[None]] = set()
        self.planner = Planner(self.rolling)
        self.authentication_enabled = authentication_required(config)
        self.tls_credentials = server_credentials(config.tls)
        credentials = CredentialStore(self.store)
        authenticator = Authenticator(credentials)
        self.access = AccessService(
            credentials, authenticator, lambda: known_namespaces(self.store), clock
        )
        authentication = Authentication(
            authenticator, self.authentication_enabled, config.auth.reflection
        )
        self.audit_events = AuditEventStore(self.store)
        self.audit_log = AuditLog(self.audit_events, self.writer)
        self.retention = RetentionLoop(
            RetentionStore(self.store),
            self.audit_events,
            self.executions,
            self.access.policy,
            RetentionSettings(
                executions_s=config.retention.executions_s,
                audit_s=config.retention.audit_s,
                interval_s=config.retention.interval_s,
            ),
            clock,
        )
        self.server = GrpcServer(
            self.agents,
            self.catalog,
            self.executions,
            self.cluster,
            self.pools,
            self.quotas,
            self.reservations,
            self.planner,
            UsageReport(self.dispatcher, self.executions, self.quotas.get_quota, clock),
            config.grpc.max_message_bytes,
            self.scaling,
            self.scaling_loop,
            self.forecasts,
            self.packages,
            self.agent_events,
            self.schedules,
            self.access,
            self.audit_log,
            self.authentication_enabled,
            # Outermost first: the audit records what the ones inside decide; authentication
            # says who calls, then the limits how much it may.
            interceptors=[
                AuditCalls(self.audit_log, clock).interceptor(),
                AroundInterceptor(authentication, authentication.applies_to),
                limits_interceptor(call_limits(config), SERVICE_FILES),
            ],
        )
        self.port = 0

    def _execution_status(self, execution_id: str) -> ExecutionStatus | None:
        progress = self.store.execution_progress(execution_id)
        return None if progress is None else progress[0]

    @property
    def address(self) -> str:
        host = self.config.grpc.host
        if host in ("[::]", "0.0.0.0", ""):
            host = "localhost"
        return f"{host}:{self.port}"

    @property
    def dashboard_url(self) -> str | None:
        return self.backend.dashboard_url

    async def start(self) -> None:
        """Binds first (so a taken port fails fast), restores state, then serves."""
        self.port = self.server.bind(
            self.config.grpc.host, self.config.grpc.port, self.tls_credentials
        )
        no_keys = not self.access.list_keys(include_revoked=False)
        if self.authentication_enabled and no_keys and self.config.tls.client_ca is None:
            log.warning(
                "authentication is on but no API key exists: create the first admin key "
                "with `orchestrator auth init --data-dir %s`",
                self.config.store.data_dir,
            )
        await self.backend.start()
        await self.pools.restore()  # pools first: pooled replicas are placed in them
        await self.agents.reconcile()
        await self.capacity.observe()
        resumed = await self.executions.recover()
        if resumed:
            log.info("resumed %d unfinished executions", resumed)
        await self.server.start()
        await self.server.set_serving(True)
        loop = asyncio.get_running_loop()
        self._loops.append(loop.create_task(self.capacity.run()))
        intervals = self.config.loops
        if intervals.reservation_interval_s > 0:
            self._loops.append(loop.create_task(self.reservation_loop.run()))
        if intervals.pool_reconcile_interval_s > 0:
            self._loops.append(loop.create_task(self.pool_loop.run()))
        if intervals.load_interval_s > 0:
            self._loops.append(loop.create_task(self.load.run()))
        if intervals.scaling_interval_s > 0:
            self._loops.append(loop.create_task(self.forecasts.run()))
            self._loops.append(loop.create_task(self.scaling_loop.run()))
        if intervals.schedule_interval_s > 0:
            # After recovery: times missed while the control plane was down are caught up now.
            self._loops.append(loop.create_task(self.schedule_loop.run()))
        if self.config.retention.interval_s > 0:
            self._loops.append(loop.create_task(self.retention.run()))
        log.info("control plane serving on %s", self.address)

    def _store_outage(self, outage: bool) -> None:
        """Health follows the store: NOT_SERVING while it refuses writes, so probes and load
        balancers route around this instance until the writer's retries get through."""
        task = asyncio.get_running_loop().create_task(self.server.set_serving(not outage))
        self._health_updates.add(task)
        task.add_done_callback(self._health_updates.discard)

    async def stop(self) -> None:
        # First: whatever the shutdown of the loops below ends must not admit waiting
        # executions (they would start, and be stored as running, while everything stops).
        self.executions.stop_admitting()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self.agent_events.end_watches()
        await self.server.stop(self.config.grpc.shutdown_grace_s)
        self.forecasts.close()
        await self.catalog.close()
        await self.executions.stop(self.config.grpc.shutdown_grace_s)
        await self.agents.stop()
        await self.backend.shutdown()
        await self.agent_events.close()
        self.store.close()
        self.data_dir_lock.release()
