"""Naming a learner's mistake: which known wrong implementation behaves as their code does.

For each registered mistake, the same probes run on the reference with the mistake standing in
for one function, under the learner's own conditions: where a check's supplied functions replay
the reference's answers in the learner's process, they replay them for the mistake too (a wrong
implementation that hands softmax the wrong input is refused there, as the learner is).

A mistake is named when, among the checks of the function it replaces, it reproduces at least one
of the learner's failures exactly (same value within the check's tolerance, or the same exception)
and it fails no check the learner passes. Failures of extras alone (0 points: the book's later
forms, which never cost a learner who follows the notes) name a mistake only when it behaves as the
learner on every check of the function, passed and failed: several wrong codes raise the same
ValueError on one input, and only the one that also matches everywhere else is the learner's.
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
#: Exceptions whose message must match but for its numbers: numpy's shape errors say which
#: operation failed ("shapes (2,3) and (2,) not aligned" is np.dot given W·x, "operands could not
#: be broadcast together" an element-wise operation), and a learner's shapes may differ.
MESSAGE_FORM_MATTERS = {"ValueError", "IndexError", "TypeError"}
NUMBERS = re.compile(r"\d+")
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
    named: list[tuple[Mistake, set[str]]] = []
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
        if matched:
            named.append((mistake, set(matched)))
    for mistake, matched in named:
        # A mistake of the same function that reproduces these failures and more explains the
        # code better: copying x explains a gradient of 0 everywhere, where reshaping x explains
        # it only for a transposed x.
        if any(other.function == mistake.function and matched < more for other, more in named):
            continue
        for check_id in sorted(matched, key=list(by_id).index):
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
    the learner's failures (it reproduces none of the own ones, fails where they pass, or is
    seen only on extras without behaving as the learner on every check of the function)."""
    reproduced, agreement, contradicted = [], 0, False
    for result in own:
        check = result.check
        wrong = expectations.of_mistake(mistake, index, check)
        mistake_fails = not _passes(check, wrong, expectations)
        if result.status is Status.PASSED:
            if mistake_fails:
                return []  # the mistake is more wrong than the learner: not theirs
            agreement += 1
        elif result.status in _DIAGNOSABLE and mistake_fails:
            if _same(check, wrong, outcomes.get(check.id, {}), expectations):
                reproduced.append(result)
                agreement += 1
            else:
                contradicted = True
    if not reproduced:
        return []
    # Extras are the book's later forms: the notes' own code fails them by design, and README
    # promises they never cost a learner who follows the notes (a named mistake costs them a
    # place in the class's "what to re-teach"). Failing extras alone names a mistake only when
    # it is exactly the learner's code on every check of the function, extras included.
    if all(r.check.extra for r in reproduced) and agreement < len(own):
        return []
    # The same exception is weak evidence: many wrong codes raise the IndexError of a 1-D loop
    # on a matrix. A mistake seen only in such exceptions, whose values differ from the learner's
    # where both are wrong, is another code that happens to raise it too (`/ 2*h` in a 1-D loop,
    # for a learner whose 1-D loop has a forward difference). (A supplied function's refusal says
    # what it was given: that is strong evidence.)
    if contradicted and all(_weak(outcomes.get(r.check.id, {})) for r in reproduced):
        return []
    named_by_scored = any(not r.check.extra for r in reproduced)
    # Named by the checks that score, a mistake is not also the reason given for an extra: the
    # notes' form fails the extras whatever else is wrong (no delta does not explain a batch
    # that is summed rather than averaged).
    matched = [r.check.id for r in reproduced if not (named_by_scored and r.check.extra)]
    for result in relevant:
        check = result.check
        if check.function == mistake.function or result.status not in _DIAGNOSABLE or (named_by_scored and check.extra):
            continue
        wrong = expectations.of_mistake(mistake, index, check)
        if not _passes(check, wrong, expectations) and _same(check, wrong, outcomes.get(check.id, {}), expectations):
            matched.append(check.id)
    return matched


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
        # A supplied function's refusal (``probing.refused_call``) is the evidence: which function
        # refused, and what it was given. Softmax given x and cross_entropy_error given the raw
        # scores are two mistakes, both a ValueError; cross_entropy_error given (t, y) is neither.
        refused, refused_mistake = _refused(learner), _refused(wrong)
        if refused or refused_mistake:
            return refused == refused_mistake
        if wrong.get("type") in MESSAGE_FORM_MATTERS:
            return _form(learner.get("message")) == _form(wrong.get("message"))
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


def _weak(outcome: Mapping[str, Any]) -> bool:
    """Whether a learner's outcome, matched, says little of which code gave it: an exception that
    no supplied function's refusal is behind."""
    return outcome.get("kind") == "exception" and _refused(outcome) is None


def _refused(outcome: Mapping[str, Any]) -> Optional[tuple]:
    """(function, hash of its arguments) of the supplied function's refusal behind this
    exception, if one refused."""
    refused = outcome.get("refused")
    return tuple(refused) if type(refused) is list and len(refused) == 2 else None


def _form(message: Any) -> str:
    return NUMBERS.sub("#", message) if type(message) is str else ""


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
