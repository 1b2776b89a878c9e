"""StandingQueues: the queues kept between rounds return exactly what `decide` returns for the
snapshot of the same waiting items (randomised equivalence over arrivals, removals, quota,
weight and priority changes, plan ranks, unplaceable dispatches, preemptions, completions,
aging and multi-level feedback, including a clock that steps back) (pure, fast)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from models.queueing import (
    Dispatch,
    NamespacePolicy,
    NamespaceState,
    Preempt,
    QueueConfig,
    QueuedItem,
    QueueSnapshot,
    Quota,
    Reject,
    RunningItem,
)
from models.resources import ResourceAmounts
from scheduler.queueing import StandingQueues, decide, requeue

GB = 1 << 30
NAMES = ("a", "b", "c")
CONFIGS = (
    QueueConfig(),
    QueueConfig(age_rate=0.5),
    QueueConfig(age_rate=0.2, preemption=False),
    QueueConfig(age_rate=0.1, max_preemptions_per_round=2),
    QueueConfig(multilevel=True, levels=3, promote_after_s=4.0, long_run_s=3.0),
    QueueConfig(multilevel=True, levels=2, promote_after_s=1.5, age_rate=0.3),
)


def random_policy(rng: random.Random, name: str) -> NamespacePolicy:
    quota = Quota()
    roll = rng.random()
    if roll < 0.3:
        quota = Quota(max_resources=ResourceAmounts(cpu=rng.choice([2, 3, 4, 6])))
    elif roll < 0.45:
        quota = Quota(max_replicas=rng.choice([1, 2, 4]))
    elif roll < 0.55:
        quota = Quota(max_resources=ResourceAmounts(cpu=4, gpu=1), max_replicas=3)
    return NamespacePolicy(
        name, weight=rng.choice([0.5, 1.0, 2.0, 3.0]), priority=rng.randrange(3), quota=quota
    )


def random_demand(rng: random.Random) -> ResourceAmounts:
    cpu = rng.choice([0.0, 0.5, 1.0, 1.0, 2.0, 3.0, 5.0, 9.0])
    gpu = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0])
    memory = rng.choice([0, GB, 2 * GB])
    custom = {"acc": 1.0} if rng.random() < 0.1 else {}
    return ResourceAmounts(cpu=cpu, memory=memory, gpu=gpu, custom=custom)


def snapshot(
    policies: dict[str, NamespacePolicy],
    waiting: dict[str, QueuedItem],
    running: list[RunningItem],
    capacity: ResourceAmounts,
    reserved: ResourceAmounts,
    config: QueueConfig,
) -> QueueSnapshot:
    states = tuple(
        NamespaceState(
            policies[name],
            tuple(i for i in waiting.values() if i.namespace == name),
            tuple(r for r in running if r.namespace == name),
        )
        for name in NAMES
    )
    return QueueSnapshot(capacity, states, config, reserved)


def running_by_namespace(running: list[RunningItem]) -> dict[str, list[RunningItem]]:
    out: dict[str, list[RunningItem]] = {}
    for r in running:
        out.setdefault(r.namespace, []).append(r)
    return out


@pytest.mark.parametrize("seed", range(60))
def test_standing_queues_match_decide_over_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    config = CONFIGS[seed % len(CONFIGS)]
    capacity = ResourceAmounts(cpu=8, memory=16 * GB, gpu=2, custom={"acc": 2.0})
    policies = {name: random_policy(rng, name) for name in NAMES}
    standing = StandingQueues(config)
    waiting: dict[str, QueuedItem] = {}
    running: list[RunningItem] = []
    now = 0.0
    serial = 0
    seen = {Reject: 0, Dispatch: 0, Preempt: 0}
    for _ in range(80):
        if rng.random() < 0.1:
            name = rng.choice(NAMES)
            policies[name] = random_policy(rng, name)
        for _ in range(rng.choice([0, 0, 1, 2, 5, 12])):
            serial += 1
            level = rng.randrange(3) if config.multilevel else 0
            new = QueuedItem(
                id=f"i{serial:04d}",
                namespace=rng.choice(NAMES),
                enqueued_at=now - rng.choice([0.0, 0.0, 1.0, 5.0]),
                priority=rng.randrange(4),
                demand=random_demand(rng),
                replicas=rng.choice([1, 1, 1, 2]),
                rank=rng.choice([None, None, float(rng.randrange(5))]),
                level=level,
                level_since=now - rng.random() * 3 if level else None,
            )
            waiting[new.id] = new
            standing.push(new)
        for item_id in list(waiting):
            if rng.random() < 0.03:
                del waiting[item_id]
                assert standing.remove(item_id) is not None
        if rng.random() < 0.1:  # a new plan: the namespace's items get new ranks
            name = rng.choice(NAMES)
            reranked = [
                replace(i, rank=rng.choice([None, float(rng.randrange(5))]))
                for i in waiting.values()
                if i.namespace == name
            ]
            waiting.update({i.id: i for i in reranked})
            standing.reset(name, reranked)
        step = rng.choice([0.0, 0.5, 1.0, 3.0])
        if config.multilevel and rng.random() < 0.1:
            step = -1.0  # the wall clock stepped back
        now += step
        reserved = ResourceAmounts(cpu=rng.choice([0.0, 0.0, 1.0, 2.5]))

        expected = decide(snapshot(policies, waiting, running, capacity, reserved, config), now)
        actual = standing.round(policies, running_by_namespace(running), capacity, reserved, now)
        assert actual == expected

        for action in actual:
            seen[type(action)] += 1
            if isinstance(action, Reject):
                del waiting[action.id]
            elif isinstance(action, Dispatch):
                if rng.random() < 0.2:  # no node had room: the caller puts it back
                    standing.push(waiting[action.item.id])
                else:
                    del waiting[action.item.id]
                    running.append(RunningItem(action.item, now))
            else:
                running.remove(action.victim)
                back = requeue(action.victim, now, config)
                waiting[back.id] = back
                standing.push(back)
        running = [r for r in running if rng.random() > 0.25]
        assert len(standing) == len(waiting)
        assert all(i in standing for i in waiting)
    assert seen[Dispatch] > 0


def test_the_histories_exercise_every_kind_of_action() -> None:
    kinds: set[type] = set()
    for seed in range(12):
        rng = random.Random(seed)
        config = CONFIGS[seed % len(CONFIGS)]
        policies = {name: random_policy(rng, name) for name in NAMES}
        policies["c"] = replace(policies["c"], priority=5)
        capacity = ResourceAmounts(cpu=4, memory=16 * GB)
        standing = StandingQueues(config)
        running: list[RunningItem] = []
        for n in range(30):
            item = QueuedItem(f"x{n}", rng.choice(NAMES), float(n), demand=random_demand(rng))
            standing.push(item)
            actions = standing.round(
                policies, running_by_namespace(running), capacity, ResourceAmounts(), float(n)
            )
            for action in actions:
                kinds.add(type(action))
                if isinstance(action, Dispatch):
                    running.append(RunningItem(action.item, float(n)))
                elif isinstance(action, Preempt):
                    running.remove(action.victim)
    assert kinds == {Reject, Dispatch, Preempt}


def test_push_remove_reset_and_membership() -> None:
    config = QueueConfig()
    standing = StandingQueues(config)
    policy = NamespacePolicy("a")
    items = [QueuedItem(f"i{n}", "a", float(n), demand=ResourceAmounts(cpu=1)) for n in range(5)]
    for item in items:
        standing.push(item)
    with pytest.raises(ValueError):
        standing.push(items[0])
    assert len(standing) == 5 and "i3" in standing and standing.namespaces() == {"a"}
    assert standing.remove("i3") == items[3]
    assert standing.remove("i3") is None
    capacity = ResourceAmounts(cpu=2)
    actions = standing.round({"a": policy}, {}, capacity, ResourceAmounts(), 10.0)
    assert [a.item.id for a in actions if isinstance(a, Dispatch)] == ["i0", "i1"]
    assert len(standing) == 2 and "i0" not in standing
    # A plan puts i4 first.
    standing.reset("a", [items[2], replace(items[4], rank=0.0)])
    actions = standing.round({"a": policy}, {}, ResourceAmounts(cpu=1), ResourceAmounts(), 11.0)
    assert [a.item.id for a in actions if isinstance(a, Dispatch)] == ["i4"]
    with pytest.raises(ValueError):
        standing.reset("a", [QueuedItem("z", "b", 0.0)])


def test_many_removals_keep_the_order() -> None:
    config = QueueConfig(age_rate=0.1)
    standing = StandingQueues(config)
    policy = NamespacePolicy("a")
    for n in range(400):
        one = ResourceAmounts(cpu=1)
        standing.push(QueuedItem(f"i{n:03d}", "a", float(n), priority=n % 3, demand=one))
    standing.round({"a": policy}, {}, ResourceAmounts(), ResourceAmounts(), 400.0)
    for n in range(0, 400, 3):  # enough lazy removals to make the queue rebuild its heaps
        standing.remove(f"i{n:03d}")
    left = {f"i{n:03d}" for n in range(400) if n % 3}
    assert len(standing) == len(left)
    order = []
    while len(standing):
        (action,) = standing.round(
            {"a": policy}, {}, ResourceAmounts(cpu=1), ResourceAmounts(), 401.0
        )
        assert isinstance(action, Dispatch)
        order.append(action.item)
    assert {i.id for i in order} == left
    keys = [(-(i.priority - 0.1 * i.enqueued_at), i.enqueued_at) for i in order]
    assert keys == sorted(keys)
