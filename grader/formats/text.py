"""``--format text`` (the default): a table per exercise, then what to fix and why."""
from __future__ import annotations

import re
import unicodedata

import click

from grader import hookimpl
from grader.formats import Format, RenderContext, exercise_totals, number, status_label
from grader.model import Report, Status

#: Control characters (and the escape sequences they start) in what a submission printed or
#: raised: shown as such, they could redraw the terminal into a fake report.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f\x9b]")


def plain(text: str) -> str:
    """``text`` with every control character but tab shown as a replacement character."""
    return _CONTROL.sub("\ufffd", text)


#: Failed checks shown without -v; the rest are counted.
SHOWN_FAILURES = 12
OUTPUT_LINES = 20


def width(text: str) -> int:
    """Columns a string takes in a terminal (a Japanese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def render(report: Report, context: RenderContext) -> str:
    messages, lang, verbose = context.messages, context.lang, context.verbose

    def style(text: str, **kwargs) -> str:
        return click.style(text, **kwargs) if context.color else text

    def say(message_id: str, **params) -> str:
        return messages.text(message_id, lang, **params)

    lines = [style(say("report.title", submission=plain(report.submission)), bold=True), ""]
    rows = [(say("report.exercise"), say("report.checks"), say("report.points"))]
    for total in exercise_totals(report):
        rows.append((total["exercise"], f"{total['passed']}/{total['checks']}", f"{number(total['score'])}/{number(total['max_score'])}"))
    widths = [max(width(row[i]) for row in rows) + 3 for i in range(3)]
    for index, row in enumerate(rows):
        text = "  " + "".join(pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
        lines.append(style(text, bold=True) if index == 0 else text)
    lines.append("")
    score = say("report.score", score=number(report.score), max_score=number(report.max_score))
    lines.append(style(score, bold=True, fg="green" if report.full_marks else "yellow"))

    def add_problems() -> None:
        if not report.problems:
            return
        lines.extend(["", style(say("report.load_errors"), bold=True)])
        for problem in report.problems:
            lines.append(f"  {style(messages.location(problem.where, lang), fg='magenta')}: {plain(messages.render(problem.message, lang))}")
            if verbose and problem.traceback:
                lines.append(f"      {say('report.traceback')}:")
                for frame in problem.traceback:
                    lines.append(plain(f"        {frame.get('file')}:{frame.get('line')} in {frame.get('name')}: {frame.get('text')}"))
            for hint in problem.hints:
                lines.append(f"      {style(say('report.hint'), fg='cyan')} [{hint.id}]: {hint.text.get(lang, '')}")

    # A file none of whose code ran: why comes first, since every check says to look above.
    nothing_ran = bool(report.results) and all(r.message is not None and r.message.id == "outcome.not_loaded" for r in report.results)
    if nothing_ran:
        add_problems()

    # What costs points first; extras (worth nothing) after.
    failed = sorted((r for r in report.results if not r.passed), key=lambda r: r.check.extra)
    if failed:
        if report.full_marks and all(r.check.extra for r in failed):  # (the notes' own code, say)
            lines += ["", style(say("report.full_marks"), fg="green"), "", style(say("report.extras_failed"), bold=True)]
        else:
            lines += ["", style(say("report.failures"), bold=True)]
        shown = failed if verbose else failed[:SHOWN_FAILURES]
        for result in shown:
            check = result.check
            colour = "red" if result.status in (Status.FAILED, Status.ERROR, Status.TIMEOUT) else "yellow"
            points = f"{number(result.score)}/{number(check.points)}" if not check.extra else say("report.extra")
            lines.append(f"  {style('✗', fg=colour)} {style(check.id, bold=True)}  [{status_label(result, context)}, {points}]")
            title = check.title.get(lang, "")
            if title:
                lines.append(f"      {title}")
            lines.append(f"      {plain(messages.render(result.message, lang))}")
            if verbose:
                for key, value in result.details.items():
                    label = say(f"report.{key}") if key in ("expected", "got") else key
                    lines.append(f"        {label}: {_indent(plain(value), 10 + width(label))}")
            for hint in result.hints:
                lines.append(f"      {style(say('report.hint'), fg='cyan')} [{hint.id}]: {hint.text.get(lang, '')}")
        if len(shown) < len(failed):
            lines.append("  " + say("report.more_failures", count=len(failed) - len(shown)))
    elif report.results:
        lines += ["", style(say("report.full_marks"), fg="green")]

    if not nothing_ran:
        add_problems()
    if report.notes:
        lines += ["", style(say("report.notes"), bold=True)]
        lines += [f"  {messages.render(note, lang)}" for note in report.notes]
    printed = (report.output.stdout + report.output.stderr).rstrip("\n")
    if printed and (verbose or failed or report.problems):
        lines += ["", style(say("report.output"), bold=True)]
        output_lines = printed.split("\n")
        limit = len(output_lines) if verbose else OUTPUT_LINES
        lines += ["  | " + plain(line) for line in output_lines[:limit]]
        dropped = report.output.dropped_stdout + report.output.dropped_stderr
        if len(output_lines) > limit or dropped:
            lines.append("  " + say("report.output_dropped", count=dropped + sum(len(l) + 1 for l in output_lines[limit:])))
    lines += ["", say("report.seed", seed=report.seed)]
    return "\n".join(lines) + "\n"


def _indent(text: str, columns: int) -> str:
    return text.replace("\n", "\n" + " " * columns)


@hookimpl
def grader_formats(register):
    register(Format("text", render, "a readable report (the default)"))
