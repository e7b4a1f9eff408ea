"""Issue 13: the grader's own checks on replies, whatever a hand-in writes on the worker's channel."""

from __future__ import annotations

import numpy as np

from grader.execution.protocol import MAX_ELEMENTS, RunReport
from grader.execution.runner import MAX_HAND_IN_ELEMENTS, SMALL_REPLY, _bounded, _parse_reply, element_count


def reply(value, kind, **extra):
    return _parse_reply("k", {"key": "k", "ok": True, "value": value, "kind": kind, "type": "x", **extra})


def test_honest_reply_shapes_are_accepted():
    assert reply(np.zeros((2, 3)), "numpy").ok and reply(np.zeros(3), "torch").ok
    assert reply([1.0, 2.0], "list").ok and reply((1.0, [2.0]), "tuple").ok and reply(3.5, "python").ok
    assert reply({"P": np.ones(2)}, "python").ok


def test_forged_reply_shapes_are_refused():
    assert reply(1.5, "numpy").ok and reply(True, "torch").ok  # 0-d arrays travel as numbers
    for value, kind, extra in [([[1.0, 2.0], [3.0]], "numpy", {}), ("1", "torch", {}), ((1.0,), "list", {}),
                               (np.ones(3), "python", {}), (1.0, "pickle", {}), (1.0, "python", {"extra": 1}),
                               (np.ones(2), "numpy", {"grads": {"x": [1.0, 2.0]}})]:
        forged = reply(value, kind, **extra)
        assert not forged.ok and "tampered" in forged.error, (value, kind, extra)


def test_a_hand_in_keeps_at_most_its_element_budget_and_long_lists_become_arrays():
    report = RunReport(cells={}, replies={}, sandbox="test", protections={})
    big = reply(np.zeros(MAX_ELEMENTS), "numpy")
    assert _bounded(big, report).ok and _bounded(reply(np.zeros(MAX_ELEMENTS), "numpy"), report).ok
    assert report.reply_elements == 2 * MAX_ELEMENTS == MAX_HAND_IN_ELEMENTS
    refused = _bounded(reply(np.zeros(SMALL_REPLY + 1), "numpy"), report)
    assert not refused.ok and "more than" in refused.error
    assert _bounded(reply(np.zeros(SMALL_REPLY), "numpy"), report).ok  # small replies are always kept
    alone = _bounded(reply(np.zeros(MAX_ELEMENTS + 1), "numpy"), RunReport({}, {}, "test", {}))
    assert not alone.ok and "a worker may send" in alone.error
    kept = _bounded(reply([0.5] * 5000, "list"), RunReport({}, {}, "test", {}))
    assert isinstance(kept.value, np.ndarray) and kept.value.dtype == np.float64 and kept.value.shape == (5000,)
    mixed = _bounded(reply([1, 2.5] * 1000, "list"), RunReport({}, {}, "test", {}))
    assert isinstance(mixed.value, list)  # ints and floats mixed: left as the student's list
    assert element_count([np.zeros(4), "x" * 80, {"a": 1}]) == 1 + 4 + 11 + 2
