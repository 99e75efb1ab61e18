"""``--format json``: one JSON object, the grader's public report schema (see README)."""
from __future__ import annotations

import json

from grader import __version__, hookimpl
from grader.formats import Format, RenderContext
from grader.model import Report


def report_data(report: Report, context: RenderContext) -> dict:
    messages, lang = context.messages, context.lang
    return {
        "submission": report.submission,
        "score": report.score,
        "max_score": report.max_score,
        "checks": [
            {
                "id": result.check.id,
                "exercise": result.check.exercise,
                "name": result.check.name,
                "function": result.check.function,
                "status": result.status.value,
                "score": result.score,
                "max_score": float(result.check.points),
                "message": messages.render(result.message, lang),
                "hints": [{"id": hint.id, "text": hint.text.get(lang, hint.text.get("en", ""))} for hint in result.hints],
                "title": result.check.title.get(lang, ""),
                "details": dict(result.details),
            }
            for result in report.results
        ],
        "errors": [
            {
                "where": messages.location(problem.where, lang),
                "line": problem.where.line,
                "cell": problem.where.cell,
                "execution_count": problem.where.execution_count,
                "message": messages.render(problem.message, lang),
                "traceback": [dict(frame) for frame in problem.traceback],
                "hints": [{"id": hint.id, "text": hint.text.get(lang, "")} for hint in problem.hints],
            }
            for problem in report.problems
        ],
        "notes": [messages.render(note, lang) for note in report.notes],
        "output": {
            "stdout": report.output.stdout,
            "stderr": report.output.stderr,
            "truncated_bytes": report.output.dropped_stdout + report.output.dropped_stderr,
        },
        "seed": report.seed,
        "digest": report.digest,
        "lang": lang,
        "grader_version": __version__,
    }


def render(report: Report, context: RenderContext) -> str:
    return json.dumps(report_data(report, context), ensure_ascii=False, indent=2) + "\n"


@hookimpl
def grader_formats(register):
    register(Format("json", render, "one JSON object (the public report schema)"))
