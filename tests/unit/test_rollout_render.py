"""How the CLI shows a rollout: in progress (step i of n, the weight, replicas per version, the
latest analysis, the hold so far), rolled back and failed; in `agents get` and as JSON."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
from rich.console import Console

from controlplane.cli import render, rollout_render
from models.agents import (
    AgentRecord,
    AgentSpec,
    AgentState,
    AgentView,
    CanaryStep,
    RolloutRecord,
    RolloutState,
    RolloutStep,
    RolloutStrategy,
    StepAnalysis,
    StrategyKind,
)

T0 = 1_700_000_000.0
V1 = AgentSpec("coder", "v1", "m:Coder", replicas=4)
V2 = dataclasses.replace(V1, version="v2")
CANARY = RolloutRecord(
    rollout_id="ro-3",
    agent="coder",
    strategy=RolloutStrategy(
        kind=StrategyKind.CANARY, steps=(CanaryStep(10.0, 60.0), CanaryStep(50.0, 120.0))
    ),
    stable=V1,
    new=V2,
    steps=(
        RolloutStep(4, 1, new_weight=0.1, hold_s=60.0, analyse=True),
        RolloutStep(2, 2, new_weight=0.5, hold_s=120.0, analyse=True),
        RolloutStep(0, 4, new_weight=1.0),
    ),
    step=1,
    state=RolloutState.PROGRESSING,
    create_time=T0,
    update_time=T0 + 90,
    step_start_time=T0 + 70,
    message="holding step 2",
    analysis=StepAnalysis(25, 0.04, 0.12, 80, 0.025, 0.1, "pass", "within the thresholds"),
)
ROLLED_BACK = dataclasses.replace(
    CANARY,
    state=RolloutState.ROLLED_BACK,
    message="canary error rate 50% > stable 2% + 5%",
    analysis=StepAnalysis(20, 0.5, None, 50, 0.02, 0.1, "fail", "error rate"),
)
FIRST_DEPLOY = RolloutRecord(
    rollout_id="ro-1",
    agent="coder",
    strategy=RolloutStrategy(),
    stable=None,
    new=V1,
    steps=(RolloutStep(0, 4),),
    step=0,
    state=RolloutState.FAILED,
    create_time=T0,
    update_time=T0,
    message="replicas did not start",
)


def text_of(*renderables: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False)
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_a_canary_in_progress_shows_its_step_weight_replicas_and_analysis() -> None:
    shown = text_of(rollout_render.rollout_view(CANARY, now=T0 + 100))
    assert "rollout ro-3  PROGRESSING" in shown
    assert "versions        v1 -> v2" in shown
    assert "strategy        canary 10% for 1m -> 50% for 2m -> 100%" in shown
    assert "analysis rule   fails on an error rate > stable + 5%, or a p95 > 1.5x stable" in shown
    assert (
        "step            2/3: 50% of the attempts to v2, 2 stable + 2 new replicas, "
        "held 30s of 2m" in shown
    )
    assert (
        "analysis        pass: canary 25 attempts, 4% errors, p95 120ms; stable 80 attempts, "
        "2.5% errors, p95 100ms (within the thresholds)" in shown
    )
    assert "message         holding step 2" in shown
    rows = [line for line in shown.splitlines() if line.startswith("│")]
    assert len(rows) == 3
    assert rows[1].startswith("│ > │ 2 ") and "50%" in rows[1] and "2m" in rows[1]
    assert "100%" in rows[2] and "> " not in rows[0] + rows[2]


def test_a_rolled_back_canary_shows_why_and_marks_no_step() -> None:
    shown = text_of(rollout_render.rollout_view(ROLLED_BACK, now=T0 + 100))
    assert "rollout ro-3  ROLLED_BACK" in shown
    assert "message         canary error rate 50% > stable 2% + 5%" in shown
    assert "fail: canary 20 attempts, 50% errors, p95 -; stable 50 attempts" in shown
    assert "held" not in shown  # no hold is counted once it ended
    assert "│ > │" not in shown


def test_a_failed_first_deploy_of_a_rolling_update() -> None:
    shown = text_of(rollout_render.rollout_view(FIRST_DEPLOY))
    assert "rollout ro-1  FAILED" in shown
    assert "versions        (first deploy) -> v1" in shown
    assert "strategy        rolling (max surge 25%, max unavailable 0)" in shown
    assert "step            1/1: attempts by replica count, 0 stable + 4 new replicas" in shown
    assert "analysis" not in shown


@pytest.mark.parametrize(
    ("strategy", "text"),
    [
        (RolloutStrategy(max_surge="1", max_unavailable="50%"), "rolling (max surge 1, max "),
        (
            RolloutStrategy(kind=StrategyKind.BLUE_GREEN, rollback_window_s=5400),
            "blue-green (rollback window 1h30m)",
        ),
        (
            RolloutStrategy(kind=StrategyKind.CANARY, steps=(CanaryStep(12.5, 0.5),)),
            "canary 12.5% for 0.5s -> 100%",
        ),
    ],
)
def test_strategy_text(strategy: RolloutStrategy, text: str) -> None:
    assert rollout_render.strategy_text(strategy).startswith(text)


def test_agents_get_shows_the_rollout_block_and_json_carries_it() -> None:
    view = AgentView(AgentRecord(V2, T0, T0 + 90), AgentState.DEPLOYING, [], rollout=CANARY)
    out = io.StringIO()
    render.agent_detail(Console(file=out, width=200, highlight=False), view)
    shown = out.getvalue()
    assert "rollout ro-3  PROGRESSING" in shown and "step            2/3" in shown
    as_json = json.loads(json.dumps(render.agent_dict(view)))
    assert as_json["rollout"]["state"] == "PROGRESSING"
    assert as_json["rollout"]["steps"][1] == {
        "stable_replicas": 2,
        "new_replicas": 2,
        "new_weight": 0.5,
        "hold_s": 120.0,
        "analyse": True,
    }
    without = dataclasses.replace(view, rollout=None)
    out = io.StringIO()
    render.agent_detail(Console(file=out, width=200), without)
    assert "rollout" not in out.getvalue()
    assert render.agent_dict(without)["rollout"] is None
