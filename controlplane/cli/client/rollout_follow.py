"""Following an agent's rollout (`agents deploy --wait`, `agents rollout --watch`): GetAgent
about once a second, the rollout shown live, until it is no longer PROGRESSING; then one line
saying how it ended, and the exit code (0 only when it SUCCEEDED)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.text import Text

from controlplane.api.client import OrchestratorClient
from controlplane.cli import rollout_render
from models.agents import RolloutRecord, RolloutState

POLL_INTERVAL_S = 1.0
EXIT_OK = 0
EXIT_NOT_SUCCEEDED = 1


@dataclass(frozen=True)
class Followed:
    """The rollout as last seen. `replaced`: the agent's latest rollout stopped being the one
    followed (another deploy or a rollback started `replaced_by`)."""

    rollout: RolloutRecord
    replaced: bool = False
    replaced_by: str = ""


def follow_rollout(
    client: OrchestratorClient, rollout: RolloutRecord, console: Console
) -> Followed:
    """Polls the agent until `rollout` ends (or is replaced), showing it live on `console`;
    left on screen when done (on a terminal it is redrawn in place, elsewhere printed once at
    the end)."""
    live = Live(rollout_render.rollout_view(rollout), console=console, auto_refresh=False)
    with live:
        followed = _poll(client, rollout, live)
    if not console.is_terminal:
        console.line()  # Live ends its last frame with a newline on a terminal only
    return followed


def _poll(client: OrchestratorClient, rollout: RolloutRecord, live: Live) -> Followed:
    current = rollout
    while current.active:
        time.sleep(POLL_INTERVAL_S)
        latest = client.get_agent(current.agent).rollout
        if latest is None or latest.rollout_id != current.rollout_id:
            return Followed(current, True, latest.rollout_id if latest else "")
        current = latest
        live.update(rollout_render.rollout_view(current), refresh=True)
    return Followed(current)


def outcome(followed: Followed) -> tuple[int, Text]:
    """The exit code and the line that says how the rollout ended."""
    rollout = followed.rollout
    what = (
        f"rollout {rollout.rollout_id} of {rollout.agent} ({rollout_render.versions_text(rollout)})"
    )
    if followed.replaced:
        by = f" by rollout {followed.replaced_by}" if followed.replaced_by else ""
        return EXIT_NOT_SUCCEEDED, Text(
            f"error: {what} is no longer the agent's rollout: replaced{by} (another deploy or a "
            "rollback)",
            style="red",
        )
    reason = f": {rollout.message}" if rollout.message else ""
    if rollout.state is RolloutState.SUCCEEDED:
        return EXIT_OK, Text(
            f"{what} succeeded: {rollout.new.version} serves all attempts", style="green"
        )
    if rollout.state is RolloutState.ROLLED_BACK:
        stable = rollout.stable.version if rollout.stable is not None else "the previous version"
        return EXIT_NOT_SUCCEEDED, Text(
            f"error: {what} was rolled back{reason}; {stable} serves all attempts", style="red"
        )
    if rollout.state is RolloutState.FAILED:
        return EXIT_NOT_SUCCEEDED, Text(f"error: {what} failed{reason}", style="red")
    return EXIT_NOT_SUCCEEDED, Text(f"error: {what} is {rollout.state.value}", style="red")
