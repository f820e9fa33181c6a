"""`evaltui trend`: the app's trend view on the command line: a suite's last runs up to a
run, each segment's pass rate run by run, the production estimate's (and corrected, when
asked) and each case's history, the standing failures first (views/trend.py)."""

from __future__ import annotations

import click
from rich.text import Text

from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.compare import with_production
from evaltui.cli.output import echo, make_console, make_table, print_rows
from evaltui.compare import Reducer, default_dimensions, run_ref
from evaltui.compare.production import weights_name
from evaltui.compare.production_corrected import ASSUMPTION
from evaltui.stats import pct
from evaltui.store.runs import resolve_run
from evaltui.textsafe import one_line, safe_json, visible
from evaltui.units import segment_label
from evaltui.views import trend as trends

CORRECTED = "production (corrected)"


@cli.command("trend")
@click.argument("run")
@click.option(
    "--last",
    type=click.IntRange(1, 100),
    default=12,
    show_default=True,
    help="How many of the suite's runs, up to RUN (oldest first).",
)
@click.option(
    "--reducer",
    default="worst",
    show_default=True,
    help="How samples of a case combine: worst, mean, majority, best or at-least-K.",
)
@click.option(
    "--segments", help="Segment dimensions, comma-separated (default: attributes with few values)."
)
@click.option(
    "--cases",
    "max_cases",
    type=click.IntRange(0, 1000),
    default=20,
    show_default=True,
    help="Case histories listed, the most failing first.",
)
@click.option(
    "--traffic",
    "traffic_ref",
    help="Traffic weights kept in the store (a name or #ID; `none`: no production row); "
    "default: the weights in force (evaltui traffic).",
)
@click.option(
    "--calibrated",
    "corrected",
    is_flag=True,
    help="Also the production estimate corrected for the grader's errors, run by run (each "
    "run's verdict calibration; assumes it errs alike in every traffic cell).",
)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/cli.md).")
@click.pass_context
def trend_cmd(
    ctx: click.Context,
    run: str,
    last: int,
    reducer: str,
    segments: str | None,
    max_cases: int,
    traffic_ref: str | None,
    corrected: bool,
    as_json: bool,
) -> None:
    """A suite's last runs up to RUN: pass rate per segment run by run, and each case's
    history (the app's trend view, `h` on the compare screen).

    \b
    Examples:
      evaltui trend cand-2026-11-20
      evaltui trend 2 --calibrated --json | jq .production
    """
    red = Reducer.parse(reducer)
    path = store_path(ctx)
    with open_store(path) as store:
        run_id = resolve_run(store, run)
        dims = [d.strip() for d in segments.split(",") if d.strip()] if segments else None
        if dims is None:
            dims = default_dimensions([run_ref(store.conn, run_id)])
        production, dims = with_production(
            store, traffic_ref, dims, (run_id, run_id, None), corrected
        )
    found = trends.with_production(
        path, run_id, production, last=last, reducer=red, dimensions=dims, max_cases=max_cases
    )
    if as_json:
        echo(safe_json(trends.trend_json(found, run_id, red, production)))
        return
    show(found, red, weights_name(production.provenance) if production else None)


def show(t: trends.Trend, reducer: Reducer, weights: str | None) -> None:
    """The trend for people: the runs, the segments' table, the case histories."""
    console = make_console()
    head = Text(f"{len(t.runs)} runs of this suite, oldest first (reducer {reducer.label}):\n")
    for r in t.runs:
        head.append(f"  {r.id:>4} ", style="bold")
        head.append(f"{visible(r.name, limit=80)}  {visible(r.at, limit=40)}\n")
    console.print(head)
    rows: list[tuple[Text, list[float | None]]] = []
    for dim, value, rates in t.segments:
        label = Text(visible(segment_label(dim, value), limit=200))
        rows.append((label, rates))
        if dim == "all" and t.production is not None:  # under "all": what users will see
            rows.append((Text(visible(f"production ({weights})", limit=200)), t.production))
            if t.corrected is not None:
                rows.append((Text(CORRECTED), t.corrected))
    table = make_table(
        ("segment", "left"),
        ("trend", "left"),
        ("first", "right"),
        ("last", "right"),
        ("lowest", "right"),
    )
    cells = []
    for label, rates in rows:
        seen = [r for r in rates if r is not None]
        cells.append(
            [
                label,
                Text(trends.spark(rates)),
                pct(seen[0] if seen else None),
                pct(seen[-1] if seen else None),
                pct(min(seen) if seen else None),
            ]
        )
    print_rows(table, cells, optional=["lowest", "first"])
    legend = "trend: one character per run, ▁ 0% to █ 100%, · no case of it in that run"
    console.print(Text(legend, style="dim"))
    if t.corrected is not None:
        why = t.refused[-1] if t.refused else None
        if why is not None:  # asked for, and not given for RUN: said, never a gap
            name = one_line(t.runs[-1].name, 60)
            console.print(Text(f"{CORRECTED}: none for {name}: {visible(why, limit=400)}"))
        console.print(Text(f"assumption: {ASSUMPTION}", style="dim"))
    console.print(
        Text(
            f"\n{t.failing:,} cases failed in at least one run; {t.standing:,} failed in every "
            f"run they were in (standing failures first; {len(t.cases)} shown)",
            style="bold",
        )
    )
    if not t.cases:
        return
    cases = make_table(("case", "left"), ("history", "left"), ("failed", "right"))
    listed = []
    for suite, key, marks in t.cases:
        fails = sum(m == "fail" for m in marks)
        runs = sum(m is not None for m in marks)
        case = Text(visible(f"{suite}/{key}", limit=200))
        listed.append([case, trends.history(marks), f"{fails}/{runs}"])
    print_rows(cases, listed, middle={"case"})
    console.print(Text("history: ✓ pass  ✗ fail  · absent", style="dim"))
