"""The queue system: priority and aging, weighted DRF, quotas, backpressure, preemption,
multi-level feedback and determinism (pure, fast)."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence

import pytest

from models.queueing import (
    Accept,
    Action,
    AdmissionState,
    Backpressure,
    Dispatch,
    ExecutionRequest,
    NamespacePolicy,
    NamespaceState,
    Preempt,
    Queue,
    QueueConfig,
    QueuedItem,
    QueueSnapshot,
    Quota,
    Reject,
    RunningItem,
)
from models.resources import ResourceAmounts
from scheduler.queueing import (
    NamespaceQueue,
    admit,
    apply,
    complete,
    decide,
    dominant_share,
    effective_level,
    fair_shares,
    metrics,
    pools_saturated,
    requeue,
    usage_of,
)

GB = 1 << 30


def res(cpu: float = 0.0, memory: int = 0, gpu: float = 0.0) -> ResourceAmounts:
    return ResourceAmounts(cpu=cpu, memory=memory, gpu=gpu)


def item(
    id_: str,
    ns: str = "a",
    at: float = 0.0,
    priority: int = 0,
    demand: ResourceAmounts | None = None,
    **kw: object,
) -> QueuedItem:
    return QueuedItem(
        id=id_,
        namespace=ns,
        enqueued_at=at,
        priority=priority,
        demand=demand if demand is not None else res(cpu=1),
        **kw,  # type: ignore[arg-type]
    )


def state(
    name: str,
    queued: tuple[QueuedItem, ...] = (),
    running: tuple[RunningItem, ...] = (),
    **policy: object,
) -> NamespaceState:
    return NamespaceState(NamespacePolicy(name, **policy), queued, running)  # type: ignore[arg-type]


def snapshot(
    capacity: ResourceAmounts, *states: NamespaceState, config: QueueConfig | None = None
) -> QueueSnapshot:
    return QueueSnapshot(capacity, states, config or QueueConfig())


def dispatched(actions: Sequence[Action]) -> list[str]:
    return [a.item.id for a in actions if isinstance(a, Dispatch)]


def preempted(actions: Sequence[Action]) -> list[str]:
    return [a.victim.id for a in actions if isinstance(a, Preempt)]


def usage(snap: QueueSnapshot, name: str) -> ResourceAmounts:
    return usage_of(next(s for s in snap.namespaces if s.name == name).running)


# -- priority and aging -------------------------------------------------------------------


def test_priority_order_within_a_namespace() -> None:
    items = [item("low", priority=1), item("high", priority=5), item("mid", priority=3)]
    items.append(item("mid-later", at=1.0, priority=3))
    queue = NamespaceQueue(QueueConfig(), items)
    order = [queue.pop(10.0) for _ in range(4)]
    assert [i.id for i in order if i] == ["high", "mid", "mid-later", "low"]
    assert queue.pop(10.0) is None

    snap = snapshot(res(cpu=1), state("a", tuple(items)))
    assert dispatched(decide(snap, 10.0)) == ["high"]


def test_aging_lets_an_old_low_priority_item_overtake() -> None:
    old_low = item("old-low", at=0.0, priority=0)
    new_high = item("new-high", at=90.0, priority=5)
    snap = snapshot(res(cpu=1), state("a", (old_low, new_high)))
    assert dispatched(decide(snap, 100.0)) == ["new-high"]  # no aging
    aged = QueueSnapshot(snap.capacity, snap.namespaces, QueueConfig(age_rate=0.1))
    actions = decide(aged, 100.0)  # 0 + 0.1 * 100 = 10 > 5 + 0.1 * 10 = 6
    assert dispatched(actions) == ["old-low"]
    first = actions[0]
    assert isinstance(first, Dispatch)
    assert first.effective_priority == pytest.approx(10.0) and first.wait_s == 100.0
    # Aged order depends only on priority - age_rate * enqueued_at: a low-priority item that
    # has not waited 50 s longer than the high-priority one (5 / 0.1) still comes second.
    less_old = item("less-old", at=60.0, priority=0)
    close = QueueSnapshot(
        snap.capacity, (state("a", (less_old, new_high)),), QueueConfig(age_rate=0.1)
    )
    assert dispatched(decide(close, 100.0)) == ["new-high"]  # 4 < 6


def test_queue_push_remove_and_duplicates() -> None:
    queue = NamespaceQueue(QueueConfig(), [item("x"), item("y", priority=2)])
    queue.push(item("z", priority=9))
    with pytest.raises(ValueError):
        queue.push(item("z"))
    assert queue.remove("z") is not None and "z" not in queue and len(queue) == 2
    assert [i.id for i in queue.items(0.0)] == ["y", "x"]
    queue.push(item("z", priority=-1))  # re-added after removal: the stale entry is skipped
    assert [queue.pop(0.0).id for _ in range(3)] == ["y", "x", "z"]  # type: ignore[union-attr]


# -- weighted DRF ---------------------------------------------------------------------------


def simulate(
    snap: QueueSnapshot,
    rounds: int,
    make: Callable[[str, int, float], QueuedItem],
    backlog: int = 20,
    duration: Callable[[str], float] = lambda id_: 3 + int(id_.rsplit("-", 1)[1]) % 5,
    check: Callable[[QueueSnapshot], None] = lambda s: None,
) -> list[QueueSnapshot]:
    """decide -> apply -> completions, keeping every namespace's backlog full (contention)."""
    counters = {s.name: 0 for s in snap.namespaces}
    history = []
    for step in range(rounds):
        now = float(step)
        done = [
            r.id for s in snap.namespaces for r in s.running if now - r.started_at >= duration(r.id)
        ]
        snap = complete(snap, done)
        states = []
        for s in snap.namespaces:
            extra: list[QueuedItem] = []
            while len(s.queued) + len(extra) < backlog:
                counters[s.name] += 1
                extra.append(make(s.name, counters[s.name], now))
            states.append(NamespaceState(s.policy, s.queued + tuple(extra), s.running))
        snap = QueueSnapshot(snap.capacity, tuple(states), snap.config, snap.reserved)
        snap = apply(snap, decide(snap, now), now)
        check(snap)
        history.append(snap)
    return history


def mean_share(history: list[QueueSnapshot], name: str, skip: int = 20) -> float:
    shares = [dominant_share(usage(s, name), s.capacity) for s in history[skip:]]
    return sum(shares) / len(shares)


def test_drf_weights_1_to_3_converge_to_1_to_3_of_the_dominant_resource() -> None:
    snap = snapshot(res(cpu=40), state("light", weight=1.0), state("heavy", weight=3.0))
    history = simulate(snap, 200, lambda ns, n, now: item(f"{ns}-{n}", ns, now))
    light, heavy = mean_share(history, "light"), mean_share(history, "heavy")
    assert light + heavy == pytest.approx(1.0, abs=0.02)  # the cluster stays full
    assert light == pytest.approx(0.25, abs=0.03)
    assert heavy == pytest.approx(0.75, abs=0.03)


def test_heterogeneous_demands_follow_drf() -> None:
    # The DRF paper's example: 9 CPUs, 18 GB; A wants <1 CPU, 4 GB>, B wants <3 CPU, 1 GB>.
    a = tuple(item(f"a-{i}", "a", demand=res(cpu=1, memory=4 * GB)) for i in range(10))
    b = tuple(item(f"b-{i}", "b", demand=res(cpu=3, memory=1 * GB)) for i in range(10))
    snap = snapshot(res(cpu=9, memory=18 * GB), state("a", a), state("b", b))
    ids = dispatched(decide(snap, 0.0))
    assert sum(i.startswith("a") for i in ids) == 3
    assert sum(i.startswith("b") for i in ids) == 2

    # Over a run: cpu-heavy vs gpu-heavy equalise their dominant shares (8 each: 0.8 and 0.8).
    def make(ns: str, n: int, now: float) -> QueuedItem:
        demand = res(cpu=4) if ns == "cpu" else res(cpu=1, gpu=1)
        return item(f"{ns}-{n}", ns, now, demand=demand)

    snap = snapshot(res(cpu=40, gpu=10), state("cpu"), state("gpu"))
    history = simulate(snap, 200, make)
    assert mean_share(history, "cpu") == pytest.approx(0.8, abs=0.04)
    assert mean_share(history, "gpu") == pytest.approx(0.8, abs=0.04)


def test_a_namespace_whose_head_does_not_fit_does_not_block_the_others() -> None:
    big = item("big", "a", demand=res(cpu=8))
    small = item("small", "b", demand=res(cpu=1))
    running = (RunningItem(item("r", "b", demand=res(cpu=4)), 0.0),)
    snap = snapshot(res(cpu=6), state("a", (big,)), state("b", (small,), running))
    assert dispatched(decide(snap, 1.0)) == ["small"]


def test_fair_shares_are_weights_over_active_namespaces() -> None:
    shares = fair_shares({"a": 1.0, "b": 3.0, "idle": 4.0}, ["b", "a"])
    assert shares == {"a": 0.25, "b": 0.75}


# -- quotas and backpressure ----------------------------------------------------------------


def test_quotas_are_never_exceeded() -> None:
    quota = Quota(max_resources=res(cpu=5, gpu=1), max_replicas=4)
    rng = random.Random(7)

    def make(ns: str, n: int, now: float) -> QueuedItem:
        demand = res(cpu=rng.choice([0.5, 1, 2]), gpu=rng.choice([0, 0, 0.5]))
        return item(f"{ns}-{n}", ns, now, priority=rng.randint(0, 3), demand=demand)

    def check(snap: QueueSnapshot) -> None:
        limited = next(s for s in snap.namespaces if s.name == "limited")
        used = usage_of(limited.running)
        assert used.cpu <= 5 + 1e-9 and used.gpu <= 1 + 1e-9
        assert sum(r.item.replicas for r in limited.running) <= 4

    snap = snapshot(res(cpu=64, gpu=8), state("limited", quota=quota), state("free"))
    history = simulate(snap, 100, make, check=check)
    assert max(usage(s, "limited").cpu for s in history) > 3  # the quota was the binding limit


def test_an_item_larger_than_its_quota_is_rejected_and_one_over_the_remaining_room_waits() -> None:
    quota = Quota(max_resources=res(cpu=4))
    running = (RunningItem(item("r", demand=res(cpu=3)), 0.0),)
    queued = (item("huge", demand=res(cpu=5)), item("two", at=1.0, demand=res(cpu=2)))
    snap = snapshot(res(cpu=100), state("a", queued, running, quota=quota))
    actions = decide(snap, 2.0)
    assert [type(a) for a in actions] == [Reject]
    assert actions[0].id == "huge" and "quota" in actions[0].reason  # type: ignore[union-attr]


def test_admission_backpressure_reject_vs_queue() -> None:
    quota = Quota(max_concurrent_executions=2)
    req = ExecutionRequest("e1", "ns")
    queueing = NamespacePolicy("ns", quota=quota, backpressure=Backpressure.QUEUE, max_queue=1)
    rejecting = NamespacePolicy("ns", quota=quota, backpressure=Backpressure.REJECT)

    assert admit(req, AdmissionState(queueing, active_executions=1)) == Accept("e1")
    assert isinstance(admit(req, AdmissionState(queueing, active_executions=2)), Queue)
    full = admit(req, AdmissionState(queueing, active_executions=2, waiting_executions=1))
    assert isinstance(full, Reject) and "queue is full" in full.reason
    over = admit(req, AdmissionState(rejecting, active_executions=2))
    assert isinstance(over, Reject) and "2/2 concurrent executions" in over.reason

    saturated = AdmissionState(rejecting, active_executions=0, saturated=True)
    assert isinstance(admit(req, saturated), Reject)
    assert isinstance(admit(req, AdmissionState(queueing, saturated=True)), Queue)

    capped = NamespacePolicy("ns", quota=Quota(max_resources=res(gpu=1)))
    too_big = ExecutionRequest("e2", "ns", demand=res(gpu=2))
    assert isinstance(admit(too_big, AdmissionState(capped)), Reject)


def test_pools_saturated_signal() -> None:
    capacity = res(cpu=10, gpu=2)
    assert not pools_saturated(capacity, res(cpu=5, gpu=1))
    assert pools_saturated(capacity, res(cpu=5, gpu=2))
    assert pools_saturated(capacity, res(cpu=9, gpu=0), threshold=0.9)


# -- preemption -------------------------------------------------------------------------------


def batch_running(n: int, cpu: float = 1.0) -> tuple[RunningItem, ...]:
    return tuple(
        RunningItem(item(f"batch-{i}", "batch", demand=res(cpu=cpu)), float(i)) for i in range(n)
    )


def test_preemption_picks_the_youngest_victims_and_names_both_namespaces() -> None:
    head = item("urgent", "prod", at=5.0, demand=res(cpu=3))
    snap = snapshot(
        res(cpu=10),
        state("prod", (head,), priority=10),
        state("batch", (), batch_running(10), priority=0),
    )
    actions = decide(snap, 20.0)
    assert dispatched(actions) == []
    assert preempted(actions) == ["batch-9", "batch-8", "batch-7"]
    for action in actions:
        assert isinstance(action, Preempt)
        assert action.for_namespace == "prod" and action.for_item == "urgent"
        assert "'prod'" in action.reason and "'batch'" in action.reason
        assert "fair share 0.500" in action.reason and "dominant share 1.000" in action.reason

    # Apply: the victims are requeued (not lost) and the room goes to prod next round.
    after = apply(snap, actions, 20.0)
    batch = next(s for s in after.namespaces if s.name == "batch")
    assert sorted(i.id for i in batch.queued) == ["batch-7", "batch-8", "batch-9"]
    requeued = next(i for i in batch.queued if i.id == "batch-9")
    assert requeued.enqueued_at == 0.0  # keeps its original enqueue time
    assert requeued.preempted_count == 1 and requeued.attempt == 2
    assert dispatched(decide(after, 21.0)) == ["urgent"]


def test_preemption_prefers_one_victim_when_one_suffices() -> None:
    running = (
        *batch_running(6),
        RunningItem(item("batch-big", "batch", demand=res(cpu=4)), 1.0),
    )
    head = item("urgent", "prod", demand=res(cpu=3))
    snap = snapshot(res(cpu=10), state("prod", (head,), priority=10), state("batch", (), running))
    assert preempted(decide(snap, 10.0)) == ["batch-big"]


def test_no_preemption_without_higher_priority_or_when_at_fair_share() -> None:
    head = item("wants", "prod", demand=res(cpu=3))
    same_priority = snapshot(
        res(cpu=10), state("prod", (head,)), state("batch", (), batch_running(10))
    )
    assert decide(same_priority, 10.0) == []

    prod_running = tuple(
        RunningItem(item(f"p-{i}", "prod", demand=res(cpu=1)), 0.0) for i in range(5)
    )
    at_fair_share = snapshot(
        res(cpu=10),
        state("prod", (head,), prod_running, priority=10),
        state("batch", (), batch_running(5), priority=0),
    )
    assert decide(at_fair_share, 10.0) == []

    disabled = QueueSnapshot(
        res(cpu=10),
        (
            state("prod", (head,), priority=10),
            state("batch", (), batch_running(10), priority=0),
        ),
        QueueConfig(preemption=False),
    )
    assert decide(disabled, 10.0) == []


def test_victims_stay_in_namespaces_above_their_fair_share() -> None:
    # prod needs 6 of 10 CPUs; batch may only be cut down to its fair share (5): no preemption.
    head = item("wide", "prod", demand=res(cpu=6))
    snap = snapshot(
        res(cpu=10),
        state("prod", (head,), priority=10),
        state("batch", (), batch_running(10), priority=0),
    )
    assert preempted(decide(snap, 10.0)) == []


# -- multi-level feedback ---------------------------------------------------------------------


def test_multilevel_feedback_demotes_preempted_and_long_items_and_promotes_with_age() -> None:
    config = QueueConfig(multilevel=True, levels=3, promote_after_s=50.0, long_run_s=30.0)
    base = item("x", priority=9)
    assert requeue(RunningItem(base, 0.0), 10.0, config).level == 1  # preempted
    retried = requeue(RunningItem(base, 0.0), 10.0, config, preempted=False)
    assert retried.level == 0  # short run, not preempted: stays
    long = requeue(RunningItem(base, 0.0), 40.0, config, preempted=False)
    assert long.level == 1 and long.level_since == 40.0 and long.enqueued_at == 0.0
    deepest = requeue(RunningItem(item("y", level=2), 0.0), 1.0, config)
    assert deepest.level == 2  # clamped at the last level

    demoted = item("demoted", at=0.0, priority=9, level=1, level_since=100.0)
    fresh = item("fresh", at=120.0, priority=0)
    snap = snapshot(res(cpu=1), state("a", (demoted, fresh)), config=config)
    assert dispatched(decide(snap, 130.0)) == ["fresh"]  # level 0 is served first
    actions = decide(snap, 150.0)  # 50 s in level 1: promoted back, its priority wins
    assert dispatched(actions) == ["demoted"]
    served = actions[0]
    assert isinstance(served, Dispatch)
    assert served.item.level == 0 and served.item.level_since == 150.0


def test_multilevel_queue_promotions_match_the_closed_form() -> None:
    config = QueueConfig(multilevel=True, levels=4, promote_after_s=10.0)
    items = [
        item(f"i{n}", at=0.0, priority=n % 3, level=n % 4, level_since=float(n)) for n in range(40)
    ]
    queue = NamespaceQueue(config, items)
    for now in (0.0, 5.0, 12.5, 19.0, 26.0, 40.0):
        expected = sorted(items, key=lambda i: (effective_level(i, now, config), -i.priority, i.id))
        assert [i.id for i in queue.items(now)] == [i.id for i in expected]
        assert queue.depth_by_level(now) == tuple(
            sum(effective_level(i, now, config) == lvl for i in items) for lvl in range(4)
        )
    # Without the option, levels are ignored.
    flat = NamespaceQueue(QueueConfig(), items)
    assert [i.id for i in flat.items(0.0)][:3] == [
        i.id for i in sorted(items, key=lambda i: (-i.priority, i.id))
    ][:3]


# -- determinism, purity, metrics ---------------------------------------------------------------


def test_decide_is_deterministic_and_does_not_mutate_its_input() -> None:
    rng = random.Random(3)
    queued = [
        item(
            f"{ns}-{n}",
            ns,
            at=float(rng.randint(0, 50)),
            priority=rng.randint(0, 4),
            demand=res(cpu=rng.choice([1, 2]), gpu=rng.choice([0, 1])),
        )
        for ns in ("a", "b", "c")
        for n in range(15)
    ]
    running = (RunningItem(item("c-run", "c", demand=res(cpu=6)), 1.0),)

    def build(order: list[QueuedItem], reverse: bool) -> QueueSnapshot:
        states = [
            state(
                ns,
                tuple(i for i in order if i.namespace == ns),
                running if ns == "c" else (),
                weight=w,
                priority=p,
            )
            for ns, w, p in (("a", 1.0, 5), ("b", 2.0, 0), ("c", 1.0, 0))
        ]
        if reverse:
            states.reverse()
        return snapshot(res(cpu=12, gpu=4), *states, config=QueueConfig(age_rate=0.05))

    snap = build(queued, False)
    frozen = copy.deepcopy(snap)
    first = decide(snap, 60.0)
    assert snap == frozen
    shuffled = list(queued)
    rng.shuffle(shuffled)
    assert decide(build(shuffled, True), 60.0) == first == decide(snap, 60.0)
    assert dispatched(first)


def test_metrics_report_depth_and_wait() -> None:
    snap = snapshot(
        res(cpu=1),
        state("a", (item("x", at=0.0), item("y", at=6.0)), batch_running(0)),
        state("b"),
    )
    a, b = metrics(snap, 10.0)
    assert (a.namespace, a.depth, a.oldest_wait_s, a.mean_wait_s) == ("a", 2, 10.0, 7.0)
    assert (b.depth, b.oldest_wait_s) == (0, 0.0)


def test_snapshot_is_validated() -> None:
    bad = snapshot(res(cpu=1), state("a", (item("x", "b"),)))
    with pytest.raises(ValueError):
        decide(bad, 0.0)
    with pytest.raises(ValueError):
        NamespacePolicy("w", weight=0)
