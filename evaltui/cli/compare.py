"""`evaltui compare`: a comparison per segment, with flips, intervals and criteria."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from evaltui import trajectory
from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.output import Shorten, echo, make_console, make_table, print_rows
from evaltui.compare import CHANGED, CHANGES, Comparison, Reducer, default_dimensions, run_ref
from evaltui.compare.filter import Filter
from evaltui.compare.paths import case_paths, divergence_kind
from evaltui.compare.production import Production, dimensions_with, from_store, headline
from evaltui.compare.verified import calibrated_json
from evaltui.divergence import DIVERGENCE_KINDS, describe
from evaltui.errors import NotFoundError
from evaltui.exporters.text import fmt_ci, fmt_delta, fmt_p, segment_label
from evaltui.models import CASE_STATUSES
from evaltui.review import triage
from evaltui.stats import pct
from evaltui.store.runs import close_cases, resolve_run
from evaltui.textsafe import one_line, safe_json, visible


@cli.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--fallback", help="A third run: the fallback path (id or name).")
@click.option(
    "--reducer",
    default="worst",
    show_default=True,
    help="How samples of a case combine: worst, mean, majority, best, at-least-K, or "
    "declared (what the logs declare, e.g. Inspect's at_least_2; the first when they declare "
    "several) or declared:NAME (one of several, e.g. declared:max).",
)
@click.option(
    "--segments", help="Segment dimensions, comma-separated (default: attributes with few values)."
)
@click.option(
    "--include",
    type=click.Choice(CASE_STATUSES),
    multiple=True,
    help="Case statuses to count besides the active ones (quarantined, retired). Repeat for several.",
)
@click.option(
    "--only",
    type=click.Choice(CASE_STATUSES),
    multiple=True,
    help="Count exactly these case statuses (e.g. --only retired). Repeat for several.",
)
@click.option(
    "--correction",
    type=click.Choice(["holm", "none"]),
    default="holm",
    show_default=True,
    help="Multiple-comparison correction of the segments' p-values.",
)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/compare.md).")
@click.option("--keys", "show_keys", is_flag=True, help="Also list the changed case keys.")
@click.option(
    "--divergence",
    metavar="KIND",
    help="Also list the cases whose candidate path first parts from the baseline's this way: "
    + ", ".join(DIVERGENCE_KINDS)
    + " (agent runs; docs/compare.md).",
)
@click.option(
    "--traffic",
    "traffic_ref",
    help="Traffic weights kept in the store (a name or #ID; `none`: no production estimate); "
    "default: the weights in force (evaltui traffic).",
)
@click.option(
    "--calibrated",
    "corrected",
    is_flag=True,
    help="Also correct the production estimate for the grader's errors (verdict calibration; "
    "assumes the grader errs alike in every traffic cell: docs/production.md).",
)
@click.pass_context
def compare_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    fallback: str | None,
    reducer: str,
    segments: str | None,
    include: tuple[str, ...],
    only: tuple[str, ...],
    as_json: bool,
    show_keys: bool,
    correction: str,
    traffic_ref: str | None,
    corrected: bool,
    divergence: str | None,
) -> None:
    """Compare a candidate run with a baseline, case by case and per segment.

    Runs are named by id or name. Cases are aligned by (suite, case key);
    several samples of a case are reduced (worst-of-N by default). Flips are
    tested with an exact McNemar test, Holm-adjusted across the segment
    table (--correction none to opt out); rates carry 95% Wilson intervals.

    \b
    Examples:
      evaltui compare prod-2026-11-02 cand-2026-11-20 --fallback fallback-2026-11-20
      evaltui compare 1 2 --reducer majority --json | jq .counts
      evaltui compare base cand --divergence other-arguments
    """
    red: Reducer | str = Reducer.choice(reducer)
    kind = divergence_kind(divergence, "--divergence") if divergence is not None else None
    path = store_path(ctx)
    with open_store(path) as store:
        b = resolve_run(store, baseline)
        c = resolve_run(store, candidate)
        f = resolve_run(store, fallback) if fallback else None
        triage.refold(store)  # states an earlier evaltui folded are recomputed first (#24)
        dims = [d.strip() for d in segments.split(",") if d.strip()] if segments else None
        production, dims = with_production(store, traffic_ref, dims, (b, c, f), corrected)
    if include and only:
        raise click.UsageError("--include adds to the active cases, --only replaces them: give one")
    statuses = frozenset(only) if only else frozenset({"active", *include})
    with Comparison(
        path, b, c, f, reducer=red, dimensions=dims, statuses=statuses, correction=correction
    ) as cmp:
        summary = cmp.summary()
        data = summary.dump()
        if production is not None:  # #28: a key of its own, only when traffic is set
            data["production_estimate"] = production.as_json(cmp)
        calibrated = calibrated_json(cmp)
        if calibrated is not None:  # #27: a key of its own, only when results were judged
            data["calibrated"] = calibrated
        if kind is not None:  # #31: a key of its own, only when asked
            data["divergence"] = {"kind": kind, "cases": divergent_keys(cmp, kind)}
    if as_json:
        echo(safe_json(data))
        return
    console = make_console()
    head = Text()
    trio = (summary.baseline, summary.candidate, summary.fallback)
    for label, r in zip(("baseline  ", "candidate ", "fallback  "), trio, strict=True):
        if r is not None:
            head.append(label, style="bold")
            head.append(f"{r.id} {visible(r.name, limit=80)}\n")
    excluded = ", ".join(f"{n} {k}" for k, n in summary.excluded.items() if n)
    head.append(
        f"reducer {summary.reducer}; statuses {', '.join(summary.statuses)}"
        + (f"; excluded: {excluded}" if excluded else "")
    )
    if summary.reducer_note:
        head.append(f"\nnote: {summary.reducer_note}", style="yellow")
    console.print(head)
    counts = summary.counts
    has_fallback = summary.fallback is not None
    line = Text("\n")
    for i, change in enumerate(CHANGES):
        style = {"regressed": "bold red", "improved": "green", "errored": "red"}.get(change, "")
        line.append(f"{change.replace('_', ' ')} {counts[change]:,}", style=style)
        line.append("\n" if i == 3 else "   ")
    console.print(line)
    if counts["added"] or counts["dropped"]:
        console.print(
            Text(
                f"coverage: {counts['added']:,} cases only in the candidate, "
                f"{counts['dropped']:,} only in the baseline (not counted as regressions)",
                style="yellow",
            )
        )
    wide = console.width >= 118
    table = make_table(
        ("segment", "left"),
        ("n", "right"),
        ("baseline", "right"),
        *([("95% CI", "right")] if wide else []),
        ("candidate", "right"),
        *([("95% CI", "right")] if wide else []),
        ("delta", "right"),
        *([("fallback", "right")] if has_fallback else []),
        ("p>f", "right"),
        ("f>p", "right"),
        ("p", "right"),
        ("p adj", "right"),
        ("", "left"),
    )
    rows = []
    for seg in summary.segments:
        label = segment_label(seg.dimension, seg.value)
        n = seg.n
        bp, cp = seg.baseline.passed, seg.candidate.passed
        rows.append(
            [
                Text(visible(label, limit=200), style="bold" if seg.dimension == "all" else ""),
                f"{n:,}",
                pct(seg.baseline.rate),
                *([fmt_ci(bp, n)] if wide else []),
                pct(seg.candidate.rate),
                *([fmt_ci(cp, n)] if wide else []),
                fmt_delta(seg.delta),
                *([pct(seg.fallback.rate) if seg.fallback else "-"] if has_fallback else []),
                str(seg.flips.pass_to_fail),
                str(seg.flips.fail_to_pass),
                fmt_p(seg.p_value),
                fmt_p(seg.p_adjusted),
                Text("*", style="bold red" if (seg.delta or 0) < 0 else "bold green")
                if seg.significant
                else "",
            ]
        )
    console.print()
    # a figure is whole or left out: the intervals, the raw p (the adjusted one decides
    # `*`) and the flips before the fallback the user asked for
    left_out = print_rows(
        table,
        rows,
        optional=["95% CI", "p", "f>p", "p>f", "fallback", Shorten("segment")],
        middle={"segment"},
        min_widths={"segment": 16},
    )
    if not wide:
        left_out.insert(0, "95% intervals")
    console.print(
        Text(
            "p>f / f>p: flips pass->fail / fail->pass; p: exact McNemar; p adj: "
            + ("Holm-adjusted across the table" if summary.correction == "holm" else "not adjusted")
            + "; * significant (p adj < 0.05)"
            + (
                f"; not shown at this width: {', '.join(left_out)} (widen the terminal or use --json)"
                if left_out
                else ""
            ),
            style="dim",
        )
    )
    if "production_estimate" in data:
        console.print()
        lines = headline(data["production_estimate"])  # cell values are data: made visible
        console.print(Text(visible("\n".join(lines), multiline=True, limit=4000)))
    new = summary.new_in_candidate
    if new.classes:  # #29: a failure mode the baseline never had (class keys are data)
        said = ", ".join(one_line(c, 40) for c in new.classes)
        console.print(
            Text(
                f"\nnew in the candidate: {said} ({len(new.cases)} failing cases; "
                "no baseline-failing case has these classes)",
                style="bold",
            )
        )
    if summary.criteria:
        console.print()
        crit = make_table(
            ("criterion", "left"),
            ("pass>fail", "right"),
            ("fail>pass", "right"),
            ("hidden", "right"),
        )
        for name, v in summary.criteria.items():
            crit.add_row(
                Text(one_line(name, 40)),
                str(v.pass_to_fail),
                str(v.fail_to_pass),
                str(v.hidden_regressions),
            )
        console.print(crit)
        console.print(
            Text("hidden: regressed on the criterion while the case's verdict held", style="dim")
        )
    if kind is not None:
        found = data["divergence"]["cases"]
        console.print(Text(f"\nfirst divergence {kind} ({len(found)}):", style="bold"))
        console.print(
            Text("  " + "\n  ".join(one_line(k, 100) for k in found) if found else "  none")
        )
    if show_keys:
        for change in CHANGES:
            keys = (summary.changed or {}).get(change) if change in CHANGED else None
            if keys:
                console.print(Text(f"\n{change} ({len(keys)}):", style="bold"))
                console.print(Text("  " + "\n  ".join(one_line(k, 100) for k in keys)))


def divergent_keys(cmp: Comparison, kind: str) -> list[str]:
    """Keys of the included cases (any change) whose first divergence is `kind`, in list
    order ("suite/key" when the runs hold several suites), a page at a time."""
    flt = Filter(changes=frozenset(CHANGES), divergence=kind)
    rows, after = [], None
    while page := cmp.page(flt, after=after, limit=500):
        rows += page
        after = page[-1].ord
    several = len({r.suite for r in rows}) > 1
    return [f"{r.suite}/{r.case_key}" if several else r.case_key for r in rows]


# -- the production estimate (#28): the weights, and their attributes as segments -------------


def with_production(
    store: Any,
    ref: str | None,
    dims: list[str] | None,
    runs: tuple[int, int, int | None],
    corrected: bool = False,
) -> tuple[Production | None, list[str] | None]:
    """The traffic weights to estimate with (None: none in force, or `--traffic none`) and
    the segment dimensions with the weights' attributes among them; `corrected`: the
    estimate is also corrected for the grader's errors (`--calibrated`)."""
    production = from_store(store, ref)
    if production is None:
        if corrected:
            raise click.UsageError(
                "--calibrated corrects the production estimate: no traffic weights are in "
                "force (`evaltui traffic import FILE`), or --traffic none"
            )
        return None, dims
    production.calibrated = corrected
    if dims is None:
        dims = default_dimensions([run_ref(store.conn, r) for r in runs if r is not None])
    return production, dimensions_with(dims, production.traffic)


@cli.command("case")
@click.argument("baseline")
@click.argument("candidate")
@click.argument("case_key")
@click.option("--fallback", help="A third run: the fallback path (id or name).")
@click.option("--suite", help="The case's suite, when its key is in several.")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/compare.md).")
@click.option(
    "--steps-from",
    "steps_from",
    type=click.IntRange(min=0),
    default=0,
    help="A long path is shown a page at a time (EVALTUI_MAX_CASE_STEPS steps): "
    "the first step of the page.",
)
@click.pass_context
def case_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    case_key: str,
    fallback: str | None,
    suite: str | None,
    as_json: bool,
    steps_from: int,
) -> None:
    """One case of a comparison: its change, outputs, and each run's path (agent runs:
    messages, tool calls aligned baseline | candidate, tool errors, loops, sources).

    \b
    Examples:
      evaltui case 1 2 refund-02
      evaltui case base cand refund-02 --json | jq '.paths.aligned'
    """
    path = store_path(ctx)
    with open_store(path) as store:
        b, c = resolve_run(store, baseline), resolve_run(store, candidate)
        f = resolve_run(store, fallback) if fallback else None
        triage.refold(store)  # states an earlier evaltui folded are recomputed first (#24)
    with Comparison(path, b, c, f, statuses=frozenset(CASE_STATUSES)) as cmp:
        row = cmp.find(suite, case_key)
        if row is None and suite is None and "/" in case_key:  # SUITE/KEY, as label takes
            row = cmp.find(*case_key.split("/", 1))
        if row is None:
            with open_store(path) as store:
                close = [
                    c
                    for c in close_cases(store.conn, case_key)
                    if cmp.find(*c.split("/", 1)) is not None
                ]
            hint = "; did you mean " + " or ".join(repr(c) for c in close) + "?" if close else ""
            raise NotFoundError(f"no case {case_key!r} in these runs{hint}")
        with trajectory.window(steps_from):  # a long path: one page of it
            row, detail, _ = cmp.read_case(row)
    outcome: dict[str, Any] = {
        "schema": "evaltui.case/1",
        "suite": detail.suite,
        "case_key": detail.case_key,
        "change": row.change,
        "status": detail.status,
        "input": detail.input,
        "expected": detail.expected,
        "runs": {
            name: [
                {
                    "epoch": s.epoch,
                    "verdict": s.verdict,
                    "score": s.score,
                    "output": s.output,
                    "criteria": s.criteria,
                    "error": s.error,
                }
                for s in samples
            ]
            for name, samples in (
                ("baseline", detail.baseline),
                ("candidate", detail.candidate),
                ("fallback", detail.fallback),
            )
            if samples is not None
        },
        "paths": (paths := case_paths(detail)).dump(),
    }
    pages = _page(outcome["paths"], detail)
    if as_json:
        echo(safe_json(outcome))
        return
    console = make_console()
    console.print(
        Text(f"{visible(detail.suite)} / {visible(detail.case_key)}   {row.change}", style="bold")
    )
    for name, samples in outcome["runs"].items():
        first = samples[0] if samples else None
        verdict = first["verdict"] if first else "(not in this run)"
        console.print(
            Text(f"{name}: {verdict}  ", style="bold")
            + Text(one_line(first["output"] if first else "", 120))
        )
    aligned = outcome["paths"]["aligned"]
    if not aligned and not any(r["steps"] for r in outcome["paths"]["runs"].values()):
        console.print(Text("no trajectories recorded for this case", style="dim"))
        return
    console.print(Text("\ntool calls, baseline | candidate:", style="bold underline"))
    marks = {"same": " ", "changed": "~", "removed": "-", "inserted": "+"}
    table = make_table(("", "left"), ("baseline", "left"), ("candidate", "left"))
    for col in table.columns[1:]:
        col.no_wrap, col.overflow, col.ratio = False, "fold", 1
    table.expand = True

    def call(x: dict[str, Any] | None) -> str:
        if x is None:
            return ""
        return f"{x['name']}({one_line(safe_json(x['arguments'], indent=None), 80)})"

    for a in aligned:
        style = {"changed": "yellow", "removed": "red", "inserted": "green"}.get(a["op"], "")
        table.add_row(
            marks[a["op"]], call(a["baseline"]), call(a["candidate"]), style=style or None
        )
    console.print(table)
    console.print(Text(describe(paths.first_divergence, "candidate"), style="bold"))
    if paths.aligned3 is not None:  # (the three-way rows: --json's aligned3)
        console.print(Text(describe(paths.fallback_first_divergence, "fallback"), style="bold"))
    for note in pages:
        console.print(Text(note, style="dim"))
    for name, r in outcome["paths"]["runs"].items():
        src = r["sources"]
        looped = ", ".join(f"{x['tool']} x{x['times']}" for x in r["loops"])
        extra = [f"loops: {looped}"] if looped else []
        if r["tool_errors"]:
            extra.append(f"tool errors: {r['tool_errors']}")
        console.print(
            Text(
                f"{name}: retrieved {', '.join(src['retrieved']) or '-'}; cited {', '.join(src['cited']) or '-'}"
                + (
                    f"; cited but never retrieved: {', '.join(src['cited_not_retrieved'])}"
                    if src["cited_not_retrieved"]
                    else ""
                )
                + ("; " + "; ".join(extra) if extra else "")
            )
        )


def _page(paths: dict[str, Any], detail: Any) -> list[str]:
    """Bound what `case` prints (docs/compare.md): each run's page of a long path (`page`:
    first step, steps shown, steps in all, steps left out) and every long step field cut
    at EVALTUI_MAX_CASE_FIELD_CHARS, saying how much was left out. Notes for the text form."""
    limit = trajectory.max_field_chars()
    notes = []
    sides = {
        "baseline": detail.baseline,
        "candidate": detail.candidate,
        "fallback": detail.fallback,
    }
    for name, run in paths["runs"].items():
        samples = sides.get(name)
        steps = samples[0].trajectory if samples and samples[0].trajectory is not None else []
        start, total = trajectory.page_of(steps)
        shown = len(run["steps"])
        run["page"] = {"from": start, "shown": shown, "total": total, "left_out": total - shown}
        run["chars_left_out"] = trajectory.clip_steps(run["steps"], limit)
        if total > shown:
            notes.append(
                f"{name}: steps {start:,} to {start + shown - 1:,} of {total:,} shown "
                f"({total - shown:,} left out; EVALTUI_MAX_CASE_STEPS; --steps-from N for others)"
            )
        if run["chars_left_out"]:
            notes.append(
                f"{name}: long step fields cut at {limit:,} characters "
                f"({run['chars_left_out']:,} left out; EVALTUI_MAX_CASE_FIELD_CHARS)"
            )
    for a in paths["aligned"]:
        trajectory.clip_steps([a["baseline"], a["candidate"]], limit)
    return notes
