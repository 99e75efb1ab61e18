"""``--format junit``: JUnit XML, one test case per check, for CI systems."""
from __future__ import annotations

import re
from typing import Iterable

from grader import hookimpl
from grader.formats import Format, RenderContext, status_label
from grader.model import Report, Status

#: Characters XML 1.0 cannot carry at all (learner output may contain them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def suite(report: Report, context: RenderContext):
    """One ``<testsuite>`` element for one submission."""
    import xml.etree.ElementTree as ElementTree  # only when JUnit is asked for

    messages, lang = context.messages, context.lang
    failures = sum(r.status in (Status.FAILED, Status.MISSING) for r in report.results)
    errors = sum(r.status in (Status.ERROR, Status.TIMEOUT) for r in report.results)
    element = ElementTree.Element("testsuite", {
        "name": _clean(report.submission),
        "tests": str(len(report.results)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": "0",
    })
    properties = ElementTree.SubElement(element, "properties")
    for name, value in (("score", report.score), ("max_score", report.max_score), ("seed", report.seed)):
        ElementTree.SubElement(properties, "property", {"name": name, "value": str(value)})
    for result in report.results:
        case = ElementTree.SubElement(element, "testcase", {
            "classname": f"{result.check.exercise}.{result.check.function}",
            "name": result.check.name,
        })
        if result.passed:
            continue
        text = messages.render(result.message, lang)
        body = "\n".join([text] + [f"{messages.text('report.hint', lang)} [{h.id}]: {h.text.get(lang, '')}" for h in result.hints])
        tag = "error" if result.status in (Status.ERROR, Status.TIMEOUT) else "failure"
        failure = ElementTree.SubElement(case, tag, {"message": _clean(text[:300]), "type": status_label(result, context)})
        failure.text = _clean(body)
    if report.problems:
        out = ElementTree.SubElement(element, "system-err")
        out.text = _clean("\n".join(
            f"{messages.location(p.where, lang)}: {messages.render(p.message, lang)}" for p in report.problems
        ))
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
