"""Comparing a learner's values with the reference's, in the grader's process."""
from __future__ import annotations

import json

import numpy as np
import pytest

from grader.compare import compare


def ok(expected, got, rtol=1e-7, atol=0.0):
    return compare(expected, got, rtol, atol) is None


def test_values_within_tolerance_match():
    assert ok(1.0, 1.0 + 1e-9)
    assert not ok(1.0, 1.0 + 1e-5)
    assert ok(0.0, 1e-7, atol=1e-6)


def test_shape_is_checked_before_values():
    mismatch = compare(np.zeros((2, 3)), np.zeros((3, 2)), 1e-7, 0)
    assert mismatch.message_id == "compare.shape"
    assert compare(1.0, np.array([1.0]), 1e-7, 0).message_id == "compare.shape"


def test_a_0d_array_counts_as_a_number():
    assert ok(0.5, np.array(0.5))


def test_the_kind_of_values_is_checked():
    assert compare(np.array([1.0]), np.array([True]), 1e-7, 0).message_id == "compare.dtype"
    assert compare(np.array([1.0]), np.array([1 + 0j]), 1e-7, 0).message_id == "compare.dtype"
    assert ok(np.array([6.0, 8.0]), np.array([6, 8]))


def test_nan_matches_only_nan_and_infinity_only_the_same_infinity():
    assert ok(np.array([np.nan, np.inf]), np.array([np.nan, np.inf]))
    assert not ok(np.array([1.0]), np.array([np.nan]))
    assert not ok(np.array([np.nan]), np.array([1.0]))
    assert not ok(np.array([np.inf]), np.array([-np.inf]))
    assert not ok(16.1, float("inf"))


def test_a_mismatch_names_the_first_differing_elements():
    mismatch = compare(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]), 1e-7, 0)
    assert mismatch.message_id == "compare.array"
    assert mismatch.params["count"] == 1 and "[1] 2 → 2.5" in mismatch.params["first"]


def test_lists_and_dicts_are_compared_element_by_element_with_a_path():
    mismatch = compare([1.0, {"x": 2.0}], [1.0, {"x": 3.0}], 1e-7, 0)
    assert mismatch.path == "[1].x"
    assert compare([1.0], [1.0, 2.0], 1e-7, 0).message_id == "compare.kind"


@pytest.mark.parametrize("got", ["1.0", None, [1.0], True, {"value": 1.0}])
def test_something_that_is_not_a_number_never_matches_a_number(got):
    assert not ok(1.0, got)


# --- the judge's shortcut: a value sent exactly as the reference's ------------------------------

SHORTCUT_CASES = [
    (np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)),
    ([np.array([0.1, 0.2]), 3.5, "text"], [np.array([0.1, 0.2]), 3.5, "text"]),
    ({"a": np.array([1.0]), "b": [1, 2]}, {"a": np.array([1.0]), "b": [1, 2]}),
    (True, 1),  # same under ==, not the same value: compare() says no
    (1, True),
    (1.0, 1),  # a float for an int: compare() accepts it, so must the judge
    (float("nan"), float("nan")),  # never equal under ==: compare() decides (and accepts)
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0])),
    (np.arange(3.0), np.arange(3)),  # other dtype: compare() decides
    (np.arange(3.0), np.arange(3.0) + 1e-12),
    (np.arange(3.0), np.arange(4.0)),
    ([1.0, 2.0], [1.0]),
]


@pytest.mark.parametrize("expected, got", SHORTCUT_CASES)
def test_the_judge_agrees_with_compare_with_or_without_its_shortcut(expected, got):
    from grader import wire
    from grader.judge import judge
    from grader.model import Check, Status

    check = Check(function="f", name="n", points=1, probe=lambda module, rng: None, title="t", exercise="e")
    encoded = wire.encode_value(expected)
    reference = {"kind": "value", "value": wire.decode_value(encoded), "encoded": encoded}
    outcome = {"kind": "value", "value": json.loads(json.dumps(wire.encode_value(got)))}  # as sent
    with_shortcut = judge(check, outcome, reference).status
    without = judge(check, outcome, {key: value for key, value in reference.items() if key != "encoded"}).status
    assert with_shortcut is without
    assert (without is Status.PASSED) == (compare(reference["value"], wire.decode_value(outcome["value"]), 1e-7, 0.0) is None)
