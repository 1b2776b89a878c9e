"""Pools, namespace policies (quotas, weights) and reservations in the SQLite store."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from controlplane.store.sqlite_store import SqliteStore
from models.capacity import (
    PoolRecord,
    PoolRepair,
    PoolRepairPhase,
    PoolSpec,
    Reservation,
    ReservationState,
)
from models.queueing import Backpressure, NamespacePolicy, Quota
from models.resources import NodeSelector, PlacementStrategy, ResourceAmounts


def amounts_to_dict(amounts: ResourceAmounts) -> dict[str, Any]:
    return {
        "cpu": amounts.cpu,
        "memory": amounts.memory,
        "gpu": amounts.gpu,
        "custom": dict(amounts.custom),
    }


def amounts_from_dict(data: dict[str, Any]) -> ResourceAmounts:
    return ResourceAmounts(
        cpu=float(data.get("cpu", 0.0)),
        memory=int(data.get("memory", 0)),
        gpu=float(data.get("gpu", 0.0)),
        custom={k: float(v) for k, v in data.get("custom", {}).items()},
    )


def _pool_spec_to_json(spec: PoolSpec) -> str:
    return json.dumps(
        {
            "name": spec.name,
            "selector": {
                "labels": dict(spec.selector.labels),
                "custom_resources": list(spec.selector.custom_resources),
                "node_ids": list(spec.selector.node_ids),
            },
            "share": None if spec.share is None else amounts_to_dict(spec.share),
            "strategy": spec.strategy.value,
        }
    )


def _pool_spec_from_json(text: str) -> PoolSpec:
    data = json.loads(text)
    selector = data["selector"]
    return PoolSpec(
        name=data["name"],
        selector=NodeSelector(
            labels=selector["labels"],
            custom_resources=tuple(selector["custom_resources"]),
            node_ids=tuple(selector["node_ids"]),
        ),
        share=None if data["share"] is None else amounts_from_dict(data["share"]),
        strategy=PlacementStrategy(data["strategy"]),
    )


def _policy_to_json(policy: NamespacePolicy) -> str:
    quota = policy.quota
    return json.dumps(
        {
            "name": policy.name,
            "weight": policy.weight,
            "priority": policy.priority,
            "max_queue": policy.max_queue,
            "backpressure": policy.backpressure.value,
            "placement_policy": policy.placement_policy,
            "batch_scheduler": policy.batch_scheduler,
            "plan_interval_s": policy.plan_interval_s,
            "quota": {
                "max_resources": None
                if quota.max_resources is None
                else amounts_to_dict(quota.max_resources),
                "max_replicas": quota.max_replicas,
                "max_concurrent_executions": quota.max_concurrent_executions,
            },
        }
    )


def _policy_from_json(text: str) -> NamespacePolicy:
    data = json.loads(text)
    quota = data["quota"]
    return NamespacePolicy(
        name=data["name"],
        weight=data["weight"],
        priority=data["priority"],
        max_queue=data["max_queue"],
        backpressure=Backpressure(data["backpressure"]),
        # Policies stored before these settings existed read as the defaults.
        placement_policy=data.get("placement_policy", "best-fit"),
        batch_scheduler=data.get("batch_scheduler", ""),
        plan_interval_s=data.get("plan_interval_s", 5.0),
        quota=Quota(
            max_resources=None
            if quota["max_resources"] is None
            else amounts_from_dict(quota["max_resources"]),
            max_replicas=quota["max_replicas"],
            max_concurrent_executions=quota["max_concurrent_executions"],
        ),
    )


def _reservation_to_json(r: Reservation) -> str:
    data = asdict(r)
    data["resources"] = amounts_to_dict(r.resources)
    data["state"] = r.state.value
    data["strategy"] = r.strategy.value
    return json.dumps(data)


def _reservation_from_json(text: str) -> Reservation:
    data = json.loads(text)
    data["resources"] = amounts_from_dict(data["resources"])
    data["state"] = ReservationState(data["state"])
    data["strategy"] = PlacementStrategy(data["strategy"])
    return Reservation(**data)


def _repair_to_json(repair: PoolRepair) -> str:
    data = asdict(repair)
    data["phase"] = repair.phase.value
    return json.dumps(data)


def _repair_from_json(text: str) -> PoolRepair:
    data = json.loads(text)
    data["phase"] = PoolRepairPhase(data["phase"])
    return PoolRepair(**data)


class CapacityStore:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        # Namespace policies are read on every dispatch round and written only through here:
        # a read-through cache, updated after each durable write.
        self._namespaces: dict[str, NamespacePolicy | None] = {}

    # -- pools ----------------------------------------------------------------------------

    def put_pool(self, record: PoolRecord) -> None:
        self._store.execute(
            "INSERT INTO pools VALUES (?,?,?,?) ON CONFLICT (name) DO UPDATE SET "
            "spec=excluded.spec, update_time=excluded.update_time",
            (
                record.spec.name,
                _pool_spec_to_json(record.spec),
                record.create_time,
                record.update_time,
            ),
        )

    def delete_pool(self, name: str) -> None:
        self._store.execute_all(
            [
                ("DELETE FROM pools WHERE name=?", (name,)),
                ("DELETE FROM pool_repairs WHERE pool=?", (name,)),
            ]
        )

    def get_pool(self, name: str) -> PoolRecord | None:
        rows = self._store.query(
            "SELECT spec, create_time, update_time FROM pools WHERE name=?", (name,)
        )
        return (
            None
            if not rows
            else PoolRecord(_pool_spec_from_json(rows[0][0]), rows[0][1], rows[0][2])
        )

    def list_pools(self, after_name: str = "", limit: int = 1_000_000) -> list[PoolRecord]:
        rows = self._store.query(
            "SELECT spec, create_time, update_time FROM pools WHERE name > ? ORDER BY name LIMIT ?",
            (after_name, limit),
        )
        return [PoolRecord(_pool_spec_from_json(spec), c, u) for spec, c, u in rows]

    def put_pool_repair(self, repair: PoolRepair) -> None:
        self._store.execute(
            "INSERT INTO pool_repairs VALUES (?,?) "
            "ON CONFLICT (pool) DO UPDATE SET body=excluded.body",
            (repair.pool, _repair_to_json(repair)),
        )

    def get_pool_repair(self, pool: str) -> PoolRepair | None:
        rows = self._store.query("SELECT body FROM pool_repairs WHERE pool=?", (pool,))
        return None if not rows else _repair_from_json(rows[0][0])

    def list_pool_repairs(self) -> dict[str, PoolRepair]:
        rows = self._store.query("SELECT body FROM pool_repairs")
        repairs = [_repair_from_json(body) for (body,) in rows]
        return {r.pool: r for r in repairs}

    # -- namespaces -----------------------------------------------------------------------

    def put_namespace(self, policy: NamespacePolicy) -> None:
        self._store.execute(
            "INSERT INTO namespaces VALUES (?,?) "
            "ON CONFLICT (name) DO UPDATE SET policy=excluded.policy",
            (policy.name, _policy_to_json(policy)),
        )
        self._namespaces[policy.name] = policy

    def get_namespace(self, name: str) -> NamespacePolicy | None:
        if name not in self._namespaces:
            rows = self._store.query("SELECT policy FROM namespaces WHERE name=?", (name,))
            self._namespaces[name] = None if not rows else _policy_from_json(rows[0][0])
        return self._namespaces[name]

    # -- reservations ---------------------------------------------------------------------

    def put_reservation(self, reservation: Reservation) -> None:
        self._store.execute(
            "INSERT INTO reservations VALUES (?,?,?,?,?) "
            "ON CONFLICT (reservation_id) DO UPDATE SET state=excluded.state, body=excluded.body",
            (
                reservation.reservation_id,
                reservation.pool,
                reservation.state.value,
                reservation.request_id or None,
                _reservation_to_json(reservation),
            ),
        )

    def get_reservation(self, reservation_id: str) -> Reservation | None:
        rows = self._store.query(
            "SELECT body FROM reservations WHERE reservation_id=?", (reservation_id,)
        )
        return None if not rows else _reservation_from_json(rows[0][0])

    def find_reservation(self, request_id: str) -> Reservation | None:
        rows = self._store.query("SELECT body FROM reservations WHERE request_id=?", (request_id,))
        return None if not rows else _reservation_from_json(rows[0][0])

    def reservations_in_pool(self, pool: str) -> list[Reservation]:
        rows = self._store.query(
            "SELECT body FROM reservations WHERE pool=? AND state IN (?, ?)",
            (pool, ReservationState.PENDING.value, ReservationState.ACTIVE.value),
        )
        return [_reservation_from_json(body) for (body,) in rows]
