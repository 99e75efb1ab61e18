"""Output formats turn a ``Report`` into text; each is a plugin registering a ``Format``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pluggy

from grader.errors import PluginError
from grader.messages import Messages
from grader.model import CheckResult, Report, Status
from grader.plugins import call_each


@dataclass(frozen=True)
class RenderContext:
    """What a format needs besides the report: the language and how to write it."""

    messages: Messages
    lang: str = "en"
    verbose: bool = False
    color: bool = False


@dataclass(frozen=True)
class Format:
    name: str
    render: Callable[[Report, RenderContext], str]
    description: str = ""
    #: What a file of this format starts with, before the report (none on stdout, for tools):
    #: the CSV's byte-order mark, so that a spreadsheet reads its names as UTF-8.
    file_start: str = ""


def collect_formats(manager: pluggy.PluginManager) -> dict[str, Format]:
    formats: dict[str, Format] = {}

    def registrar(plugin: str):
        def register(fmt: Format) -> None:
            if fmt.name in formats:
                raise PluginError(f"plugin {plugin!r} registered format {fmt.name!r}, which already exists")
            formats[fmt.name] = fmt
        return {"register": register}

    call_each(manager, "grader_formats", registrar)
    return formats


def status_label(result: CheckResult, context: RenderContext) -> str:
    """The status in words; "not attempted" is a missing function that raises
    NotImplementedError, which the report's schema calls "missing"."""
    if result.status is Status.MISSING and result.message is not None and result.message.id == "outcome.not_attempted":
        return context.messages.text("status.not_attempted", context.lang)
    return context.messages.text(f"status.{result.status.value}", context.lang)


def status_label_of(check: dict, context: RenderContext) -> str:
    """``status_label`` of a check as the JSON report gives it (``formats.json.report_data``),
    for formats written from that data. The report keeps the message rendered, not its id, so
    "not attempted" is told by rendering that message again: the same words, the same check."""
    if check["status"] == Status.MISSING.value and check["message"] == context.messages.text(
            "outcome.not_attempted", context.lang, name=check["function"]):
        return context.messages.text("status.not_attempted", context.lang)
    return context.messages.text(f"status.{check['status']}", context.lang)


def hint_lines(check: dict, context: RenderContext) -> list[str]:
    """A check's hints (as the JSON report gives them), one line each, for formats written from
    that data."""
    label = context.messages.text("report.hint", context.lang)
    return [f"{label} [{hint['id']}]: {hint['text']}" for hint in check["hints"]]


def number(value: float) -> str:
    """Points without a needless ``.0``."""
    return f"{value:g}"


def exercise_totals(report: Report) -> list[dict]:
    """Per exercise, in catalogue order: checks passed, checks, score, max score."""
    totals: dict[str, dict] = {}
    for result in report.results:
        row = totals.setdefault(result.check.exercise, {"exercise": result.check.exercise, "passed": 0, "checks": 0, "score": 0.0, "max_score": 0.0})
        row["checks"] += 1
        row["passed"] += result.passed
        row["score"] += result.score
        row["max_score"] += result.check.points
    return list(totals.values())
