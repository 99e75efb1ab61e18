"""``--format gradescope``: Gradescope's autograder ``results.json`` (one test per check)."""
from __future__ import annotations

import json

from grader import hookimpl
from grader.formats import Format, RenderContext, hint_lines, number, status_label_of
from grader.formats.json import report_data
from grader.formats.text import OUTPUT_LINES, plain
from grader.model import Report, Status


def results_of(data: dict, context: RenderContext) -> dict:
    """Gradescope's results from a submission's JSON report (``report_data``): what a batch's
    records keep, so ``--resume`` writes these for any record."""
    messages, lang = context.messages, context.lang
    tests = []
    for position, check in enumerate(data["checks"], start=1):
        passed = check["status"] == Status.PASSED.value
        lines = [check["title"]]
        if not passed:
            lines.append(f"{status_label_of(check, context)}: {check['message']}")
            lines += hint_lines(check, context)
        tests.append({
            "name": check["id"],
            "number": str(position),
            "score": check["score"],
            "max_score": check["max_score"],
            "status": "passed" if passed else "failed",
            "output": "\n".join(line for line in lines if line),
            "visibility": "visible",
            "tags": [check["exercise"], check["function"]],
        })
    summary = [messages.text("report.score", lang, score=number(data["score"]), max_score=number(data["max_score"]))]
    summary += [f"{problem['where']}: {problem['message']}" for problem in data["errors"]]
    summary += _printed(data, context, failed=any(test["status"] == "failed" for test in tests))
    return {
        "score": data["score"],
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"seed": data["seed"], "digest": data["digest"]},
    }


def render_data(data: dict, context: RenderContext) -> str:
    """``render`` of a submission's JSON report."""
    return json.dumps(results_of(data, context), ensure_ascii=False, indent=2) + "\n"


def render(report: Report, context: RenderContext) -> str:
    return render_data(report_data(report, context), context)


@hookimpl
def grader_formats(register):
    register(Format("gradescope", render, "Gradescope autograder results.json"))


def _printed(data: dict, context: RenderContext, failed: bool) -> list[str]:
    """What the learner's code printed, as the text report shows it where something failed:
    Gradescope shows a learner only the results' outputs (its own stdout is the autograder's)."""
    output = data.get("output") or {}
    printed = (output.get("stdout", "") + output.get("stderr", "")).rstrip("\n")
    if not printed or not (failed or data["errors"]):
        return []
    lines = printed.split("\n")
    shown = ["", context.messages.text("report.output", context.lang) + ":"] + ["  | " + plain(line) for line in lines[:OUTPUT_LINES]]
    dropped = output.get("truncated_bytes", 0) + sum(len(line) + 1 for line in lines[OUTPUT_LINES:])
    if dropped:
        shown.append("  " + context.messages.text("report.output_dropped", context.lang, count=dropped))
    return shown
