"""Grading whole submissions end to end, through the sandbox."""
from __future__ import annotations

from conftest import EXAMPLES

from grader.model import Status


def statuses(report):
    return {result.check.id: result.status for result in report.results}


def test_the_bundled_example_gets_full_marks(grader):
    report = grader.grade(EXAMPLES / "student.py")
    failed = {cid: s for cid, s in statuses(report).items() if s is not Status.PASSED}
    assert failed == {}
    assert report.score == report.max_score == 100


def test_the_notes_as_a_notebook_fail_only_where_the_notes_are_wrong_or_silent(grader):
    report = grader.grade(EXAMPLES / "notes.ipynb")
    lost = {r.check.id for r in report.results if not r.passed and not r.check.extra}
    assert lost == {
        "minibatch.get_mini_batch.shapes",
        "minibatch.get_mini_batch.drawn_from_data",
        "minibatch.get_mini_batch.paired",
        "minibatch.get_mini_batch.different_draws",
        "derivatives.function_1.scalars",
        "derivatives.function_1.array",
        "derivatives.function_tmp2.values",
        "gradient.numerical_gradient.n_dimensional",
        "gradient.numerical_gradient.non_contiguous",
        "simplenet.simpleNet.gradient",
    }
    assert report.score == 76
