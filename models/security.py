"""Who calls and what they may do: roles per namespace, API keys, namespace policies and the
audit record of each mutating call."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"
# A role binding on every namespace, and on what belongs to none (pools, nodes, keys).
ALL_NAMESPACES = "*"


class Role(enum.IntEnum):
    """Each role can do everything the ones below it can."""

    VIEWER = 1  # read and watch
    OPERATOR = 2  # + start, cancel, signal, pause, retry and modify executions; scale agents
    DEVELOPER = 3  # + create workflows, deploy agents, upload packages
    ADMIN = 4  # + keys, role bindings, quotas, pools, namespace policies

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            known = ", ".join(r.label for r in cls)
            raise ValueError(f"unknown role {text!r} (known: {known})") from None


class Scope(enum.Enum):
    """Where an RPC's permission is checked."""

    # In the request's namespace (its `namespace` field; `*` needs a cluster-wide binding).
    NAMESPACE = "namespace"
    # Cluster-wide: a binding on `*` (what belongs to no namespace, or spans them).
    CLUSTER = "cluster"
    # In some namespace: shared things (content-addressed packages, the cluster's nodes).
    ANY_NAMESPACE = "any namespace"
    # Any authenticated caller, whatever its roles (who am I, which namespaces are mine).
    IDENTITY = "identity"


@dataclass(frozen=True)
class RoleBinding:
    namespace: str  # or ALL_NAMESPACES
    role: Role


class CallerKind(enum.Enum):
    API_KEY = "api_key"
    CERTIFICATE = "certificate"
    # Authentication is off: every caller may do everything; the peer address names it.
    UNAUTHENTICATED = "unauthenticated"


@dataclass(frozen=True)
class Caller:
    """The identity of one call: `key:<name>` for an API key, the certificate subject for
    mutual TLS, the peer address when authentication is off."""

    identity: str
    kind: CallerKind
    bindings: tuple[RoleBinding, ...] = ()

    def role_in(self, namespace: str) -> Role | None:
        """The highest role this caller holds in `namespace` (a `*` binding counts)."""
        if self.kind is CallerKind.UNAUTHENTICATED:
            return Role.ADMIN
        roles = [b.role for b in self.bindings if b.namespace in (namespace, ALL_NAMESPACES)]
        return max(roles, default=None)

    def best_role(self) -> Role | None:
        """The highest role this caller holds anywhere."""
        if self.kind is CallerKind.UNAUTHENTICATED:
            return Role.ADMIN
        return max((b.role for b in self.bindings), default=None)

    def cluster_role(self) -> Role | None:
        """The role held on every namespace (a `*` binding)."""
        if self.kind is CallerKind.UNAUTHENTICATED:
            return Role.ADMIN
        roles = [b.role for b in self.bindings if b.namespace == ALL_NAMESPACES]
        return max(roles, default=None)


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as listed: never the key itself, which is shown once at creation."""

    key_id: str
    name: str
    role: Role
    namespace: str
    create_time: float
    created_by: str
    revoke_time: float | None = None


@dataclass(frozen=True)
class AccessPolicy:
    """What a namespace's developers may deploy, and how long its history is kept.

    An empty prefix or host list allows everything. A retention of 0 uses the server's
    default. Import prefixes are module paths: "team_a" allows "team_a.x:Y", not "team_ab:Y";
    a host "*.example.com" allows its subdomains."""

    namespace: str
    allowed_import_prefixes: tuple[str, ...] = ()
    allowed_endpoint_hosts: tuple[str, ...] = ()
    deny_package_installs: bool = False
    execution_retention_s: float = 0.0
    audit_retention_s: float = 0.0


@dataclass(frozen=True)
class AuditEvent:
    """One mutating call, recorded before its answer is sent."""

    sequence: int
    time: float
    caller: str
    namespace: str  # "" for what belongs to no namespace (pools, nodes, keys)
    rpc: str  # "AgentService/DeployAgent"
    resource: str  # what the call named: an agent, an execution id, ...
    request_summary: str  # JSON, secrets and large values redacted
    code: str  # the gRPC status code name: "OK", "INVALID_ARGUMENT", ...
