"""The event log: every import and human action, oldest first, and its hash chain."""

from __future__ import annotations

import json
import sys

import click

from evaltui import service
from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.output import Shorten, echo, make_table, print_rows
from evaltui.textsafe import one_line, safe_json, visible


@cli.command("log")
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per event.")
@click.option("--limit", type=int, help="At most this many events.")
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Check the hash chain: exit 5 if an event was edited or deleted.",
)
@click.pass_context
def log_cmd(ctx: click.Context, as_json: bool, limit: int | None, check: bool) -> None:
    """List the event log: every import and human action, oldest first.

    Each event carries the hash of the one before it; --verify recomputes the
    chain and names the first event edited or deleted.
    """
    with open_store(store_path(ctx), audit=check) as store:
        if check:
            problems = store.verify_chain()
            n = store.event_count()
            head = store.chain_head()
            if not problems:
                echo(f"event log intact: {n:,} events, head {str(head)[:16]}")
                return
            for p in problems:
                echo(f"  - {visible(p, limit=300)}")
            sys.exit(5)
        events = store.events(limit)
    if as_json:
        echo(safe_json([e.as_dict() for e in events]))
        return

    with open_store(store_path(ctx)) as store:
        subjects = service.event_subjects(store, events)
    table = make_table(
        ("id", "right"),
        ("at", "left"),
        ("actor", "left"),
        ("action", "left"),
        ("entity", "left"),
        ("key", "left"),
        ("after", "left"),
    )
    rows = [
        [
            str(e.id),
            e.at[:16].replace("T", " "),
            one_line(e.actor, 40),
            e.action,
            e.entity,
            one_line(subject, 200),
            one_line(json.dumps(e.after, ensure_ascii=False) if e.after is not None else "", 200),
        ]
        for e, subject in zip(events, subjects, strict=True)
    ]
    # the time and the action are never cut; the key (a run's name, a case) is cut in
    # its middle, last; what the event recorded gives way first
    print_rows(
        table,
        rows,
        optional=[Shorten("after"), Shorten("key"), "entity", Shorten("actor"), "after", "actor"],
        whole={"at", "action"},
        middle={"key"},
        min_widths={"key": 20, "after": 20},
    )
