"""The command line: every app action has a scriptable twin here."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from evaltui import __version__
from evaltui.errors import EvaltuiError
from evaltui.importers import REGISTRY, ImportOptions, ParsedRun
from evaltui.lifecycle import REASONS as RETIRE_REASONS
from evaltui.models import ROLES, Role
from evaltui.paths import ENV_DB, default_db_path, demo_db_path
from evaltui.stats import pct
from evaltui.store import Store
from evaltui.textsafe import one_line, visible


class EvaltuiGroup(click.Group):
    """Turns EvaltuiError (and raw SQLite errors) into a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EvaltuiError as exc:
            click.echo(f"Error: {visible(exc.message, limit=2000)}", err=True)
            sys.exit(exc.exit_code)
        except sqlite3.Error as exc:
            click.echo(f"Error: the store could not be used: {visible(exc, limit=500)}", err=True)
            sys.exit(3)
        except RecursionError:
            click.echo("Error: the input is nested too deeply to read", err=True)
            sys.exit(2)


def _db_path(ctx: click.Context) -> Path:
    return Path(ctx.obj["db"]) if ctx.obj.get("db") else default_db_path()


def _store(path: Path) -> Store:
    """The store, saying so on stderr if another evaltui's import makes it wait."""
    return Store(
        path,
        on_wait=lambda: click.echo(
            f"Waiting for {path}: another evaltui is importing a large file into it "
            "and has the store to itself until that import commits...",
            err=True,
        ),
    )


def _console(err: bool = False) -> Console:
    return Console(stderr=err, highlight=False, soft_wrap=False)


def _table(*columns: tuple[str, str]) -> Table:
    """A borderless table whose cells never wrap (data is cut with an ellipsis)."""
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for name, justify in columns:
        table.add_column(
            name,
            justify=cast(Any, justify),
            no_wrap=True,
            overflow="ellipsis",
            min_width=len(name),
        )
    return table


def _print_rows(table: Table, rows: list[list[Any]], optional: set[str]) -> None:
    """Print `rows`, leaving out the `optional` columns when the terminal is narrow."""
    console = _console()
    keep = list(range(len(table.columns)))
    if console.width < 150:
        keep = [i for i, c in enumerate(table.columns) if c.header not in optional]
        narrow = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
        for i in keep:
            col = table.columns[i]
            narrow.add_column(
                str(col.header),
                justify=col.justify,
                no_wrap=True,
                overflow="ellipsis",
                min_width=col.min_width,
            )
        table = narrow
    for row in rows:
        # Text, never str: a str cell would be parsed as Rich markup ("[bold]" in a run name).
        table.add_row(*[Text(row[i]) if isinstance(row[i], str) else row[i] for i in keep])
    console.print(table)


@click.group(cls=EvaltuiGroup, invoke_without_command=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_DB,
    help=f"Store file. Default: ${ENV_DB}, else the per-user data dir.",
)
@click.option(
    "--reviewer",
    envvar="EVALTUI_REVIEWER",
    help="Who you are in the event log and on findings. Default: $EVALTUI_REVIEWER, else the OS user.",
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="EVALTUI_TAXONOMY",
    help="A failure-class taxonomy TOML to use instead of the store's (docs/triage.md).",
)
@click.version_option(__version__, prog_name="evaltui")
@click.pass_context
def cli(
    ctx: click.Context, db: Path | None, reviewer: str | None, taxonomy_path: Path | None
) -> None:
    """Triage LLM evaluation results before a release.

    With no command, opens the app on the store.

    \b
    Examples:
      evaltui demo                      # load the demo runs and open the app
      evaltui import prod.jsonl --role production
      evaltui runs --json
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    ctx.obj["taxonomy"] = taxonomy_path
    if reviewer:
        os.environ["EVALTUI_REVIEWER"] = reviewer  # read by store.current_user()
    if ctx.invoked_subcommand is None:
        _open_app(_db_path(ctx), taxonomy_path)


def _open_app(path: Path, taxonomy_path: Path | None = None) -> None:
    from evaltui import taxonomy
    from evaltui.tui.app import EvaltuiApp  # Textual is only loaded for the app

    with _store(path) as store:  # migrate (or refuse) before the screen takes over
        taxonomy.load(store, taxonomy_path)  # a bad taxonomy file fails here, not mid-session
    EvaltuiApp(db_path=path, taxonomy_path=taxonomy_path).run()


def _progress_hook(console: Console, show: bool) -> tuple[Any, Any]:
    """A rich progress bar per run on a terminal; nothing otherwise."""
    if not show:
        return None, None
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
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
    from evaltui import service

    console = _console(err=True)
    options = ImportOptions(
        name=name,
        role=cast(Role | None, role),
        system=system,
        suite=suite,
        pass_criterion=pass_criterion,
    )
    bar, hook = _progress_hook(console, console.is_terminal)
    failed = 0
    with _store(_db_path(ctx)) as store:
        for path in files:
            try:
                if bar is not None:
                    with bar:
                        outcomes = service.import_path(
                            store, path, fmt=fmt, options=options, force=force, progress=hook
                        )
                else:
                    outcomes = service.import_path(
                        store, path, fmt=fmt, options=options, force=force
                    )
            except EvaltuiError as exc:
                failed += 1
                click.echo(f"Error: {visible(exc.message, limit=2000)}", err=True)
                continue
            for out in outcomes:
                label = visible(out.name, limit=200)
                if out.skipped:
                    click.echo(
                        f"skipped {visible(out.path)}: already imported as run {out.run_id} ({label}); --force to import again"
                    )
                else:
                    click.echo(
                        f"imported {visible(out.path)} as run {out.run_id} ({label}): {out.results:,} results"
                    )
    if failed:
        sys.exit(2)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/cli.md).")
@click.pass_context
def runs(ctx: click.Context, as_json: bool) -> None:
    """List the runs in the store with their figures.

    \b
    Example:
      evaltui runs --json | jq '.[] | {name, pass_rate}'
    """
    from evaltui import service

    with _store(_db_path(ctx)) as store:
        summaries = service.list_runs(store)
    if as_json:
        click.echo(json.dumps([s.model_dump() for s in summaries], indent=2, ensure_ascii=False))
        return
    if not summaries:
        click.echo("No runs yet. Import one: evaltui import FILE (or try: evaltui demo)")
        return
    table = _table(
        ("id", "right"), ("name", "left"), ("pass rate", "right"), ("cases", "right"),
        ("results", "right"), ("pass", "right"), ("fail", "right"), ("error", "right"),
        ("role", "left"), ("system", "left"), ("format", "left"), ("sha256", "left"), ("imported", "left"),
    )  # fmt: skip
    rows = [
        [
            str(s.id),
            one_line(s.name, 32),
            "-" if s.pass_rate is None else f"{s.pass_rate:.1%}",
            f"{s.cases:,}",
            f"{s.results:,}",
            f"{s.passed:,}",
            f"{s.failed:,}",
            f"{s.errored:,}",
            s.role,
            one_line(s.system, 36),
            s.format,
            s.sha256[:12],
            s.imported_at[:19].replace("T", " "),
        ]
        for s in summaries
    ]
    _print_rows(table, rows, optional={"system", "format", "sha256", "imported"})


def _ci(k: int | None, n: int) -> str:
    from evaltui.stats import wilson

    if k is None:
        return ""
    ci = wilson(k, n)
    return "" if ci is None else f"{ci[0]:.0%}-{ci[1]:.0%}"


@cli.command("compare")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--fallback", help="A third run: the fallback path (id or name).")
@click.option(
    "--reducer",
    default="worst",
    show_default=True,
    help="How samples of a case combine: worst, mean, majority, best, at-least-K.",
)
@click.option(
    "--segments", help="Segment dimensions, comma-separated (default: attributes with few values)."
)
@click.option(
    "--include",
    type=click.Choice(["active", "quarantined", "retired"]),
    multiple=True,
    help="Case statuses to include (default: active only). Repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts (docs/compare.md).")
@click.option("--keys", "show_keys", is_flag=True, help="Also list the changed case keys.")
@click.pass_context
def compare_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    fallback: str | None,
    reducer: str,
    segments: str | None,
    include: tuple[str, ...],
    as_json: bool,
    show_keys: bool,
) -> None:
    """Compare a candidate run with a baseline, case by case and per segment.

    Runs are named by id or name. Cases are aligned by (suite, case key);
    several samples of a case are reduced (worst-of-N by default). Flips are
    tested with an exact McNemar test; rates carry 95% Wilson intervals.

    \b
    Examples:
      evaltui compare prod-2026-11-02 cand-2026-11-20 --fallback fallback-2026-11-20
      evaltui compare 1 2 --reducer majority --json | jq .counts
    """
    from evaltui.compare import CHANGED, CHANGES, Comparison, Reducer

    red = Reducer.parse(reducer)
    path = _db_path(ctx)
    with _store(path) as store:
        b = store.resolve_run(baseline)
        c = store.resolve_run(candidate)
        f = store.resolve_run(fallback) if fallback else None
    dims = [d.strip() for d in segments.split(",") if d.strip()] if segments else None
    statuses = frozenset(include) if include else frozenset({"active"})
    with Comparison(path, b, c, f, reducer=red, dimensions=dims, statuses=statuses) as cmp:
        summary = cmp.summary()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    console = _console()
    run = summary["baseline"], summary["candidate"], summary["fallback"]
    head = Text()
    head.append("baseline  ", style="bold")
    head.append(f"{run[0]['id']} {visible(run[0]['name'], limit=80)}\n")
    head.append("candidate ", style="bold")
    head.append(f"{run[1]['id']} {visible(run[1]['name'], limit=80)}\n")
    if run[2]:
        head.append("fallback  ", style="bold")
        head.append(f"{run[2]['id']} {visible(run[2]['name'], limit=80)}\n")
    excluded = ", ".join(f"{n} {k}" for k, n in summary["excluded"].items() if n)
    head.append(
        f"reducer {summary['reducer']}; statuses {', '.join(summary['statuses'])}"
        + (f"; excluded: {excluded}" if excluded else "")
    )
    console.print(head)
    counts = summary["counts"]
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
    table = _table(
        ("segment", "left"), ("n", "right"), ("baseline", "right"),
        *([("95% CI", "right")] if wide else []),
        ("candidate", "right"),
        *([("95% CI", "right")] if wide else []),
        ("delta", "right"),
        *([("fallback", "right")] if run[2] else []),
        ("p>f", "right"), ("f>p", "right"), ("p", "right"), ("", "left"),
    )  # fmt: skip
    for seg in summary["segments"]:
        label = "all" if seg["dimension"] == "all" else f"{seg['dimension']}={seg['value']}"
        n = seg["n"]
        bp, cp = seg["baseline"]["passed"], seg["candidate"]["passed"]
        row = [
            Text(one_line(label, 30), style="bold" if seg["dimension"] == "all" else ""),
            f"{n:,}",
            pct(seg["baseline"]["rate"]),
            *([_ci(bp, n)] if wide else []),
            pct(seg["candidate"]["rate"]),
            *([_ci(cp, n)] if wide else []),
            "-" if seg["delta"] is None else f"{seg['delta'] * 100:+.1f}",
            *([pct(seg["fallback"]["rate"]) if seg["fallback"] else "-"] if run[2] else []),
            str(seg["flips"]["pass_to_fail"]),
            str(seg["flips"]["fail_to_pass"]),
            f"{seg['p_value']:.3g}",
            Text("*", style="bold red" if (seg["delta"] or 0) < 0 else "bold green")
            if seg["significant"]
            else "",
        ]
        table.add_row(*[Text(x) if isinstance(x, str) else x for x in row])
    console.print()
    console.print(table)
    console.print(
        Text(
            "p>f / f>p: flips pass->fail / fail->pass; p: exact McNemar; * significant (p < 0.05)"
            + ("" if wide else "; 95% intervals: widen the terminal or use --json"),
            style="dim",
        )
    )
    if summary.get("criteria"):
        console.print()
        crit = _table(("criterion", "left"), ("pass>fail", "right"), ("fail>pass", "right"),
                      ("hidden", "right"))  # fmt: skip
        for name, v in summary["criteria"].items():
            crit.add_row(
                Text(one_line(name, 40)), str(v["pass_to_fail"]), str(v["fail_to_pass"]),
                str(v["hidden_regressions"]),
            )  # fmt: skip
        console.print(crit)
        console.print(
            Text("hidden: regressed on the criterion while the case's verdict held", style="dim")
        )
    if show_keys:
        for change in CHANGES:
            keys = summary["changed"].get(change) if change in CHANGED else None
            if keys:
                console.print(Text(f"\n{change} ({len(keys)}):", style="bold"))
                console.print(Text("  " + "\n  ".join(one_line(k, 100) for k in keys)))


@cli.command()
@click.option("--fresh", is_flag=True, help="Start from an empty demo store.")
@click.option("--no-open", is_flag=True, help="Load the demo runs but do not open the app.")
@click.pass_context
def demo(ctx: click.Context, fresh: bool, no_open: bool) -> None:
    """Load the bundled demo runs (customer-support assistant) and open the app.

    Uses a separate demo store (or --db / $EVALTUI_DB), so a real store is
    never mixed with demo data.
    """
    from evaltui import service

    path = Path(ctx.obj["db"]) if ctx.obj.get("db") else demo_db_path()
    if fresh:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with _store(path) as store:
        outcomes = service.load_demo(store)
    loaded = [o for o in outcomes if not o.skipped]
    if loaded:
        click.echo(f"loaded {len(loaded)} demo runs into {path}", err=True)
    if not no_open:
        _open_app(path, ctx.obj.get("taxonomy"))
    else:
        click.echo(str(path))


@cli.command()
@click.argument("what", type=click.Choice(["native"]))
def schema(what: str) -> None:
    """Print the JSON Schema of a file format evaltui reads or writes."""
    from evaltui.importers.native import NativeHeaderLine, NativeLine

    click.echo(
        json.dumps(
            {
                "line": NativeLine.model_json_schema(),
                "header": NativeHeaderLine.model_json_schema(),
            },
            indent=2,
        )
    )


@cli.command("log")
@click.option("--json", "as_json", is_flag=True, help="JSON, one object per event.")
@click.option("--limit", type=int, help="At most this many events.")
@click.pass_context
def log_cmd(ctx: click.Context, as_json: bool, limit: int | None) -> None:
    """List the event log: every import and human action, oldest first."""
    with _store(_db_path(ctx)) as store:
        events = store.events(limit)
    if as_json:
        click.echo(json.dumps(events, indent=2, ensure_ascii=False))
        return
    table = _table(
        ("id", "right"), ("at", "left"), ("actor", "left"), ("action", "left"),
        ("entity", "left"), ("key", "left"), ("after", "left"),
    )  # fmt: skip
    rows = [
        [
            str(e["id"]),
            e["at"][:16].replace("T", " "),
            one_line(e["actor"], 20),
            e["action"],
            e["entity"],
            one_line(e["entity_id"], 30),
            one_line(
                json.dumps(e["after"], ensure_ascii=False) if e["after"] is not None else "", 40
            ),
        ]
        for e in events
    ]
    _print_rows(table, rows, optional={"actor"})


# -- triage -------------------------------------------------------------------------------


def _taxonomy(ctx: click.Context, store: Store) -> Any:
    from evaltui import taxonomy

    return taxonomy.load(store, ctx.obj.get("taxonomy"))


@cli.command("label")
@click.argument("baseline")
@click.argument("candidate")
@click.argument("case")
@click.option("--class", "cls", help="Failure class: key, number or name (evaltui taxonomy).")
@click.option("--owner", help="Owner of the repair (default: the class's owner).")
@click.option(
    "--verdict",
    type=click.Choice(["real_regression", "accepted", "grader_wrong", "flaky", "bad_case"]),
    help="What the change is.",
)
@click.option("--note", help="One line: why.")
@click.option(
    "--adjudicate", is_flag=True, help="This finding settles a disagreement between reviewers."
)
@click.pass_context
def label_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    case: str,
    cls: str | None,
    owner: str | None,
    verdict: str | None,
    note: str | None,
    adjudicate: bool,
) -> None:
    """Label a case within a comparison: failure class, owner, verdict, note.

    CASE is a case key (or SUITE/KEY). Fields not given keep your earlier
    values on this case. Committed at once, and recorded in the event log.

    \b
    Example:
      evaltui label prod-2026-11-02 cand-2026-11-20 refunds-004 \\
          --class unsafe_tool_action --verdict real_regression --note "changed the card in chat"
    """
    from evaltui import triage

    if not any(v is not None for v in (cls, owner, verdict, note)):
        raise click.UsageError("give at least one of --class, --owner, --verdict, --note")
    with _store(_db_path(ctx)) as store:
        base, cand = store.resolve_run(baseline), store.resolve_run(candidate)
        case_id = triage.resolve_case(store, case)
        kwargs: dict[str, Any] = {}
        if cls is not None:
            kwargs["failure_class"] = _taxonomy(ctx, store).resolve(cls)
        if owner is not None:
            kwargs["owner"] = owner
        if verdict is not None:
            kwargs["verdict"] = verdict
        if note is not None:
            kwargs["note"] = note
        finding = triage.label(store, base, cand, case_id, adjudicate=adjudicate, **kwargs)
        eff = triage.effective(triage.history(store, base, cand, case_id))
    state = eff["state"] if eff else "untriaged"
    click.echo(
        f"saved: {visible(case, limit=200)} class={finding.class_key or '-'} owner={visible(finding.owner or '-', limit=80)} "
        f"verdict={finding.verdict or '-'} ({state})"
    )


@cli.group("findings")
def findings_group() -> None:
    """List, export, import and compare reviewers' findings."""


@findings_group.command("list")
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.option("--owner", help="Only this owner.")
@click.option("--class", "cls", help="Only this failure class (key).")
@click.option("--disagreements", is_flag=True, help="Only cases where reviewers disagree.")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON (docs/triage.md).")
@click.pass_context
def findings_list(
    ctx: click.Context,
    baseline: str | None,
    candidate: str | None,
    owner: str | None,
    cls: str | None,
    disagreements: bool,
    as_json: bool,
) -> None:
    """Each triaged case's current finding (or disagreement)."""
    from evaltui import triage

    with _store(_db_path(ctx)) as store:
        rows = triage.list_findings(
            store,
            base=store.resolve_run(baseline) if baseline else None,
            cand=store.resolve_run(candidate) if candidate else None,
            owner=owner,
            failure_class=cls,
            disagreements=disagreements,
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No findings match.")
        return
    table = _table(("case", "left"), ("state", "left"), ("class", "left"), ("owner", "left"),
                   ("verdict", "left"), ("reviewers", "left"), ("note", "left"),
                   ("baseline", "left"), ("candidate", "left"))  # fmt: skip
    _print_rows(
        table,
        [
            [
                one_line(f"{r['suite']}/{r['case_key']}", 40),
                r["state"],
                r["class"] or "-",
                one_line(r["owner"] or "-", 20),
                r["verdict"] or "-",
                one_line(", ".join(r["reviewers"]), 30),
                one_line(r["note"] or "", 40),
                one_line(r["baseline"], 24),
                one_line(r["candidate"], 24),
            ]
            for r in rows
        ],
        optional={"baseline", "candidate", "reviewers"},
    )


@findings_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.pass_context
def findings_export(
    ctx: click.Context, file: Path, baseline: str | None, candidate: str | None
) -> None:
    """Write every finding to FILE: one per line, stable order, diff-friendly."""
    from evaltui import triage

    with _store(_db_path(ctx)) as store:
        n = triage.export(
            store,
            file,
            base=store.resolve_run(baseline) if baseline else None,
            cand=store.resolve_run(candidate) if candidate else None,
        )
    click.echo(f"wrote {n:,} findings to {visible(str(file))}")


@findings_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def findings_import(ctx: click.Context, file: Path) -> None:
    """Merge another reviewer's findings file (one transaction; known findings skipped)."""
    from evaltui import triage

    with _store(_db_path(ctx)) as store:
        out = triage.import_file(store, file)
    click.echo(
        f"merged {out['added']:,} findings ({out['skipped']:,} already here) on {out['cases']:,} cases; "
        f"{out['disagreements']:,} in disagreement (evaltui findings list --disagreements)"
    )


@findings_group.command("undo")
@click.argument("baseline")
@click.argument("candidate")
@click.pass_context
def findings_undo(ctx: click.Context, baseline: str, candidate: str) -> None:
    """Undo your latest finding in a comparison (the undo is recorded too)."""
    from evaltui import triage

    with _store(_db_path(ctx)) as store:
        f = triage.undo(store, store.resolve_run(baseline), store.resolve_run(candidate))
        key = (
            store.conn.execute("SELECT case_key FROM cases WHERE id = ?", (f.case_id,)).fetchone()[
                0
            ]
            if f
            else None
        )
    click.echo("nothing to undo" if f is None else f"undone on {visible(key, limit=200)}")


@findings_group.command("agreement")
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def findings_agreement(
    ctx: click.Context, baseline: str | None, candidate: str | None, as_json: bool
) -> None:
    """Percent agreement and Cohen's kappa per reviewer pair, on class and on verdict."""
    from evaltui import triage

    with _store(_db_path(ctx)) as store:
        rows = triage.agreement(
            store,
            base=store.resolve_run(baseline) if baseline else None,
            cand=store.resolve_run(candidate) if candidate else None,
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("Fewer than two reviewers have findings.")
        return

    def f(x: float | None, pct: bool = False) -> str:
        return "-" if x is None else (f"{x:.0%}" if pct else f"{x:.3f}")

    table = _table(("reviewers", "left"), ("cases", "right"), ("class agree", "right"),
                   ("class kappa", "right"), ("verdict agree", "right"), ("verdict kappa", "right"))  # fmt: skip
    _print_rows(
        table,
        [
            [
                one_line(" + ".join(r["reviewers"]), 40),
                str(r["cases"]),
                f(r["class_agreement"], True),
                f(r["class_kappa"]),
                f(r["verdict_agreement"], True),
                f(r["verdict_kappa"]),
            ]
            for r in rows
        ],
        optional=set(),
    )


@cli.group("taxonomy", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def taxonomy_group(ctx: click.Context, as_json: bool) -> None:
    """The failure classes in force (numbered as the app's keys), or manage them."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(_db_path(ctx)) as store:
        tax = _taxonomy(ctx, store)
    if as_json:
        click.echo(json.dumps(tax.as_list(), indent=2, ensure_ascii=False))
        return
    table = _table(("key", "left"), ("#", "right"), ("name", "left"), ("owner", "left"),
                   ("description", "left"))  # fmt: skip
    numbers = {c.key: i + 1 for i, c in enumerate(tax.active)}
    _print_rows(
        table,
        [
            [
                c.key,
                str(numbers.get(c.key, "retired")),
                one_line(c.name, 30),
                one_line(c.owner, 24),
                one_line(c.description, 90),
            ]
            for c in tax.classes
        ],
        optional={"description"},
    )
    click.echo(f"source: {tax.source}")


@taxonomy_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.pass_context
def taxonomy_import(ctx: click.Context, file: Path) -> None:
    """Store FILE as this store's taxonomy (recorded; old findings keep their class)."""
    from evaltui import taxonomy

    tax = taxonomy.parse_toml(file)
    with _store(_db_path(ctx)) as store:
        changes = taxonomy.save(store, tax)
    click.echo(
        f"taxonomy saved: {len(tax.classes)} classes; added {', '.join(changes['added']) or 'none'}; "
        f"removed {', '.join(changes['removed']) or 'none'}; changed {', '.join(changes['changed']) or 'none'}"
    )


@taxonomy_group.command("export")
@click.pass_context
def taxonomy_export(ctx: click.Context) -> None:
    """Print the taxonomy in force as TOML (a starting point to edit)."""
    from evaltui import taxonomy

    with _store(_db_path(ctx)) as store:
        click.echo(taxonomy.to_toml(_taxonomy(ctx, store)), nl=False)


# -- lifecycle ----------------------------------------------------------------------------


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
    from evaltui import lifecycle

    with _store(_db_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.retire(store, ids, reason, note)
    click.echo(f"retired {n} case(s) ({reason}); {len(ids) - n} already were")


@cli.command("restore")
@click.argument("cases", nargs=-1, required=True)
@click.option("--note", help="One line of context.")
@click.pass_context
def restore_cmd(ctx: click.Context, cases: tuple[str, ...], note: str | None) -> None:
    """Make retired or quarantined cases active again."""
    from evaltui import lifecycle

    with _store(_db_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.restore(store, ids, note)
    click.echo(f"restored {n} case(s)")


@cli.command("quarantine")
@click.argument("cases", nargs=-1, required=True)
@click.option("--note", help="What decision is awaited.")
@click.pass_context
def quarantine_cmd(ctx: click.Context, cases: tuple[str, ...], note: str | None) -> None:
    """Quarantine cases: still visible, left out of the gate, awaiting a decision."""
    from evaltui import lifecycle

    with _store(_db_path(ctx)) as store:
        ids = lifecycle.resolve_cases(store, list(cases))
        n = lifecycle.quarantine(store, ids, note)
    click.echo(f"quarantined {n} case(s)")


@cli.command("stale")
@click.option(
    "--runs", "n_runs", default=3, show_default=True, help="Look at each case's last N runs."
)
@click.option(
    "--markers",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
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
    from evaltui import lifecycle

    with _store(_db_path(ctx)) as store:
        marks = lifecycle.load_markers(store, markers)
        if save_markers:
            if markers is None:
                raise click.UsageError("--save-markers needs --markers FILE")
            lifecycle.save_markers(store, marks)
        found = lifecycle.stale(store, runs=n_runs, markers=marks)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo("No suggestions.")
        return
    table = _table(("case", "left"), ("rule", "left"), ("retire?", "left"), ("evidence", "left"))
    _print_rows(
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
    click.echo(", ".join(f"{n} {rule}" for rule, n in sorted(by_rule.items())))


@cli.command("cases")
@click.option(
    "--status", type=click.Choice(["active", "quarantined", "retired"]), help="Only this status."
)
@click.option("--suite", help="Only this suite.")
@click.option("--limit", type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def cases_cmd(
    ctx: click.Context, status: str | None, suite: str | None, limit: int | None, as_json: bool
) -> None:
    """List cases with their lifecycle status (who retired them, when, why)."""
    from evaltui import lifecycle

    with _store(_db_path(ctx)) as store:
        rows = lifecycle.list_cases(store, status=status, suite=suite, limit=limit)
        counts = lifecycle.status_counts(store)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = _table(("case", "left"), ("status", "left"), ("reason", "left"), ("by", "left"),
                   ("at", "left"), ("note", "left"))  # fmt: skip
    _print_rows(
        table,
        [
            [
                one_line(f"{r['suite']}/{r['case_key']}", 40),
                r["status"],
                r["reason"] or "",
                one_line(r["by"] or "", 16),
                (r["at"] or "")[:16].replace("T", " "),
                one_line(r["note"] or "", 50),
            ]
            for r in rows
        ],
        optional={"by", "at"},
    )
    click.echo(", ".join(f"{n:,} {k}" for k, n in counts.items()))


# -- the gate -------------------------------------------------------------------------------


@cli.command("gate")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--fallback", help="The fallback run (id or name).")
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The gate policy (TOML, docs/gate.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision record (JSON).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the record (JSON) here."
)
@click.option(
    "--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), help="Write Markdown here."
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here."
)
@click.option(
    "--no-record", is_flag=True, help="Do not keep the decision in the store (a dry run)."
)
@click.pass_context
def gate_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    fallback: str | None,
    policy_path: Path,
    as_json: bool,
    out: Path | None,
    md_path: Path | None,
    junit: Path | None,
    no_record: bool,
) -> None:
    """Decide: measure every rule of the policy and export the decision record.

    \b
    Exit codes (CI can block a release on them):
      0 ship   10 narrow_rollout   11 repair   12 hold   13 rollback
      2 bad input (policy, runs)   3 store unusable   4 not found

    \b
    Example:
      evaltui gate prod-2026-11-02 cand-2026-11-20 --fallback fallback-2026-11-20 \\
          --policy fixtures/policies/support-assistant.toml --md decision.md --junit gate.xml
    """
    from evaltui import gate

    loaded = gate.load_policy(policy_path)
    with _store(_db_path(ctx)) as store:
        b, c = store.resolve_run(baseline), store.resolve_run(candidate)
        f = store.resolve_run(fallback) if fallback else None
        record = gate.evaluate(store, loaded, b, c, f)
        if not no_record:
            gate.record_decision(store, record)
    from evaltui.files import write_atomic

    for path, render in ((out, gate.to_json), (md_path, gate.to_markdown), (junit, gate.to_junit)):
        if path is not None:
            write_atomic(path, render(record))
    if as_json:
        click.echo(gate.to_json(record), nl=False)
    else:
        console = _console()
        style = {"ship": "bold green", "narrow_rollout": "bold yellow"}.get(
            record["decision"], "bold red"
        )
        head = Text("decision: ")
        head.append(record["decision"].upper(), style=style)
        head.append(f"   ({visible(record['provenance']['candidate']['name'], limit=60)} vs "
                    f"{visible(record['provenance']['baseline']['name'], limit=60)})")  # fmt: skip
        console.print(head)
        table = _table(("result", "left"), ("rule", "left"), ("scope", "left"), ("measured", "right"),
                       ("threshold", "left"), ("action", "left"), ("owner", "left"))  # fmt: skip
        _print_rows(
            table,
            [
                [Text("ok" if r["passed"] else "FAIL", style="green" if r["passed"] else "bold red"),
                 one_line(r["id"], 32), one_line(r["scope_text"], 24), gate._fmt(r["value"], r["metric"]),
                 gate._thr(r), r["action"], one_line(r["owner"], 20)]
                for r in record["rules"]
            ],
            optional={"scope", "owner"},
        )  # fmt: skip
        console.print(Text("why: " + visible(record["why"], limit=3000)))
        console.print(
            Text(
                f"record {record['content_hash'][:16]}"
                + ("" if no_record else " kept in the store"),
                style="dim",
            )
        )
    sys.exit(gate.EXIT_CODES[record["decision"]])


@cli.command("decisions")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--limit", type=int, help="At most this many (newest first).")
@click.option("--show", "show_id", type=int, help="Print one decision's full record (JSON).")
@click.pass_context
def decisions_cmd(
    ctx: click.Context, as_json: bool, limit: int | None, show_id: int | None
) -> None:
    """The decisions kept in the store, newest first."""
    from evaltui import gate

    with _store(_db_path(ctx)) as store:
        if show_id is not None:
            row = store.conn.execute(
                "SELECT record FROM decisions WHERE id = ?", (show_id,)
            ).fetchone()
            if row is None:
                from evaltui.errors import NotFoundError

                raise NotFoundError(f"No decision {show_id}. `evaltui decisions` lists them.")
            click.echo(json.dumps(json.loads(row[0]), indent=2, ensure_ascii=False))
            return
        rows = gate.list_decisions(store, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No decisions yet. `evaltui gate BASE CAND --policy P` makes one.")
        return
    table = _table(("id", "right"), ("decided", "left"), ("by", "left"), ("decision", "left"),
                   ("candidate", "left"), ("baseline", "left"), ("record", "left"))  # fmt: skip
    _print_rows(
        table,
        [
            [
                str(r["id"]),
                r["decided_at"][:16].replace("T", " "),
                one_line(r["decided_by"], 16),
                r["decision"],
                one_line(r["candidate"], 28),
                one_line(r["baseline"], 28),
                r["content_hash"][:12],
            ]
            for r in rows
        ],
        optional={"by", "record"},
    )


@cli.command("verify")
@click.argument("record_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The policy file, if it moved since the decision.")  # fmt: skip
@click.pass_context
def verify_cmd(ctx: click.Context, record_path: Path, policy_path: Path | None) -> None:
    """Recompute a decision record from the store and the policy: did anything change?

    Exit 0 when nothing changed, 5 when something did (each change is listed).
    """
    from evaltui import gate

    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        from evaltui.errors import InputError

        raise InputError(str(record_path), f"malformed JSON ({exc})") from None
    with _store(_db_path(ctx)) as store:
        problems = gate.verify(store, record, policy_path)
    if not problems:
        click.echo(f"unchanged: the decision ({record['decision']}) still holds")
        return
    click.echo(f"changed since the decision ({record.get('decision')}):")
    for p in problems:
        click.echo(f"  - {visible(p, limit=500)}")
    sys.exit(5)


def main() -> None:
    try:
        cli(prog_name="evaltui")
    except Exception as exc:  # the last line of defence: a message, never a raw traceback
        if os.environ.get("EVALTUI_DEBUG"):
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {visible(exc, limit=500)} "
            "(a bug: set EVALTUI_DEBUG=1 for the traceback and report it)",
            err=True,
        )
        sys.exit(1)
