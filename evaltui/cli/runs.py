"""Runs: import, list, the native and decision formats' schemas."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click
from rich.console import Console

from evaltui import service
from evaltui.cli.app import cli, open_store, reviewer, store_path
from evaltui.cli.output import Shorten, echo, make_console, make_table, print_rows
from evaltui.errors import EvaltuiError
from evaltui.importers import REGISTRY, ImportOptions, ParsedRun
from evaltui.importers.native import NativeHeaderLine, NativeLine
from evaltui.importers.otlp_logs import pair
from evaltui.models import ROLES, Role
from evaltui.store.guard import leftovers
from evaltui.textsafe import one_line, safe_json, visible

if TYPE_CHECKING:
    from evaltui.store import Store


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise click.BadParameter("must be a finite number", param_hint="--pass-threshold")
    return value


def _progress_hook(console: Console, show: bool) -> tuple[Any, Any]:
    """A rich progress bar per run on a terminal; nothing otherwise."""
    if not show:
        return None, None
    from rich.progress import (  # load time: a bar only for an import on a terminal
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        # data, never markup: the run's name is shown as it is (a str column here was
        # shown as "[progress.description]NAME" by the CLI's console, which parses no markup)
        TextColumn("{task.description}", markup=False, style="progress.description"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )

    def hook(item: ParsedRun) -> Callable[[int], None]:
        task = bar.add_task(visible(item.run.name, limit=40), total=item.progress.total or None)

        def on_batch(_n: int) -> None:
            bar.update(task, completed=item.progress.done, total=item.progress.total or None)

        return on_batch

    return bar, hook


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(REGISTRY)),
    help="Force a format instead of detecting it.",
)
@click.option("--name", help="Run name (default: from the file).")
@click.option("--role", type=click.Choice(ROLES), help="production, candidate, fallback or none.")
@click.option("--system", help="System label: model, prompt, config.")
@click.option("--suite", help="Suite for results that name none.")
@click.option(
    "--pass-criterion", help="Criterion whose verdict decides pass/fail (formats with several)."
)
@click.option(
    "--pass-threshold",
    type=float,
    callback=lambda _c, _p, v: _finite(v),
    help="A numeric score passes at this value or above (default 1.0; docs/formats.md).",
)
@click.option("--force", is_flag=True, help="Import even if the same file is already in the store.")
@click.pass_context
def import_cmd(
    ctx: click.Context,
    files: tuple[Path, ...],
    fmt: str | None,
    name: str | None,
    role: str | None,
    system: str | None,
    suite: str | None,
    pass_criterion: str | None,
    pass_threshold: float | None,
    force: bool,
) -> None:
    """Import result files into the store, one transaction per run.

    The format is detected from the content. A bad file is reported with its
    line and field, and nothing of that run is written.

    \b
    Examples:
      evaltui import results.jsonl --role candidate --name cand-0412
      evaltui import logs/*.eval
    """
    console = make_console(err=True)
    options = ImportOptions(
        name=name,
        role=cast(Role | None, role),
        system=system,
        suite=suite,
        pass_criterion=pass_criterion,
        pass_threshold=pass_threshold,
    )
    db = store_path(ctx)

    def say(line: str, err: bool = False) -> None:
        # on a terminal the progress bar is live: lines go above it, through its console,
        # so every "imported ..." line stays on screen; otherwise plain lines (scripts)
        if console.is_terminal:
            console.print(line, soft_wrap=True)
        else:
            echo(line, err=err)

    units: list[tuple[Path, str | None]] = []  # (path, its format when already detected)
    for path in files:
        if path.is_dir() and not fmt:
            found, skipped = service.import_units(path)
            if not found:
                units.append((path, None))  # say why as for any file (a lm-eval folder, or nothing)
            units += found
            if skipped:
                names = ", ".join(visible(str(p.relative_to(path)), limit=80) for p in skipped[:5])
                more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
                say(
                    f"skipped {len(skipped)} file(s) in {visible(str(path))} that hold no results: {names}{more}",
                    err=True,
                )
        else:
            units.append((path, None))

    units, logs = pair(units)  # OTLP logs files join the OTLP traces files given with them
    into = partial(
        _import_into, units=units, fmt=fmt, options=options, logs=logs, force=force, console=console
    )
    # A new store is built in a private file and appears at its path only with a run in
    # it: a failed import leaves no file there (docs/security.md, "A new store").
    new, created, done = service.NewStore.begin(db), False, False
    if new is not None:
        new.store.actor = reviewer(ctx)  # as open_store does
        held: list[tuple[str, bool]] = []  # its lines are true only once it is published
        try:
            with new:
                imported, failed = into(new.store, lambda t, e: held.append((t, e)))
                created = bool(imported) and new.publish()
        except (Interrupted, KeyboardInterrupt) as exc:  # Ctrl+C: the new store is not made
            doing = f" while {exc.doing}" if isinstance(exc, Interrupted) else ""
            echo(
                f"Interrupted{doing}: nothing was imported, and no store was made at {db} "
                "(a new store appears only when its import finishes)",
                err=True,
            )
            sys.exit(130)
        done = created or not imported
        if done:
            for text, err in held:
                say(text, err)
        # else another evaltui made the store meanwhile: the runs go into that one
    if not done:
        with open_store(db, write=True, announce=False) as store:
            created = store.created  # made at its path: a file system without hard links
            try:
                imported, failed = into(store, say)
            except Interrupted as exc:
                echo(exc.line(), err=True)
                sys.exit(130)
    if len(units) > 1:
        say(
            f"{imported} run(s) imported from {len(units)} file(s); {failed} file(s) failed",
            err=True,
        )
    if created:  # this process made it; one made in place is kept even when empty
        empty = "" if imported else "; nothing was imported into it"
        echo(f"created a new store at {db}{empty}", err=True)
    if failed:
        sys.exit(2)
    _mention_leftovers(db)


class Interrupted(Exception):
    """Ctrl+C during `import`: which file was under way (rolled back, its run one
    transaction), which runs were kept before it, how many files were never started."""

    def __init__(self, path: Path, kept: list[str], left: int) -> None:
        super().__init__(str(path))
        self.doing = f"importing {visible(str(path))}"
        self.path, self.kept, self.left = path, kept, left

    def line(self) -> str:
        kept = (
            f"kept: the {len(self.kept)} run(s) imported before it ({', '.join(self.kept)})"
            if self.kept
            else "no run of this command was imported"
        )
        left = f"; {self.left} file(s) not started" if self.left else ""
        return (
            f"Interrupted while {self.doing}: nothing of that file was kept (its import is one "
            f"transaction, rolled back); {kept}{left}"
        )


def _import_into(
    store: Store,
    say: Callable[[str, bool], None],
    *,
    units: list[tuple[Path, str | None]],
    fmt: str | None,
    options: ImportOptions,
    logs: tuple[str, ...],
    force: bool,
    console: Console,
) -> tuple[int, int]:
    """Import each unit into `store`, one transaction per run, saying what became of it.
    Returns (runs imported, files failed)."""
    bar, hook = _progress_hook(console, console.is_terminal)
    failed = imported = 0
    kept: list[str] = []
    with bar if bar is not None else nullcontext():
        for n, (path, detected) in enumerate(units):
            try:
                outcomes = service.import_path(
                    store,
                    path,
                    fmt=fmt or detected,
                    force=force,
                    progress=hook,
                    options=replace(options, logs=logs)
                    if logs and detected == "otel-genai"
                    else options,
                )
            except KeyboardInterrupt:
                raise Interrupted(path, kept, len(units) - n - 1) from None
            except EvaltuiError as exc:
                failed += 1
                say(f"Error: {visible(exc.message, limit=2000)}", True)
                continue
            finally:
                for task in list(bar.task_ids) if bar is not None else []:
                    bar.remove_task(task)  # the finished run's bar goes; its line stays
            for out in outcomes:
                label = visible(out.name, limit=200)
                if out.skipped:
                    say(
                        f"skipped {visible(out.path)}: {out.why or f'already imported as run {out.run_id} ({label})'}; --force to import again",
                        False,
                    )
                else:
                    imported += 1
                    kept.append(f"run {out.run_id}: {visible(out.name, limit=80)}")
                    note = f"; {visible(out.note, limit=400)}" if out.note else ""
                    say(
                        f"imported {visible(out.path)} as run {out.run_id} ({label}): {out.results:,} results{note}",
                        False,
                    )
    return imported, failed


def _mention_leftovers(db: Path) -> None:
    """Private files of a new store whose import was killed (kill -9, a crash): never read
    as a store; named so they can be deleted (evaltui deletes no file it did not make here)."""
    stale = leftovers(db)
    if stale:
        names = ", ".join(visible(p.name, limit=120) for p in stale[:3])
        more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
        echo(
            f"note: {names}{more} beside {db}: left by an import into a new store that was "
            "stopped; not a store, never read, and may be deleted",
            err=True,
        )


# What gives way in `runs` on a narrow terminal, in order: never a figure (a number is
# whole or absent), and the name last: it tells runs apart, cut in the middle (where two
# names alike are alike) to keep its end (where they differ: a date, a variant, #2).
RUNS_GIVE_WAY = [
    "sha256", "imported", Shorten("system"), "format", "system", Shorten("name"),
    "unscored", "limit", "role", "cases", "results", "error",
]  # fmt: skip


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/cli.md).")
@click.pass_context
def runs(ctx: click.Context, as_json: bool) -> None:
    """List the runs in the store with their figures.

    \b
    Example:
      evaltui runs --json | jq '.[] | {name, pass_rate}'
    """
    with open_store(store_path(ctx)) as store:
        summaries = service.list_runs(store)
    if as_json:
        echo(safe_json([s.model_dump() for s in summaries]))
        return
    if not summaries:
        echo("No runs yet. Import one: evaltui import FILE (or try: evaltui demo)")
        return
    table = make_table(
        ("id", "right"),
        ("name", "left"),
        ("pass rate", "right"),
        ("cases", "right"),
        ("results", "right"),
        ("pass", "right"),
        ("fail", "right"),
        ("error", "right"),
        ("limit", "right"),
        ("unscored", "right"),
        ("role", "left"),
        ("system", "left"),
        ("format", "left"),
        ("sha256", "left"),
        ("imported", "left"),
    )
    rows = [
        [
            str(s.id),
            one_line(s.name, 200),
            "-" if s.pass_rate is None else f"{s.pass_rate:.1%}",
            f"{s.cases:,}",
            f"{s.results:,}",
            f"{s.passed:,}",
            f"{s.failed:,}",
            f"{s.errored:,}",
            f"{s.limit:,}",
            f"{s.unscored:,}",
            s.role,
            one_line(s.system, 200),
            s.format,
            s.sha256[:12],
            s.imported_at[:19].replace("T", " "),
        ]
        for s in summaries
    ]
    print_rows(
        table,
        rows,
        optional=RUNS_GIVE_WAY,
        whole={"role", "format", "sha256", "imported"},
        middle={"name", "system"},
        min_widths={"name": 24, "system": 16},
    )


@cli.command()
@click.argument("what", type=click.Choice(["native", "decision"]))
def schema(what: str) -> None:
    """Print the JSON Schema of a file format evaltui reads or writes.

    \b
    native     the native JSONL results format (docs/format.md)
    decision   the decision record `gate --out` writes (docs/decision.schema.json)
    """
    if what == "decision":
        from evaltui.gate.record import json_schema  # load time: the record loads compare/

        echo(safe_json(json_schema()))
        return

    echo(
        json.dumps(
            {
                "line": NativeLine.model_json_schema(),
                "header": NativeHeaderLine.model_json_schema(),
            },
            indent=2,
        )
    )
