"""Workflow catalog: validation, immutable revisions and parsed-definition cache. A workflow
belongs to a namespace; its name is unique there, and a definition's `workflow:` tasks name
workflows of the same namespace."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from controlplane.engine import paging
from controlplane.engine.executions.attempt_routing import agents_of
from controlplane.engine.executions.definition_checker import DefinitionChecker
from controlplane.store import SqliteStore
from controlplane.workflow import DefinitionError, definition_digest, parse_workflow
from models.errors import FieldViolation, InvalidArgument, NotFound, invalid
from models.limits import DEFAULT_LIMITS, WorkflowLimits, byte_size, setting
from models.security import DEFAULT_NAMESPACE
from models.values import MAX_WIRE_DEPTH
from models.workflows import Severity, ValidationProblem, WorkflowDefinition, WorkflowRevision

# A stored revision was valid when it was stored: read back under the widest limits any
# setting allows, so lowering a setting never makes a stored workflow unreadable.
STORED_LIMITS = WorkflowLimits(tasks_per_workflow=sys.maxsize, value_depth=MAX_WIRE_DEPTH)


def violations(problems: list[ValidationProblem]) -> list[FieldViolation]:
    return [FieldViolation(p.path or "definition", p.message) for p in problems]


class WorkflowCatalog:
    def __init__(
        self,
        store: SqliteStore,
        agent_names: Callable[[], set[str]],
        clock: Callable[[], float],
        limits: WorkflowLimits = DEFAULT_LIMITS,
    ) -> None:
        self._store = store
        self._agent_names = agent_names
        self._clock = clock
        # By (key, revision): see WorkflowRevision.key.
        self._limits = limits
        self._parsed: dict[tuple[str, int], WorkflowDefinition] = {}
        self._checker = DefinitionChecker(limits=limits)

    @property
    def limits(self) -> WorkflowLimits:
        return self._limits

    async def close(self) -> None:
        await self._checker.close()

    async def validate(
        self, text: str, keep_definition: bool = False, *, namespace: str = DEFAULT_NAMESPACE
    ) -> tuple[WorkflowDefinition | None, list[ValidationProblem]]:
        """Parses and checks off the event loop: the work grows with the text (within the
        loader's budget), and the event loop must keep answering other RPCs meanwhile."""
        size, limit = len(text.encode("utf-8", "surrogatepass")), self._limits.definition_bytes
        if size > limit:
            bound = setting("definition_bytes", byte_size(limit))
            raise invalid("definition", f"is {byte_size(size)}, above {bound}")
        workflows = await asyncio.to_thread(self._store.workflow_names, namespace)
        agents = agents_of(namespace, self._agent_names())
        return await self._checker.check(text, agents, keep_definition, workflows)

    async def create(
        self, text: str, *, namespace: str = DEFAULT_NAMESPACE
    ) -> tuple[WorkflowRevision, bool, list[ValidationProblem]]:
        definition, problems = await self.validate(text, True, namespace=namespace)
        errors = [p for p in problems if p.severity is Severity.ERROR]
        if definition is None or errors:
            raise InvalidArgument(
                f"invalid workflow definition ({len(errors)} problems)", violations(errors)
            )
        revision, created = await asyncio.to_thread(
            self._store.add_workflow_revision,
            namespace,
            definition.name,
            text,
            definition_digest(text),
            self._clock(),
        )
        self._parsed[(revision.key, revision.revision)] = definition
        warnings = [p for p in problems if p.severity is Severity.WARNING]
        return revision, created, warnings

    def get(
        self, name: str, revision: int = 0, *, namespace: str = DEFAULT_NAMESPACE
    ) -> WorkflowRevision:
        """The revision (0: the latest) of workflow `name` of `namespace`; NotFound when that
        namespace has none of that name, whatever other namespaces have."""
        if revision < 0:
            raise invalid("revision", "must not be negative")
        found = self._store.get_workflow_revision(namespace, name, revision)
        if found is None:
            what = f"workflow {name!r}" + (f" revision {revision}" if revision else "")
            raise NotFound(
                f"{what} not found in namespace {namespace}",
                [FieldViolation("revision" if revision else "name", "not found")],
            )
        return found

    def definition(self, revision: WorkflowRevision) -> WorkflowDefinition:
        """The parsed revision (parsed here, on the caller's thread, when not cached: for
        recovery at start, before any RPC is served)."""
        key = (revision.key, revision.revision)
        if key not in self._parsed:
            self._parsed[key] = parse_workflow(revision.definition_text, STORED_LIMITS)
        return self._parsed[key]

    async def load_definition(self, revision: WorkflowRevision) -> WorkflowDefinition:
        """The parsed revision; when not cached, parsed off the event loop like a new one."""
        key = (revision.key, revision.revision)
        if key not in self._parsed:
            text = revision.definition_text
            agents = agents_of(revision.namespace, self._agent_names())
            definition, problems = await self._checker.check(text, agents, limits=STORED_LIMITS)
            if definition is None:  # stored revisions were valid when stored
                raise DefinitionError([p for p in problems if p.severity is Severity.ERROR])
            self._parsed[key] = definition
        return self._parsed[key]

    def list(
        self, page_size: int, page_token: str, *, namespace: str = DEFAULT_NAMESPACE
    ) -> tuple[list[WorkflowRevision], str]:
        """The latest revision of each workflow of `namespace` (`*`: of every namespace)."""
        size = paging.page_size(page_size)
        query = ["workflows", namespace]
        after = paging.decode(page_token, query) or ""
        if not isinstance(after, str):
            raise invalid("page_token", "is not a token this server issued")
        revisions = self._store.list_latest_revisions(namespace, after, size + 1)
        more = len(revisions) > size
        revisions = revisions[:size]
        if not more:
            return revisions, ""
        last = revisions[-1]
        return revisions, paging.encode(f"{last.namespace}/{last.name}", query)
