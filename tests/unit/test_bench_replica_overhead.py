"""The pure part of bench/replica_overhead.py: reading py-spy's collapsed stacks."""

from __future__ import annotations

from bench.replica_overhead import top_frames


def test_top_frames_counts_own_samples_of_the_leaf_frame() -> None:
    collapsed = [
        "main (a.py:1);run (a.py:5);select (s.py:9) 6",
        "main (a.py:1);run (a.py:5) 3",
        "main (a.py:1);work (b.py:2);select (s.py:9) 1",
        "",
        "garbage",
    ]
    assert top_frames(collapsed, top=2) == [("select (s.py:9)", 7, 0.7), ("run (a.py:5)", 3, 0.3)]


def test_top_frames_of_nothing_is_empty() -> None:
    assert top_frames([]) == []
