"""``--format csv``: a header and one row per submission, as ``grade batch`` writes them."""
from __future__ import annotations

import csv
import io
from typing import Iterable

from grader import hookimpl
from grader.formats import Format, RenderContext, exercise_totals, number
from grader.model import Report

BASE_COLUMNS = ("submission", "score", "max_score", "status")


def report_status(report: Report) -> str:
    """graded, load errors (some of the file failed to run), or unreadable (none could)."""
    if not report.problems:
        return "graded"
    if report.results and all(r.message is not None and r.message.id == "outcome.not_loaded" for r in report.results):
        return "unreadable"
    return "load errors"


def header(exercises: Iterable[str]) -> list[str]:
    return list(BASE_COLUMNS) + list(exercises)


def row(report: Report) -> dict:
    values = {"submission": report.submission, "score": number(report.score),
              "max_score": number(report.max_score), "status": report_status(report)}
    for total in exercise_totals(report):
        values[total["exercise"]] = number(round(total["score"], 6))
    return values


def render(report: Report, context: RenderContext) -> str:
    buffer = io.StringIO()
    exercises = [t["exercise"] for t in exercise_totals(report)]
    writer = csv.DictWriter(buffer, header(exercises), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row(report))
    return buffer.getvalue()


@hookimpl
def grader_formats(register):
    register(Format("csv", render, "a CSV header and one row"))
