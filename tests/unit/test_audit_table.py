"""Every RPC of every orchestrator service is classified as read or mutating (a service added
without its lines fails here), and each entry names fields its request has."""

from __future__ import annotations

import importlib
import pkgutil

from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor

import controlplane.api.gen.orchestrator.v1 as generated
from controlplane.api.interceptors.audit import applies_to
from controlplane.api.interceptors.mutations import RPCS, kind_of


def every_method() -> dict[str, MethodDescriptor]:
    """ "Service/Method" -> descriptor, for every service of every generated orchestrator.v1
    file (found by listing the package, so a new .proto is walked too)."""
    found: dict[str, MethodDescriptor] = {}
    for module in pkgutil.iter_modules(generated.__path__):
        if not module.name.endswith("_pb2"):
            continue
        file = importlib.import_module(f"{generated.__name__}.{module.name}").DESCRIPTOR
        for service in file.services_by_name.values():
            for method in service.methods:
                found[f"{service.name}/{method.name}"] = method
    return found


def test_every_rpc_is_classified_and_nothing_else_is() -> None:
    methods = every_method()
    unclassified = sorted(set(methods) - set(RPCS))
    assert unclassified == [], (
        f"add these to controlplane/api/interceptors/mutations.py: {unclassified}"
    )
    assert sorted(set(RPCS) - set(methods)) == []


def test_each_entry_names_fields_of_its_request() -> None:
    for rpc, method in every_method().items():
        kind = RPCS[rpc]
        if isinstance(kind.resource, str) and kind.resource:
            message = method.input_type
            *parents, last = kind.resource.split(".")
            for name in parents:
                message = message.fields_by_name[name].message_type
                assert message is not None, rpc
            assert message.fields_by_name[last].type == FieldDescriptor.TYPE_STRING, rpc
        if kind.only_if:
            field = method.input_type.fields_by_name[kind.only_if]
            assert field.type == FieldDescriptor.TYPE_BOOL, rpc


def test_reads_health_and_reflection_are_not_audited_unknown_rpcs_are() -> None:
    assert applies_to("/orchestrator.v1.AgentService/DeployAgent")
    assert not applies_to("/orchestrator.v1.AgentService/GetAgent")
    assert not applies_to("/grpc.health.v1.Health/Check")
    assert not applies_to("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert kind_of("NewService/NewMethod").mutating
