"""Namespace policies: quotas, fair-share weight and scheduling settings, validated and durable."""

from __future__ import annotations

import asyncio

from controlplane.engine.capacity.fields import check_amounts, check_name
from controlplane.store.capacity import CapacityStore
from models.errors import FieldViolation, InvalidArgument
from models.queueing import NamespacePolicy


class QuotaService:
    def __init__(self, capacity: CapacityStore) -> None:
        self._capacity = capacity

    async def set_quota(self, policy: NamespacePolicy) -> NamespacePolicy:
        problems = check_name("quota.namespace", policy.name)
        if policy.quota.max_resources is not None:
            problems += check_amounts("quota.max", policy.quota.max_resources)
        for field, value in (
            ("quota.max_replicas", policy.quota.max_replicas),
            ("quota.max_concurrent_executions", policy.quota.max_concurrent_executions),
        ):
            if value is not None and value < 0:
                problems.append(FieldViolation(field, "must not be negative"))
        if problems:
            raise InvalidArgument("invalid quota", problems)
        await asyncio.to_thread(self._capacity.put_namespace, policy)
        return policy

    def get_quota(self, namespace: str) -> NamespacePolicy:
        """A namespace that was never configured has the defaults (weight 1, no limits)."""
        if check_name("namespace", namespace):
            raise InvalidArgument("invalid namespace", check_name("namespace", namespace))
        return self._capacity.get_namespace(namespace) or NamespacePolicy(namespace)
