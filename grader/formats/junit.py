"""``--format junit``: JUnit XML, one test case per check, for CI systems."""
from __future__ import annotations

import re
from typing import Iterable

from grader import hookimpl
from grader.formats import Format, RenderContext, hint_lines, status_label_of
from grader.formats.json import report_data
from grader.model import Report, Status

#: Characters XML 1.0 cannot carry at all (learner output may contain them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Statuses JUnit calls errors (the rest that did not pass are failures).
_ERRORS = (Status.ERROR.value, Status.TIMEOUT.value)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def suite(report: Report, context: RenderContext):
    """One ``<testsuite>`` element for one submission."""
    return suite_of(report_data(report, context), context)


def suite_of(data: dict, context: RenderContext):
    """One ``<testsuite>`` element from a submission's JSON report (``report_data``): what a
    batch's records keep, so ``--resume`` and ``grade merge`` write JUnit for any record."""
    import xml.etree.ElementTree as ElementTree  # only when JUnit is asked for

    checks = data["checks"]
    # An extra is worth no points: one not passed is "skipped" (with why), never a failure that
    # turns a full-marks submission's CI red.
    graded = [c for c in checks if c["max_score"]]
    failures = sum(c["status"] in (Status.FAILED.value, Status.MISSING.value) for c in graded)
    errors = sum(c["status"] in _ERRORS for c in graded)
    skipped = sum(c["status"] != Status.PASSED.value for c in checks if not c["max_score"])
    element = ElementTree.Element("testsuite", {
        "name": _clean(data["submission"]),
        "tests": str(len(checks)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
    })
    properties = ElementTree.SubElement(element, "properties")
    for name in ("score", "max_score", "seed"):
        ElementTree.SubElement(properties, "property", {"name": name, "value": str(data[name])})
    for check in checks:
        case = ElementTree.SubElement(element, "testcase", {
            "classname": f"{check['exercise']}.{check['function']}",
            "name": check["name"],
        })
        if check["status"] == Status.PASSED.value:
            continue
        text = check["message"]
        body = "\n".join([text] + hint_lines(check, context))
        tag = "skipped" if not check["max_score"] else "error" if check["status"] in _ERRORS else "failure"
        failure = ElementTree.SubElement(case, tag, {"message": _clean(text[:300]), "type": status_label_of(check, context)})
        failure.text = _clean(body)
    if data["errors"]:
        out = ElementTree.SubElement(element, "system-err")
        out.text = _clean("\n".join(f"{problem['where']}: {problem['message']}" for problem in data["errors"]))
    return element


def render_suites(suites: Iterable) -> str:
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.Element("testsuites", {"name": "grade"})
    root.extend(suites)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render(report: Report, context: RenderContext) -> str:
    return render_suites([suite(report, context)])


@hookimpl
def grader_formats(register):
    register(Format("junit", render, "JUnit XML for CI systems"))
