"""``--format gradescope``: Gradescope's autograder ``results.json`` (one test per check)."""
from __future__ import annotations

import json

from grader import hookimpl
from grader.formats import Format, RenderContext, number, status_label
from grader.model import Report


def results_data(report: Report, context: RenderContext) -> dict:
    messages, lang = context.messages, context.lang
    tests = []
    for position, result in enumerate(report.results, start=1):
        lines = [result.check.title.get(lang, "")]
        if not result.passed:
            lines.append(f"{status_label(result, context)}: {messages.render(result.message, lang)}")
            lines += [f"{messages.text('report.hint', lang)} [{h.id}]: {h.text.get(lang, '')}" for h in result.hints]
        tests.append({
            "name": result.check.id,
            "number": str(position),
            "score": result.score,
            "max_score": result.check.points,
            "status": "passed" if result.passed else "failed",
            "output": "\n".join(line for line in lines if line),
            "visibility": "visible",
            "tags": [result.check.exercise, result.check.function],
        })
    summary = [messages.text("report.score", lang, score=number(report.score), max_score=number(report.max_score))]
    for problem in report.problems:
        summary.append(f"{messages.location(problem.where, lang)}: {messages.render(problem.message, lang)}")
    return {
        "score": report.score,
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"seed": report.seed, "digest": report.digest},
    }


def render(report: Report, context: RenderContext) -> str:
    return json.dumps(results_data(report, context), ensure_ascii=False, indent=2) + "\n"


@hookimpl
def grader_formats(register):
    register(Format("gradescope", render, "Gradescope autograder results.json"))
