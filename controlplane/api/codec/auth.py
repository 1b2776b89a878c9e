"""orchestrator.v1.AuthService messages <-> models.security."""

from __future__ import annotations

import math
from typing import Any

from controlplane.api.codec.enums import EnumTable
from controlplane.api.codec.wellknown import duration, duration_seconds, instant, seconds
from controlplane.api.gen.orchestrator.v1 import auth_pb2
from models.errors import invalid
from models.security import AccessPolicy, ApiKeyInfo, Caller, Role, RoleBinding

ROLES: EnumTable[Any, Role] = EnumTable(
    auth_pb2.Role,
    {
        auth_pb2.ROLE_VIEWER: Role.VIEWER,
        auth_pb2.ROLE_OPERATOR: Role.OPERATOR,
        auth_pb2.ROLE_DEVELOPER: Role.DEVELOPER,
        auth_pb2.ROLE_ADMIN: Role.ADMIN,
    },
)


def role_to_proto(role: Role) -> Any:
    return ROLES.to_proto(role)


def role_from_proto(value: int, field: str) -> Role:
    return ROLES.from_proto(value, field)


def binding_to_proto(binding: RoleBinding) -> auth_pb2.RoleBinding:
    return auth_pb2.RoleBinding(namespace=binding.namespace, role=role_to_proto(binding.role))


def binding_from_proto(message: auth_pb2.RoleBinding, field: str) -> RoleBinding:
    return RoleBinding(
        namespace=message.namespace or "default",
        role=role_from_proto(message.role, f"{field}.role"),
    )


def caller_to_proto(caller: Caller, authentication_enabled: bool) -> auth_pb2.WhoAmIResponse:
    return auth_pb2.WhoAmIResponse(
        identity=caller.identity,
        kind=caller.kind.name,
        bindings=[binding_to_proto(b) for b in caller.bindings],
        authentication_enabled=authentication_enabled,
    )


def api_key_to_proto(key: ApiKeyInfo) -> auth_pb2.ApiKey:
    message = auth_pb2.ApiKey(
        key_id=key.key_id,
        name=key.name,
        role=role_to_proto(key.role),
        namespace=key.namespace,
        create_time=instant(key.create_time),
        created_by=key.created_by,
    )
    if key.revoke_time is not None:
        message.revoke_time.CopyFrom(instant(key.revoke_time))
    return message


def api_key_from_proto(message: auth_pb2.ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=message.key_id,
        name=message.name,
        role=role_from_proto(message.role, "role"),
        namespace=message.namespace,
        create_time=seconds(message.create_time),
        created_by=message.created_by,
        revoke_time=(seconds(message.revoke_time) if message.HasField("revoke_time") else None),
    )


def policy_to_proto(policy: AccessPolicy) -> auth_pb2.NamespacePolicy:
    message = auth_pb2.NamespacePolicy(
        namespace=policy.namespace,
        allowed_import_prefixes=policy.allowed_import_prefixes,
        allowed_endpoint_hosts=policy.allowed_endpoint_hosts,
        deny_package_installs=policy.deny_package_installs,
    )
    if policy.execution_retention_s:
        message.execution_retention.CopyFrom(duration(policy.execution_retention_s))
    if policy.audit_retention_s:
        message.audit_retention.CopyFrom(duration(policy.audit_retention_s))
    return message


def policy_from_proto(message: auth_pb2.NamespacePolicy, field: str) -> AccessPolicy:
    def retention(name: str) -> float:
        if not message.HasField(name):
            return 0.0
        value = duration_seconds(getattr(message, name))
        if not math.isfinite(value) or value < 0:
            raise invalid(f"{field}.{name}", "must not be negative")
        return value

    return AccessPolicy(
        namespace=message.namespace or "default",
        allowed_import_prefixes=tuple(message.allowed_import_prefixes),
        allowed_endpoint_hosts=tuple(message.allowed_endpoint_hosts),
        deny_package_installs=message.deny_package_installs,
        execution_retention_s=retention("execution_retention"),
        audit_retention_s=retention("audit_retention"),
    )


def subject_binding_to_proto(granted: tuple[str, RoleBinding]) -> auth_pb2.SubjectBinding:
    subject, binding = granted
    return auth_pb2.SubjectBinding(subject=subject, binding=binding_to_proto(binding))


def subject_binding_from_proto(message: auth_pb2.SubjectBinding) -> tuple[str, RoleBinding]:
    return message.subject, binding_from_proto(message.binding, "binding")
