"""Lifecycle: retire, quarantine and restore cases; stale-case suggestions; the case list."""

from __future__ import annotations

from pathlib import Path

import click

from evaltui.cli.app import InputFile, cli, open_store, store_path
from evaltui.cli.output import Shorten, echo, make_table, print_rows
from evaltui.models import CASE_STATUSES
from evaltui.review import lifecycle
from evaltui.review.lifecycle import REASONS as RETIRE_REASONS
from evaltui.textsafe import one_line, safe_json


@cli.command("retire")
@click.argument("cases", nargs=-1, required=True)
@click.option(
    "--reason",
    required=True,
    type=click.Choice(RETIRE_REASONS),
    help="Why the case no longer belongs in the reference set.",
)
@click.option("--note", help="One line of context.")
@click.pass_context
def retire_cmd(ctx: click.Context, cases: tuple[str, ...], reason: str, note: str | None) -> None:
    """Retire cases (KEY or SUITE/KEY): kept, shown, left out of the figures and the gate.

    All the cases change in one transaction; each is recorded in the event log.
    `evaltui restore` undoes it. A later import keeps them retired.
    """
    with open_store(store_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.retire(store, ids, reason, note)
    echo(f"retired {n} case(s) ({reason}); {len(ids) - n} already were")


@cli.command("restore")
@click.argument("cases", nargs=-1, required=True)
@click.option("--note", help="One line of context.")
@click.pass_context
def restore_cmd(ctx: click.Context, cases: tuple[str, ...], note: str | None) -> None:
    """Make retired or quarantined cases active again."""
    with open_store(store_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.restore(store, ids, note)
    echo(f"restored {n} case(s)")


@cli.command("quarantine")
@click.argument("cases", nargs=-1, required=True)
@click.option("--note", help="What decision is awaited.")
@click.pass_context
def quarantine_cmd(ctx: click.Context, cases: tuple[str, ...], note: str | None) -> None:
    """Quarantine cases: still visible, left out of the gate, awaiting a decision."""
    with open_store(store_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.quarantine(store, ids, note)
    echo(f"quarantined {n} case(s)")


@cli.command("stale")
@click.option(
    "--runs", "n_runs", default=3, show_default=True, help="Look at each case's last N runs."
)
@click.option(
    "--markers",
    type=InputFile("markers file"),
    help="Markers of obsolescence (TOML, docs/lifecycle.md); default: the store's.",
)
@click.option("--save-markers", is_flag=True, help="Store --markers in the store for later runs.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def stale_cmd(
    ctx: click.Context, n_runs: int, markers: Path | None, save_markers: bool, as_json: bool
) -> None:
    """Suggest cases to retire, each with its evidence.

    Rules: passed in every one of its last N runs (never changes a decision);
    failed in every one (a standing failure: reported, not proposed for
    retirement); the same normalised input as an older case (duplicate);
    a marker of obsolescence from config (an attribute value, or first seen
    before a date).
    """
    with open_store(store_path(ctx), write=save_markers) as store:
        marks = lifecycle.load_markers(store, markers)
        if save_markers:
            if markers is None:
                raise click.UsageError("--save-markers needs --markers FILE")
            lifecycle.save_markers(store, marks)
        found = lifecycle.stale(store, runs=n_runs, markers=marks)
    if as_json:
        echo(safe_json([s.as_dict() for s in found]))
        return
    if not found:
        echo("No suggestions.")
        return
    table = make_table(
        ("case", "left"), ("rule", "left"), ("retire?", "left"), ("evidence", "left")
    )
    print_rows(
        table,
        [
            [
                one_line(f"{s.suite}/{s.case_key}", 40),
                s.rule,
                s.reason if s.preselect else "no (report)",
                one_line(s.evidence, 120),
            ]
            for s in found
        ],
        optional=set(),
    )
    by_rule: dict[str, int] = {}
    for s in found:
        by_rule[s.rule] = by_rule.get(s.rule, 0) + 1
    echo(", ".join(f"{n} {rule}" for rule, n in sorted(by_rule.items())))


@cli.command("cases")
@click.option("--status", type=click.Choice(CASE_STATUSES), help="Only this status.")
@click.option("--suite", help="Only this suite.")
@click.option("--limit", type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def cases_cmd(
    ctx: click.Context, status: str | None, suite: str | None, limit: int | None, as_json: bool
) -> None:
    """List cases with their lifecycle status (who retired them, when, why)."""
    with open_store(store_path(ctx)) as store:
        rows = lifecycle.list_cases(store, status=status, suite=suite, limit=limit)
        counts = lifecycle.status_counts(store)
    if as_json:
        echo(safe_json([r.as_dict() for r in rows]))
        return
    table = make_table(
        ("case", "left"),
        ("status", "left"),
        ("reason", "left"),
        ("by", "left"),
        ("at", "left"),
        ("note", "left"),
    )
    print_rows(
        table,
        [
            [
                one_line(f"{r.suite}/{r.case_key}", 40),
                r.status,
                r.reason or "",
                one_line(r.by or "", 40),
                (r.at or "")[:16].replace("T", " "),
                one_line(r.note or "", 200),
            ]
            for r in rows
        ],
        # who and when are never left out (a retirement is someone's word); the note
        # and the case key are shortened first
        optional=[Shorten("note"), Shorten("case"), Shorten("by")],
        whole={"status", "reason", "at"},
    )
    echo(", ".join(f"{n:,} {k}" for k, n in counts.items()))
