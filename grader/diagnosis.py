"""Naming a learner's mistake: which known wrong implementation behaves as their code does.

For each registered mistake, the same probes run on the reference with the mistake standing in
for one function (``Expectations.of_mistake``). A mistake is named when, among the checks of the
function it replaces, it reproduces at least one of the learner's failures exactly (same value
within the check's tolerance, or the same exception) and it fails no check the learner passes.
Its hint is then attached to every failed check it reproduces, end-to-end checks included.
A mistake with an ``exception`` pattern instead names any check or load error whose exception
matches it (``NameError: name 'np' is not defined``).
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from grader import wire
from grader.compare import compare
from grader.expected import Expectations
from grader.model import Check, CheckResult, Hint, Mistake, Status

#: Exceptions whose message must match too, because it names what went wrong.
MESSAGE_MATTERS = {"NameError", "UnboundLocalError", "AttributeError"}
_DIAGNOSABLE = (Status.FAILED, Status.ERROR)
#: Absolute tolerance when matching a learner's value with a mistake's.
MATCH_ATOL = 1e-15


def diagnose(results: list[CheckResult], outcomes: Mapping[str, Mapping[str, Any]],
             mistakes: tuple[Mistake, ...], expectations: Expectations) -> list[CheckResult]:
    """``results`` with the hints of every mistake the learner's outcomes match."""
    if not any(result.status in _DIAGNOSABLE for result in results):
        return list(results)
    hints: dict[str, list[Hint]] = {}
    by_id = {result.check.id: result for result in results}
    for mistake in mistakes:
        if mistake.exception:
            continue
        relevant = [r for r in results if mistake.function in r.check.names]
        own = [r for r in relevant if r.check.function == mistake.function]
        if not any(r.status in _DIAGNOSABLE for r in own):
            continue
        # Of a mistake's variants, the one that reproduces the most of the learner's failures.
        matched = max((_matches(mistake, index, own, relevant, outcomes, expectations)
                       for index in range(len(mistake.implementations))), key=len, default=[])
        for check_id in matched:
            _add(hints, check_id, Hint(mistake.id, mistake.hint))
    for result in results:
        if result.status in _DIAGNOSABLE:
            for mistake in mistakes:
                pattern = mistake.exception
                if pattern and exception_matches(pattern, outcomes.get(result.check.id, {})):
                    _add(hints, result.check.id, Hint(mistake.id, mistake.hint))
    return [
        _with_hints(by_id[result.check.id], hints.get(result.check.id, ())) for result in results
    ]


def _matches(mistake: Mistake, index: int, own: list[CheckResult], relevant: list[CheckResult],
             outcomes, expectations: Expectations) -> list[str]:
    """Ids of the failed checks this implementation reproduces, or [] if it does not explain
    the learner's failures (it reproduces none of the own ones, or fails where they pass)."""
    reproduced = []
    for result in own:
        check = result.check
        wrong = expectations.of_mistake(mistake, index, check)
        mistake_fails = not _passes(check, wrong, expectations)
        if result.status is Status.PASSED and mistake_fails:
            return []  # the mistake is more wrong than the learner: not theirs
        if result.status in _DIAGNOSABLE and mistake_fails and _same(check, wrong, outcomes.get(check.id, {}), expectations):
            reproduced.append(check.id)
    if not reproduced:
        return []
    for result in relevant:
        check = result.check
        if check.function == mistake.function or result.status not in _DIAGNOSABLE:
            continue
        wrong = expectations.of_mistake(mistake, index, check)
        if not _passes(check, wrong, expectations) and _same(check, wrong, outcomes.get(check.id, {}), expectations):
            reproduced.append(check.id)
    return reproduced


def _passes(check: Check, outcome: Mapping[str, Any], expectations: Expectations) -> bool:
    if outcome.get("kind") != "value":
        return False
    if check.verify is not None:
        return check.verify(outcome["value"], expectations.rng(check)) is None
    return compare(expectations.expected(check)["value"], outcome["value"], check.rtol, check.atol) is None


def _same(check: Check, wrong: Mapping[str, Any], learner: Mapping[str, Any], expectations: Expectations) -> bool:
    """Does the learner's outcome look exactly like the mistake's?"""
    kind = learner.get("kind")
    if kind != wrong.get("kind"):
        return False
    if kind == "exception":
        if learner.get("type") != wrong.get("type"):
            return False
        return wrong.get("type") not in MESSAGE_MATTERS or learner.get("message") == wrong.get("message")
    if kind != "value":
        return False
    try:
        got = wire.decode_value(learner.get("value"))
    except (wire.WireError, RecursionError):
        return False
    try:
        if check.verify is not None:
            mistake_problem = check.verify(wrong["value"], expectations.rng(check))
            learner_problem = check.verify(got, expectations.rng(check))
            return mistake_problem is not None and mistake_problem == learner_problem
        # Relative closeness only: two different mistakes may both land within a check's
        # absolute tolerance of zero (h = 1e-50 gives 0, `/ 2*h` gives 1e-8), not of each other.
        return compare(wrong["value"], got, check.rtol, MATCH_ATOL) is None
    except Exception:  # noqa: BLE001 - a learner's value no check can read matches nothing
        return False


def exception_matches(pattern: tuple[str, str], outcome: Mapping[str, Any]) -> bool:
    """Does ``outcome`` (a check's or a unit's) raise the exception ``(type, message regex)``?"""
    type_name, message = pattern
    return (
        outcome.get("kind") == "exception"
        and outcome.get("type") == type_name
        and re.search(message, str(outcome.get("message", ""))) is not None
    )


def _add(hints: dict[str, list[Hint]], check_id: str, hint: Hint) -> None:
    bucket = hints.setdefault(check_id, [])
    if all(existing.id != hint.id for existing in bucket):
        bucket.append(hint)


def _with_hints(result: CheckResult, hints) -> CheckResult:
    if not hints:
        return result
    from dataclasses import replace

    return replace(result, hints=tuple(hints))


def hint_for_problem(outcome: Mapping[str, Any], mistakes: tuple[Mistake, ...]) -> Optional[Hint]:
    """The hint of an exception-pattern mistake that a load error matches, if any."""
    for mistake in mistakes:
        pattern = mistake.exception
        if pattern and exception_matches(pattern, outcome):
            return Hint(mistake.id, mistake.hint)
    return None
