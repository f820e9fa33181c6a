"""One case as Markdown for a ticket or a review thread (the app's copy key).

Every value is the case's own data: shown in its visible form (no control, escape or
bidi character), one-line values escaped or code-spanned (`md`), blocks fenced with a
fence longer than any backtick run inside, so nothing in the data can end the block.
"""

from __future__ import annotations

import re
from typing import Any

from evaltui.exporters.markdown import md
from evaltui.textsafe import visible

BLOCK_LIMIT = 4000  # characters of an input, expected answer or output


def fenced(text: str | None, length: int | None = None) -> str:
    body = visible(text or "", multiline=True, limit=BLOCK_LIMIT, length=length)
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}text\n{body}\n{fence}"


def _verdict(verdict: str | None, samples: tuple[int, int] | None = None) -> str:
    if verdict is None:
        return "absent"
    if samples and samples[1] > 1:
        return f"{verdict} ({samples[0]}/{samples[1]} samples pass)"
    return verdict


def case_markdown(row: Any, detail: Any, reducer: Any, history: list[Any]) -> str:
    """`row`/`detail`: a CaseRow and its CaseDetail; `history`: its findings, newest last."""
    out = [
        f"### {md(detail.suite)} / {md(detail.case_key)}: {md(row.change)}",
        "",
        f"- baseline: {_verdict(row.baseline, row.baseline_samples)}",
        f"- candidate: {_verdict(row.candidate, row.candidate_samples)}",
    ]
    if detail.fallback is not None:
        out.append(f"- fallback: {_verdict(row.fallback)}")
    out.append(f"- reducer: {md(reducer.label)}; status: {md(detail.status)}")
    if detail.attributes:
        attrs = ", ".join(f"{md(k, 40)}={md(v, 60)}" for k, v in sorted(detail.attributes.items()))
        out.append(f"- attributes: {attrs}")
    if row.triage_class or row.triage_owner or row.triage_verdict:
        out.append(
            f"- triage: class {md(row.triage_class or '-')}, owner {md(row.triage_owner or '-')}, "
            f"verdict {md(row.triage_verdict or '-')}"
        )
    out += ["", "**Input**", "", fenced(detail.input)]
    if detail.expected is not None:
        out += ["", "**Expected**", "", fenced(detail.expected)]
    for role in ("baseline", "candidate", "fallback"):
        samples = getattr(detail, role)
        if samples:
            s = samples[0]
            out += [
                "",
                f"**{role.capitalize()} output** (sample {s.epoch}, {md(s.verdict)})",
                "",
                fenced(s.output, s.output_length),
            ]
    notes = [f for f in history if f.note][-5:]
    if notes:
        out += ["", "**Notes**", ""]
        out += [f"- {md(f.reviewer, 40)}: {md(f.note, 500)}" for f in notes]
    return "\n".join(out) + "\n"
