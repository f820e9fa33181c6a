"""A calibration report (its JSON form, `calibration.export.report_json`) as lines of text
for people: `evaltui calibrate report`, the app's calibration panel and the Markdown
record's Calibration section. Data (names, reviewers) is made visible, never markup."""

from __future__ import annotations

from typing import Any

from evaltui.stats import pct
from evaltui.textsafe import visible


def _iv(iv: list[float] | None, points: bool = False) -> str:
    if iv is None:
        return "no interval"
    if points:
        return f"{iv[0] * 100:+.1f} to {iv[1] * 100:+.1f} pts"
    return f"{pct(iv[0])} to {pct(iv[1])}"


def _pts(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:+.1f} pts"


def fmt_num(x: float | None) -> str:
    """A figure such as kappa to three places ("-" when there is none)."""
    return "-" if x is None else f"{x:.3f}"


def _refused(r: dict[str, str] | None) -> str:
    return "" if r is None else f"refused ({r['code']}): {visible(r['reason'], limit=300)}"


def judged_line(f: dict[str, Any]) -> str:
    who = ", ".join(visible(w, limit=40) for w in f["reviewers"][:8]) or "nobody"
    return (
        f"judged {f['judged']:,} ({f['human_passes']:,} pass, {f['human_fails']:,} fail by "
        f"people; {f['disputed']:,} disputed, {f['unsure']:,} unsure left out) by {who}"
    )


def grader_lines(f: dict[str, Any]) -> list[str]:
    """TPR, TNR, J and agreement of a grader against the judged results."""
    c, tpr, tnr = f["confusion"], f["tpr"], f["tnr"]
    ag = f["agreement"]
    return [
        f"confusion: TP {c['tp']}  FP {c['fp']}  TN {c['tn']}  FN {c['fn']}",
        f"TPR {pct(tpr['value'])} (exact {_iv(tpr['exact'])}; Wilson {_iv(tpr['wilson'])})",
        f"TNR {pct(tnr['value'])} (exact {_iv(tnr['exact'])}; Wilson {_iv(tnr['wilson'])})",
        f"TPR + TNR - 1 = {fmt_num(f['youden']['value'])} "
        + (
            f"({fmt_num(f['youden']['interval'][0])} to {fmt_num(f['youden']['interval'][1])})"
            if f["youden"]["interval"]
            else ""
        )
        + f"; kappa {fmt_num(ag['kappa'])}; AC1 {fmt_num(ag['ac1'])}",
    ]


def rate_line(r: dict[str, Any]) -> str:
    raw = r["raw"]
    head = f"raw {pct(raw['value'])} ({raw['passes']:,}/{raw['n']:,})"
    if r["refused"]:
        return f"{head}; corrected: {_refused(r['refused'])}"
    clipped = ", clipped" if r["clipped"] else ""
    return (
        f"{head} -> corrected {pct(r['corrected'])} ({_iv(r['interval'])}, {r['method']}{clipped})"
    )


def criterion_lines(c: dict[str, Any]) -> list[str]:
    lines = [
        f"criterion {visible(c['criterion'], limit=80)} (grader: {visible(c['grader'], limit=200)})",
        "  " + judged_line(c),
    ]
    lines += ["  " + x for x in grader_lines(c)]
    lines.append("  pass rate: " + rate_line(c["pass_rate"]))
    for s in c["samples"]:
        lines.append(
            f"  sample {s['id']} (run {s['run']}): seed {s['seed']}, {s['drawn']:,} of "
            f"{s['frame_size']:,} drawn ({s['allocation']}"
            + (f" by {visible(s['dimension'], limit=40)}" if s["dimension"] else "")
            + f"), frame {str(s['frame_sha256'])[:12]}"
        )
    if c["segments"]:
        lines.append(f"  by {visible(c['dimension'], limit=40)}:")
        for s in c["segments"]:
            lines.append(
                f"    {visible(s['segment'] or '(none)', limit=40)}: judged {s['judged']}, "
                + rate_line(s["pass_rate"])
            )
    p = c["paired"]
    if p is not None:
        lines.append(
            f"  vs baseline (run {p['baseline_run']}, {p['baseline_judgments']['judged']} judged): "
            f"raw delta {_pts(p['raw_delta'])} ({_iv(p['raw_interval'], True)})"
        )
        if p["refused"]:
            lines.append("    corrected delta " + _refused(p["refused"]))
        else:
            lines.append(
                f"    corrected delta {_pts(p['delta'])} ({_iv(p['interval'], True)}), "
                f"{p['calibration']} calibration, {p['method']}"
                + (f" {p['draws']:,} draws seed {p['seed']}" if p["draws"] else "")
            )
        d = p["grader_differs"]
        if d is not None:
            flag = "YES: per-run calibration needed" if d["differs"] else "not shown"
            lines.append(
                f"    grader errs differently on the runs: {flag} (TPR {pct(d['tpr'][0])} vs "
                f"{pct(d['tpr'][1])}, TNR {pct(d['tnr'][0])} vs {pct(d['tnr'][1])})"
            )
    for g in c["reviewer_accuracy"]:
        lines.append(
            f"  reviewer {visible(g['reviewer'], limit=40)} on gold: {g['correct']}/{g['n']} right "
            f"({pct(g['accuracy'])}, {_iv(g['interval'])})"
        )
    return lines


def report_lines(data: dict[str, Any]) -> list[str]:
    """`evaltui calibrate report` as text."""
    run = visible(data["run"]["name"], limit=80)
    base = data["baseline"]
    head = f"{run}" + (f" vs {visible(base['name'], limit=80)}" if base else "")
    lines = [f"calibration of {head} (alpha {data['alpha']})"]
    if not data["criteria"]:
        lines.append(
            "no judgments yet: `evaltui calibrate sample RUN` draws results to judge, "
            "`evaltui calibrate judge SAMPLE` walks them"
        )
    for c in data["criteria"]:
        lines += criterion_lines(c)
    return lines
