"""JUnit XML: one test case per input, a ``<failure>`` per failing input (CI test tabs read it)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from preflight.report.model import Report

__all__ = ["render"]

# characters XML 1.0 cannot carry at all (a file name may contain them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render(report: Report) -> str:
    s = report.summary()
    suites = ET.Element("testsuites", name="preflight", tests=str(s["inputs"]))
    suites.set("failures", str(s["failed"]))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=f"preflight check ({report.profile})",
        tests=str(s["inputs"]),
        failures=str(s["failed"]),
        errors="0",
        skipped="0",
    )
    for result in report.results:
        case = ET.SubElement(suite, "testcase", classname=report.profile, name=_x(result.name))
        lines = [
            _x(f"{f.severity.value}: {f.rule}: {f.message}" + (" [fixable]" if f.fixable else ""))
            for f in result.findings
        ]
        if not result.ok:
            failing = [f for f in result.findings if f.severity.value != "info"]
            first = failing[0] if failing else result.findings[0]
            failure = ET.SubElement(
                case, "failure", message=_x(f"{first.rule}: {first.message}"), type=first.rule
            )
            failure.text = "\n".join(lines)
        elif lines:
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(lines)
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
