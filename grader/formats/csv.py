"""``--format csv``: a header and one row per submission, as ``grade batch`` writes them."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import Iterable

from grader import hookimpl
from grader.formats import Format, RenderContext, exercise_totals, number
from grader.model import Report

BASE_COLUMNS = ("submission", "score", "max_score", "status")
#: What a CSV file starts with: a spreadsheet then reads it as UTF-8, Japanese names included.
BYTE_ORDER_MARK = "\ufeff"
#: How a cell a spreadsheet would read as a formula starts (or as a number or a date: "-1", "+81").
#: A submission's name is the learner's to choose: such a name is written after an apostrophe,
#: which a spreadsheet takes to mean "text" and does not show. So is a name that starts with an
#: apostrophe itself: every cell still reads back as one name (drop the first apostrophe).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


#: Problems that mean the file could not be read as a submission at all.
UNREADABLE = frozenset({
    "load.unreadable", "load.empty", "load.no_code", "load.no_code_cells", "load.binary", "load.not_utf8", "load.shift_jis", "load.too_large", "load.not_json", "load.not_notebook",
    "load.project_too_large", "load.project_too_many_files", "load.too_much_code", "load.too_many_units", "load.too_many_tokens", "load.too_large_to_send", "load.zip_member_too_large",
    "load.zip_member_damaged", "load.zip_member_encrypted", "load.folder_entries", "load.folder_no_entry",
})


def report_status(report: Report) -> str:
    """graded; unreadable (the file is not a submission it could read: binary, not a notebook,
    too large); or load errors (some or all of its code failed to run: a syntax error, an
    exception, a timeout)."""
    if not report.problems:
        return "graded"
    if any(problem.message.id in UNREADABLE for problem in report.problems):
        return "unreadable"
    return "load errors"


def header(exercises: Iterable[str]) -> list[str]:
    return list(BASE_COLUMNS) + list(exercises)


def as_text(name: str) -> str:
    """``name`` as a spreadsheet cell that shows it as it is, never computes it (nor reads a
    student number ``0012345`` as the number 12345). Full-width characters count as the ASCII
    they stand for (``５０％``, ``＝１＋１``): a Japanese spreadsheet reads them so."""
    ascii_form = unicodedata.normalize("NFKC", name)
    if any(form.startswith(FORMULA_START) or _a_number(form) or SPREADSHEET_VALUE.match(form) for form in {name, ascii_form}):
        return "'" + name
    return name


def _a_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
#: What else a spreadsheet turns into a value when it opens a CSV: an amount (12,345, $100, (123),
#: 50%), a date (2024-01-01, 01/02, Jan-5, 5 Jan), a time (3:45) or TRUE / FALSE.
SPREADSHEET_VALUE = re.compile(
    r"\s*(?:[$¥€£]?\s*\(?[$¥€£]?\s*[\d][\d,]*(?:\.\d*)?\)?\s*%?"
    r"|\d{1,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?"
    rf"|{_MONTH}[-/ ]\d{{1,4}}(?:[-/ ]\d{{1,4}})?|\d{{1,2}}[-/ ]{_MONTH}(?:[-/ ]\d{{1,4}})?"
    r"|\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?"
    r"|true|false"
    r"|(?:\d{1,4}年)?\d{1,2}月(?:\d{1,2}日)?|\d{1,4}年\d{1,2}月?|[\d,]+(?:\.\d+)?円)\s*$",  # (as a Japanese spreadsheet reads)
    re.IGNORECASE,
)


def row(report: Report) -> dict:
    values = {"submission": as_text(report.submission), "score": number(report.score),
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
    register(Format("csv", render, "a CSV header and one row", file_start=BYTE_ORDER_MARK))
