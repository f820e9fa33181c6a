"""The decision record as JUnit XML for CI: one testcase per rule, a violated rule is a failure."""

from __future__ import annotations

import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from evaltui.exporters.text import fmt_threshold, fmt_value
from evaltui.gate.record import DecisionRecord
from evaltui.textsafe import visible

# Characters XML 1.0 does not allow at all, even escaped (U+FFFE, U+FFFF, surrogates):
# dropped, so the report stays well-formed whatever the policy or the data holds.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: Any) -> str:
    return escape(_NOT_XML.sub("", visible(str(text), limit=2000)))


def _a(text: Any) -> str:
    return quoteattr(_NOT_XML.sub("", visible(str(text), limit=500)))


def to_junit(record: DecisionRecord) -> str:
    """XML-escaped, control characters made visible."""
    rules = record.rules
    failures = len(record.violated)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="evaltui gate" tests="{len(rules)}" failures="{failures}">',
        f'  <testsuite name={_a("gate: " + record.decision)} tests="{len(rules)}" failures="{failures}">',
    ]
    for r in rules:
        lines.append(f"    <testcase classname={_a('gate.' + r.action)} name={_a(r.id)}>")
        if not r.passed:
            msg = (
                f"{r.metric} over {r.scope_text} = {fmt_value(r.value, r.metric)}, "
                f"threshold {fmt_threshold(r.threshold, r.metric)}"
            )
            kind: str = r.action
            if r.uncalibrated:  # the grader behind it is not calibrated to the policy's standard
                msg, kind = f"uncalibrated: {r.uncalibrated}", "uncalibrated"
            lines.append(
                f"      <failure message={_a(msg)} type={_a(kind)}>{_x(r.why)} (owner {_x(r.owner)})</failure>"
            )
        lines.append("    </testcase>")
    lines += ["  </testsuite>", "</testsuites>", ""]
    return "\n".join(lines)
