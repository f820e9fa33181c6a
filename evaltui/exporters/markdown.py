"""The decision record as Markdown for people (a PR comment, a release review). Data is escaped."""

from __future__ import annotations

import re
from typing import Any

from evaltui.exporters.text import fmt_delta, fmt_p, fmt_threshold, fmt_value, pct
from evaltui.gate import production
from evaltui.gate.record import DecisionRecord, RunProvenance, TaxonomyProvenance
from evaltui.review.calibration.text import fmt_num
from evaltui.textsafe import visible

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")  # & too: no entity (&#64;) in data


# What a renderer (GitHub's) turns live even when backslash-escaped: @mentions, e-mail
# addresses, bare URLs and www. links. Such data goes in a code span, where nothing is
# linked or mentioned (HTML and entities are already inert: < > & are escaped).
_LIVE = re.compile(r"@|://|\bwww\.", re.IGNORECASE)


def md(text: Any, limit: int = 300) -> str:
    """Data as inert Markdown: visible control characters, one line; specials escaped,
    or, when it could be a mention, a link, an e-mail or HTML, a code span."""
    shown = visible(str(text), limit=limit).replace("\n", " ")
    if _LIVE.search(shown):
        return _code_span(shown)
    return _MD_SPECIAL.sub(r"\\\1", shown)


def _code_span(text: str) -> str:
    """`text` as a code span that holds any backticks, safe in a table cell (| escaped)."""
    text = text.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _run_line(role: str, run: RunProvenance) -> str:
    return f"- {role}: {md(run.name)}, sha256 `{run.sha256[:16]}`"


def to_markdown(record: DecisionRecord) -> str:
    prov = record.provenance
    out = [
        f"## Release gate: **{record.decision.upper().replace('_', ' ')}**",
        "",
        f"{md(prov.candidate.name)} against {md(prov.baseline.name)}"
        + (f" (fallback {md(prov.fallback.name)})" if prov.fallback else "")
        + f", decided {md(prov.decided_at[:16].replace('T', ' '))} UTC by {md(prov.decided_by)}.",
        "",
        f"> {md(record.promise, 1000)}",
        "",
        f"**Why:** {md(record.why, 2000)}",
        "",
        "### Rules",
        "",
        "| result | rule | scope | measured | threshold | action | owner | why |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record.rules:
        mark = "pass" if r.passed else "**NO EVIDENCE**" if r.insufficient else "**FAIL**"
        out.append(
            f"| {mark} | {md(r.id)} ({r.metric}) | {md(r.scope_text)} | {fmt_value(r.value, r.metric)} "
            f"| {fmt_threshold(r.threshold, r.metric)} | {r.triggers} | {md(r.owner)} | {md(r.why)} |"
        )
    lacking = [r for r in record.rules if r.insufficient]
    if lacking:
        out += [
            "",
            "**Rules that lacked evidence** (never a pass; they trigger "
            f"{prov.insufficient_evidence}): "
            + ", ".join(
                f"{md(r.id)} ({r.n} cases, min\\_n {r.min_n})"
                if not r.uncalibrated
                else f"{md(r.id)} ({md(r.uncalibrated)})"
                for r in lacking
            ),
        ]
    out += [
        "",
        "### Segments",
        "",
        "| segment | n | baseline | candidate | delta | fallback | pass>fail | fail>pass | p | p adj |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in record.segments:
        fb = s.fallback.rate if s.fallback else None
        sig = " \\*" if s.significant else ""
        out.append(
            f"| {md(s.label)} | {s.n} | {pct(s.baseline.rate)} | {pct(s.candidate.rate)} "
            f"| {fmt_delta(s.delta)}{sig} | {pct(fb)} | {s.flips.pass_to_fail} | {s.flips.fail_to_pass} "
            f"| {fmt_p(s.p_value)} | {fmt_p(s.p_adjusted)} |"
        )
    corrected = "Holm-adjusted exact McNemar" if prov.correction == "holm" else "exact McNemar"
    out += ["", f"\\* {corrected} p < 0.05 (p: raw; p adj: adjusted across this table).", ""]
    if record.production is not None:  # #28: what users will see, and each rule's margin
        out += [
            "### Production estimate",
            "",
            *(f"- {md(line, 1000)}" for line in production.lines(record.production)),
            "",
        ]
    f = record.findings
    out += ["### Findings", "", f"{f.triaged_cases} triaged cases."]
    if f.by_class:
        out += ["", "| class | cases |", "| --- | --- |"]
        out += [f"| {md(k)} | {v} |" for k, v in f.by_class.items()]
    if f.open_by_owner:
        out += ["", "| owner | open findings |", "| --- | --- |"]
        out += [f"| {md(k)} | {v} |" for k, v in f.open_by_owner.items()]
    unt = record.untriaged_regressions
    out += [
        "",
        f"**Untriaged regressions ({len(unt)}):** "
        + (", ".join(md(k, 80) for k in unt[:50]) or "none")
        + (" …" if len(unt) > 50 else ""),
    ]
    ret = record.retired_since_previous_decision
    out += [
        "",
        f"**Cases retired since the previous decision ({len(ret)}):** "
        + (", ".join(f"{md(r.case_key, 80)} ({md(r.reason or '')})" for r in ret[:50]) or "none"),
    ]
    dis = record.open_disagreements
    out += [
        "",
        f"**Reviewers:** {', '.join(md(r, 60) for r in record.reviewers) or 'none'}; "
        f"open disagreements: {', '.join(md(k, 80) for k in dis) or 'none'}",
    ]
    out += calibration_section(record)
    out += [
        "",
        "### Provenance",
        "",
        _run_line("baseline", prov.baseline),
        _run_line("candidate", prov.candidate),
        *([_run_line("fallback", prov.fallback)] if prov.fallback else []),
        f"- policy: `{prov.policy.sha256[:16]}`; reference set: `{prov.reference_set_sha256[:16]}` "
        f"({prov.reference_set_cases} cases); reducer {prov.reducer}; evaltui {prov.evaltui_version}",
        _taxonomy_line(prov.taxonomy),
        f"- record content hash: `{record.content_hash}`",
        "",
    ]
    return "\n".join(out)


def _taxonomy_line(tax: TaxonomyProvenance) -> str:
    """The taxonomy the decision was made with (#29): `verify` notices when it changes."""
    if tax.version is None:  # a --taxonomy file
        which = f"the file {md(tax.source, 200)}"
    else:
        which = f"version {tax.version}" + (
            " (the built-in classes)" if tax.source == "built-in" else ""
        )
    return f"- taxonomy: {which}, sha256 `{tax.sha256[:16]}`"


def calibration_section(record: DecisionRecord) -> list[str]:
    """The Markdown record's Calibration section (none when the decision used none): per
    criterion what was judged, by whom, the grader's figures and whether it met the policy."""
    cal = record.calibration
    if cal is None:
        return []
    out = ["### Calibration", ""]
    std = [f"min {cal.min_judgments} judgments"] if cal.min_judgments is not None else []
    std += [f"TPR lower bound >= {cal.min_tpr}"] if cal.min_tpr is not None else []
    std += [f"TNR lower bound >= {cal.min_tnr}"] if cal.min_tnr is not None else []
    out.append(
        f"{cal.judgments} judgments in force; judgment set `{cal.judgment_set_sha256[:16]}`"
        + (f"; the policy's standard: {', '.join(std)}" if std else "")
        + "."
    )
    out += [
        "",
        "| criterion | grader | judged (base + cand) | pass / fail | TPR (lower) | TNR (lower) "
        "| kappa | AC1 | reviewers | calibrated |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in cal.criteria:
        verdict = "yes" if c.calibrated else f"**no**: {md(c.why_not or '')}"
        out.append(
            f"| {md(c.criterion)} | {md(c.grader, 200)} | {c.judged} ({c.judged_baseline} + "
            f"{c.judged_candidate}) | {c.human_passes} / {c.human_fails} | {pct(c.tpr)} "
            f"({pct(c.tpr_lower)}) | {pct(c.tnr)} ({pct(c.tnr_lower)}) | {fmt_num(c.kappa)} "
            f"| {fmt_num(c.ac1)} | {', '.join(md(r, 40) for r in c.reviewers) or 'none'} | {verdict} |"
        )
    samples = [s for c in cal.criteria for s in c.samples]
    if samples:
        out += [
            "",
            "Samples: "
            + "; ".join(
                f"{s.id} (seed {s.seed}, {s.drawn} of {s.frame_size}, frame `{s.frame_sha256[:12]}`)"
                for s in samples
            ),
        ]
    return [*out, ""]
