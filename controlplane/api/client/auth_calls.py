"""The calls of AuthService as data (see `calls`): both clients run these."""

from __future__ import annotations

from controlplane.api.client.calls import Call
from controlplane.api.codec.auth import (
    api_key_from_proto,
    binding_from_proto,
    binding_to_proto,
    policy_from_proto,
    policy_to_proto,
    role_to_proto,
    subject_binding_from_proto,
)
from controlplane.api.gen.orchestrator.v1 import auth_pb2
from models.security import (
    AccessPolicy,
    ApiKeyInfo,
    Caller,
    CallerKind,
    Role,
    RoleBinding,
)


def _caller(response: auth_pb2.WhoAmIResponse) -> tuple[Caller, bool]:
    caller = Caller(
        identity=response.identity,
        kind=CallerKind[response.kind]
        if response.kind in CallerKind.__members__
        else CallerKind.UNAUTHENTICATED,
        bindings=tuple(binding_from_proto(b, "bindings") for b in response.bindings),
    )
    return caller, response.authentication_enabled


def who_am_i() -> Call[tuple[Caller, bool]]:
    return Call("auth.WhoAmI", auth_pb2.WhoAmIRequest(), _caller)


def list_namespaces() -> Call[list[str]]:
    return Call(
        "auth.ListNamespaces", auth_pb2.ListNamespacesRequest(), lambda r: list(r.namespaces)
    )


def create_api_key(name: str, role: Role, namespace: str) -> Call[tuple[ApiKeyInfo, str]]:
    request = auth_pb2.CreateApiKeyRequest(name=name, role=role_to_proto(role), namespace=namespace)
    return Call("auth.CreateApiKey", request, lambda r: (api_key_from_proto(r.key), r.secret))


def list_api_keys(include_revoked: bool) -> Call[list[ApiKeyInfo]]:
    request = auth_pb2.ListApiKeysRequest(include_revoked=include_revoked)
    return Call("auth.ListApiKeys", request, lambda r: [api_key_from_proto(k) for k in r.keys])


def revoke_api_key(key: str) -> Call[ApiKeyInfo]:
    request = auth_pb2.RevokeApiKeyRequest(key=key)
    return Call("auth.RevokeApiKey", request, lambda r: api_key_from_proto(r.key))


def grant_role(subject: str, binding: RoleBinding) -> Call[None]:
    request = auth_pb2.GrantRoleRequest(subject=subject, binding=binding_to_proto(binding))
    return Call("auth.GrantRole", request, lambda r: None)


def revoke_role(subject: str, namespace: str) -> Call[None]:
    request = auth_pb2.RevokeRoleRequest(subject=subject, namespace=namespace)
    return Call("auth.RevokeRole", request, lambda r: None)


def list_role_bindings() -> Call[list[tuple[str, RoleBinding]]]:
    return Call(
        "auth.ListRoleBindings",
        auth_pb2.ListRoleBindingsRequest(),
        lambda r: [subject_binding_from_proto(b) for b in r.bindings],
    )


def set_namespace_policy(policy: AccessPolicy) -> Call[AccessPolicy]:
    request = auth_pb2.SetNamespacePolicyRequest(policy=policy_to_proto(policy))
    return Call("auth.SetNamespacePolicy", request, lambda r: policy_from_proto(r.policy, "policy"))


def get_namespace_policy(namespace: str) -> Call[AccessPolicy]:
    request = auth_pb2.GetNamespacePolicyRequest(namespace=namespace)
    return Call("auth.GetNamespacePolicy", request, lambda r: policy_from_proto(r.policy, "policy"))
