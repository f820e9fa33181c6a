"""The demo: the bundled runs (a customer-support assistant) loaded into their own store."""

from __future__ import annotations

from pathlib import Path

import click

from evaltui import service
from evaltui.cli.app import cli, open_app, open_store, reviewer
from evaltui.cli.output import echo
from evaltui.paths import demo_db_path


@cli.command()
@click.option(
    "--fresh", is_flag=True, help="Delete the demo store (its triage too) and load it again."
)
@click.option("--no-open", is_flag=True, help="Load the demo runs but do not open the app.")
@click.pass_context
def demo(ctx: click.Context, fresh: bool, no_open: bool) -> None:
    """Load the bundled demo runs (customer-support assistant) and open the app.

    Uses its own demo store whatever $EVALTUI_DB says, so a real store is never mixed
    with demo data (an explicit --db is honoured). The runs are loaded once: later, the
    same store is opened again, with your triage in it. --fresh deletes that store first
    (and says so), and refuses when it holds any run that is not the demo's.
    """
    path = Path(ctx.obj["db"]) if ctx.obj.get("db_on_command_line") else demo_db_path()
    if fresh:
        service.check_demo_store_disposable(path)
        existed = path.exists()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if existed:
            echo(
                f"deleted the demo store at {path}, and the triage in it; loading it again",
                err=True,
            )
    new, outcomes, notes = service.NewStore.begin(path), None, 0  # as import: no file yet
    if new is not None:
        new.store.actor = reviewer(ctx)  # as open_store does
        with new:
            outcomes = service.load_demo(new.store)
            notes = service.load_demo_reviews(
                new.store, new=True
            )  # judgments, gold, traffic, notes
            if new.publish():
                echo(f"created a new store at {path}", err=True)
            else:  # another evaltui made it meanwhile (with its notes): load into that one
                outcomes, notes = None, 0
    if outcomes is None:
        with open_store(path, write=True) as store:
            outcomes = service.load_demo(store)
            service.load_demo_reviews(store, new=False)
    loaded = [o for o in outcomes if not o.skipped]
    if loaded:
        echo(f"loaded {len(loaded)} demo runs into {path}", err=True)
    if notes:
        echo(f"added {notes} reviewers' notes without a class", err=True)
    if len(loaded) < len(outcomes):  # a demo store made before: opened as it was left
        echo(
            f"reusing the demo store at {path}: its runs and your triage are kept; "
            "`evaltui demo --fresh` (or `make demo-fresh`) starts it again",
            err=True,
        )
    if not no_open:
        open_app(path, ctx.obj.get("taxonomy"), write=True)
    else:
        echo(str(path))
