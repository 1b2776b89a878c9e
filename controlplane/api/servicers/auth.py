"""orchestrator.v1.AuthService."""

from __future__ import annotations

from typing import TypeAlias

import grpc

from controlplane.api.caller import current_caller
from controlplane.api.codec.auth import (
    api_key_to_proto,
    binding_from_proto,
    caller_to_proto,
    policy_from_proto,
    policy_to_proto,
    role_from_proto,
    subject_binding_to_proto,
)
from controlplane.api.gen.orchestrator.v1 import auth_pb2, auth_pb2_grpc
from controlplane.api.servicers.guard import unary
from controlplane.engine.security.access import AccessService
from models.errors import invalid
from models.namespaces import namespace_or_default, namespace_problem

Ctx: TypeAlias = grpc.aio.ServicerContext


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, access: AccessService, authentication_enabled: bool) -> None:
        self._access = access
        self._enabled = authentication_enabled

    @unary
    async def WhoAmI(
        self, request: auth_pb2.WhoAmIRequest, context: Ctx
    ) -> auth_pb2.WhoAmIResponse:
        return caller_to_proto(current_caller(context.peer()), self._enabled)

    @unary
    async def ListNamespaces(
        self, request: auth_pb2.ListNamespacesRequest, context: Ctx
    ) -> auth_pb2.ListNamespacesResponse:
        namespaces = self._access.namespaces_of(current_caller(context.peer()))
        return auth_pb2.ListNamespacesResponse(namespaces=namespaces)

    @unary
    async def CreateApiKey(
        self, request: auth_pb2.CreateApiKeyRequest, context: Ctx
    ) -> auth_pb2.CreateApiKeyResponse:
        role = role_from_proto(request.role, "role")
        key, secret = await self._access.create_key(
            request.name,
            role,
            namespace_or_default(request.namespace),
            current_caller(context.peer()).identity,
        )
        return auth_pb2.CreateApiKeyResponse(key=api_key_to_proto(key), secret=secret)

    @unary
    async def ListApiKeys(
        self, request: auth_pb2.ListApiKeysRequest, context: Ctx
    ) -> auth_pb2.ListApiKeysResponse:
        keys = self._access.list_keys(request.include_revoked)
        return auth_pb2.ListApiKeysResponse(keys=[api_key_to_proto(k) for k in keys])

    @unary
    async def RevokeApiKey(
        self, request: auth_pb2.RevokeApiKeyRequest, context: Ctx
    ) -> auth_pb2.RevokeApiKeyResponse:
        if not request.key:
            raise invalid("key", "is required: the key's id or name")
        key = await self._access.revoke_key(request.key)
        return auth_pb2.RevokeApiKeyResponse(key=api_key_to_proto(key))

    @unary
    async def GrantRole(
        self, request: auth_pb2.GrantRoleRequest, context: Ctx
    ) -> auth_pb2.GrantRoleResponse:
        if not request.HasField("binding"):
            raise invalid("binding", "is required")
        await self._access.grant(request.subject, binding_from_proto(request.binding, "binding"))
        return auth_pb2.GrantRoleResponse()

    @unary
    async def RevokeRole(
        self, request: auth_pb2.RevokeRoleRequest, context: Ctx
    ) -> auth_pb2.RevokeRoleResponse:
        await self._access.revoke(request.subject, namespace_or_default(request.namespace))
        return auth_pb2.RevokeRoleResponse()

    @unary
    async def ListRoleBindings(
        self, request: auth_pb2.ListRoleBindingsRequest, context: Ctx
    ) -> auth_pb2.ListRoleBindingsResponse:
        bindings = [subject_binding_to_proto(b) for b in self._access.bindings()]
        return auth_pb2.ListRoleBindingsResponse(bindings=bindings)

    @unary
    async def SetNamespacePolicy(
        self, request: auth_pb2.SetNamespacePolicyRequest, context: Ctx
    ) -> auth_pb2.SetNamespacePolicyResponse:
        if not request.HasField("policy"):
            raise invalid("policy", "is required")
        policy = await self._access.set_policy(policy_from_proto(request.policy, "policy"))
        return auth_pb2.SetNamespacePolicyResponse(policy=policy_to_proto(policy))

    @unary
    async def GetNamespacePolicy(
        self, request: auth_pb2.GetNamespacePolicyRequest, context: Ctx
    ) -> auth_pb2.GetNamespacePolicyResponse:
        namespace = namespace_or_default(request.namespace)
        if (problem := namespace_problem(namespace)) is not None:
            raise invalid("namespace", problem)
        policy = self._access.policy(namespace)
        return auth_pb2.GetNamespacePolicyResponse(policy=policy_to_proto(policy))
