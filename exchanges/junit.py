"""JUnit XML reports: one test case per script (or per client of a scripted server).

The shape Jenkins, GitLab, GitHub's test reporters and Azure read::

    <testsuites name="framewire" tests="2" failures="1" errors="0" time="0.412">
      <testsuite name="framewire-engine" tests="2" failures="1" errors="0" skipped="0"
                 time="0.412" timestamp="2026-12-05T18:52:01" hostname="ci-7">
        <testcase classname="check" name="login works" file="check.toml" time="0.120"/>
        <testcase classname="greet" name="greeting" file="greet.toml" time="0.292">
          <failure type="expectation" message="step 4: expect text 'ok': ...">
            check.toml:17: step 4 failed: expect text 'ok'
              expected  text     ok ...
          </failure>
          <system-out>     0.000 script 'greeting' started ...</system-out>
        </testcase>
      </testsuite>
    </testsuites>

A failed expectation, a timeout and a protocol error are ``<failure>`` (the service did
not do what the script says); a script mistake found while running and a connection
that could not be made are ``<error>`` (the check itself could not run).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["ERROR_KINDS", "Case", "junit_xml"]

#: Outcome kinds reported as ``<error>`` rather than ``<failure>``.
ERROR_KINDS = frozenset({"script", "connection"})


@dataclass(frozen=True, slots=True)
class Case:
    """One test case: ``kind`` "" when it passed, else the ``Outcome`` kind."""

    name: str
    classname: str
    file: str
    seconds: float
    kind: str = ""
    message: str = ""
    report: str = ""
    transcript: Sequence[str] = field(default_factory=tuple)


def junit_xml(cases: Iterable[Case], *, suite: str, timestamp: str, hostname: str) -> bytes:
    """The report as UTF-8 XML bytes, with its declaration."""
    cases = list(cases)
    failures = sum(1 for c in cases if c.kind and c.kind not in ERROR_KINDS)
    errors = sum(1 for c in cases if c.kind in ERROR_KINDS)
    total = f"{sum(c.seconds for c in cases):.3f}"
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors)}
    root = ET.Element("testsuites", {"name": "framewire", **counts, "time": total})
    suite_element = ET.SubElement(
        root,
        "testsuite",
        {
            "name": suite,
            **counts,
            "skipped": "0",
            "time": total,
            "timestamp": timestamp,
            "hostname": hostname,
        },
    )
    for case in cases:
        element = ET.SubElement(
            suite_element,
            "testcase",
            {
                "classname": case.classname,
                "name": case.name,
                "file": case.file,
                "time": f"{case.seconds:.3f}",
            },
        )
        if case.kind:
            tag = "error" if case.kind in ERROR_KINDS else "failure"
            problem = ET.SubElement(element, tag, {"type": case.kind, "message": case.message})
            problem.text = case.report or case.message
        if case.transcript:
            ET.SubElement(element, "system-out").text = "\n".join(case.transcript)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
