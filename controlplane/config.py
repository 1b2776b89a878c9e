"""Control-plane settings, filled by the CLI (`orchestrator serve`) or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    port: int = 50051
    host: str = "[::]"
    # None: start a local Ray; "auto" or "HOST:PORT" / "ray://...": join that cluster.
    ray_address: str | None = None
    ray_namespace: str = "orchestrator"
    # Only for a local Ray: CPUs to give it (None: all) and whether to start the dashboard.
    ray_num_cpus: int | None = None
    include_dashboard: bool | None = None
    # FULL: a commit survives power loss; NORMAL: it survives a process kill only.
    sqlite_synchronous: str = "FULL"
    # Largest request accepted (gRPC answers RESOURCE_EXHAUSTED beyond it).
    max_message_bytes: int = 8 << 20
    shutdown_grace_s: float = 10.0
    # How often the dispatcher re-observes the cluster and due batch plans are recomputed.
    capacity_interval_s: float = 2.0
    # Queue system: priority points a waiting task gains per second (so none starves), and
    # whether higher-priority namespaces below their fair share may preempt.
    queue_age_rate: float = 0.05
    preemption: bool = True
    # How often reservation windows are opened and closed on the cluster (0: never; tests then
    # call ControlPlane.reservation_loop.run_once themselves).
    reservation_interval_s: float = 1.0
    # How often every pool's placement group is checked, and one that went missing created
    # again with the pool's replicas moved into it (0: never; tests then call
    # ControlPlane.pool_loop.run_once themselves).
    pool_reconcile_interval_s: float = 2.0
    # Load history: how often every agent's load is sampled (0: not recorded).
    load_interval_s: float = 10.0
    # Predictive scaling: how often every agent with a scaling policy is decided (0: never;
    # tests then call ControlPlane.scaling_loop.run_once), and the arrival-rate forecast each
    # predictive policy uses: refitted in a worker thread every `forecast_refit_s` (and when a
    # policy changes) on the last `forecast_history_s` of load history, in steps of
    # `forecast_step_s` (at least the load interval), with `forecast_model` (auto, naive, ets, ...).
    scaling_interval_s: float = 15.0
    forecast_refit_s: float = 300.0
    forecast_step_s: float = 60.0
    forecast_history_s: float = 86400.0
    forecast_model: str = "auto"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "orchestrator.db"
