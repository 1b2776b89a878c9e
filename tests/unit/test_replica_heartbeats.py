"""The replica's side of heartbeats, without a cluster: the context agents get, and what the
control plane's poll reads back."""

from __future__ import annotations

import json
import logging
import pickle
import threading

import pytest

from ray_backend.attempt_context import AttemptCancelled, AttemptContext, ReplicaHeartbeats

KEY = ("e1", "crawl", 2)
FACTS = {"execution_id": "e1", "task_id": "crawl", "attempt": 2, "last_heartbeat": {"page": 3}}


def test_the_context_is_still_the_plain_dict_agents_got() -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))
    assert context == FACTS and context["last_heartbeat"] == {"page": 3}
    assert json.loads(json.dumps(context)) == FACTS
    # Returned as (part of) an output it travels as a dict, without the heartbeat function.
    copied = pickle.loads(pickle.dumps({"echo": context}))
    assert type(copied["echo"]) is dict and copied["echo"] == FACTS


def test_the_poll_reads_what_is_new_since_the_sequence_it_knows() -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))
    other = AttemptContext({**FACTS, "task_id": "other"}, board.open(("e1", "other", 1)))
    assert board.since({KEY: 0}) == {}
    details = {"page": 4}
    context.heartbeat(details)
    details["page"] = 99  # changed by the agent afterwards: what was sent stays
    context.heartbeat()
    assert board.since({KEY: 0}) == {KEY: (2, '{"page":4}')}
    assert board.since({KEY: 1}) == {KEY: (2, None)}  # details not newer than what was seen
    assert board.since({KEY: 2}) == {}
    other.heartbeat({"x": 1})
    assert board.since({KEY: 2}) == {}  # only the attempts asked about
    assert board.since({KEY: 2, ("e1", "other", 1): 0}) == {("e1", "other", 1): (1, '{"x":1}')}


def test_bad_details_are_dropped_with_a_reason_and_the_heartbeat_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))
    with caplog.at_level(logging.WARNING):
        context.heartbeat({"when": object()})  # type: ignore[dict-item]
        context.heartbeat(["not", "an", "object"])  # type: ignore[arg-type]
    assert board.since({KEY: 0}) == {KEY: (2, None)}
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "crawl attempt 2: heartbeat details dropped: details.when a object is not a JSON value",
        "crawl attempt 2: heartbeat details dropped: details must be an object or None, got list",
    ]


def test_heartbeats_since_the_last_poll_come_back_when_the_attempt_ends() -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))
    context.heartbeat({"page": 1})
    assert board.since({KEY: 0}) == {KEY: (1, '{"page":1}')}  # one poll saw this much
    context.heartbeat({"page": 2})
    context.heartbeat()
    final = board.close(KEY)
    assert final == (3, 2, '{"page":2}')
    assert ReplicaHeartbeats.final_since(final, 1) == (3, '{"page":2}')
    assert ReplicaHeartbeats.final_since(final, 2) == (3, None)
    assert ReplicaHeartbeats.final_since(final, 3) is None
    assert board.close(KEY) is None
    silent = board.open(("e1", "silent", 1))
    assert silent is not None and board.close(("e1", "silent", 1)) is None


def test_heartbeat_raises_once_the_attempt_has_ended() -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))
    board.close(KEY)
    with pytest.raises(AttemptCancelled, match="attempt 2 of task crawl has ended"):
        context.heartbeat({"page": 5})
    assert board.since({KEY: 0}) == {}


def test_heartbeats_from_many_threads_are_all_counted() -> None:
    board = ReplicaHeartbeats()
    context = AttemptContext(FACTS, board.open(KEY))

    def beat() -> None:
        for i in range(500):
            context.heartbeat({"i": i} if i % 10 == 0 else None)

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert board.since({KEY: 0})[KEY][0] == 2000
