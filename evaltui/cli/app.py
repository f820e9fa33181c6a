"""The click group: global options (--db, --reviewer, --taxonomy), errors to exit codes, `main`."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import IO, Any

import click
from click.core import ParameterSource

from evaltui import __version__
from evaltui.cli.output import echo, fit_streams
from evaltui.errors import EvaltuiError, InputError, StoreError
from evaltui.paths import ENV_DB, default_db_path
from evaltui.store import Store
from evaltui.store.events import REVIEWER_ENV, os_user
from evaltui.store.guard import check_store_path, failure
from evaltui.textsafe import visible

# Each command and the module that defines it: a module is imported only when its
# command runs (or --help lists them), so `evaltui` alone starts the app without
# loading every command (tests/test_cli.py checks this map against the modules).
COMMAND_MODULES = {
    "case": "compare", "compare": "compare",
    "gate": "gate", "decisions": "gate", "verify": "gate",
    "retire": "lifecycle", "restore": "lifecycle", "quarantine": "lifecycle",
    "stale": "lifecycle", "cases": "lifecycle",
    "import": "runs", "runs": "runs", "demo": "demo", "schema": "runs", "log": "log",
    "label": "triage", "findings": "triage", "taxonomy": "taxonomy",
    "codebook": "codebook", "team": "team", "sync": "team", "traffic": "traffic",
    "calibrate": "calibrate", "gold": "gold", "trend": "trend",
}  # fmt: skip


class EvaltuiGroup(click.Group):
    """Turns EvaltuiError (and raw SQLite errors) into a message and an exit code;
    loads each command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"evaltui.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        path, why = store_in_use(ctx)
        with formatter.section("Store"):
            formatter.write(f"{'':>{formatter.current_indent}}{path}\n")  # never wrapped
            formatter.write_text(f"({why})")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EvaltuiError as exc:
            echo(f"Error: {visible(exc.message, limit=2000)}", err=True)
            sys.exit(exc.exit_code)
        except sqlite3.Error as exc:  # a write that failed mid-command: a full disk is said so
            error = failure(store_path(ctx), exc)
            echo(f"Error: {visible(error.message, limit=2000)}", err=True)
            sys.exit(error.exit_code)
        except RecursionError:
            echo("Error: the input is nested too deeply to read", err=True)
            sys.exit(2)
        except KeyboardInterrupt:  # Ctrl+C: 130, as shells say (128 + SIGINT)
            echo(
                "Interrupted: what this command had committed is kept; a write under way was "
                "rolled back (each is one transaction)",
                err=True,
            )
            sys.exit(130)


class NotAFile(click.UsageError):
    """A path given for a file the command reads that names no regular file: said in one
    line, `Error: ...`, exit 2 (no usage block: the command line's shape is right)."""

    def show(self, file: IO[Any] | None = None) -> None:
        echo(f"Error: {visible(self.format_message(), limit=2000)}", err=True)


class InputFile(click.ParamType):
    """A file the command reads (a policy, a record, a key, a findings file): a folder,
    a FIFO, a device or a missing path is refused as the command line is read, naming the
    file and the option (NotAFile). The file is opened and checked again when it is read
    (files.open_regular): this check only says it early and plainly."""

    name = "file"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from evaltui.files import check_regular  # load time: files loads tomllib

        path = Path(value)
        # an option is named (an argument is the file itself)
        field = max(param.opts, key=len) if isinstance(param, click.Option) else None
        try:
            check_regular(path, self.what, folder=False, field=field)
        except InputError as exc:
            raise NotAFile(exc.message, ctx) from None
        return path


def store_in_use(ctx: click.Context) -> tuple[str, str]:
    """The store the commands would use, and why (for `evaltui --help`): made by nothing,
    read from nothing (no directory is created to say where it would be)."""
    given = ctx.params.get("db")  # --db is eager: read before --help when it comes first
    if given and ctx.get_parameter_source("db") == ParameterSource.COMMANDLINE:
        path, why = Path(given), "--db"
    elif os.environ.get(ENV_DB):
        path, why = default_db_path(make=False), f"${ENV_DB}"
    else:
        path, why = (
            default_db_path(make=False),
            f"the per-user default; --db or ${ENV_DB} for another",
        )
    there = "" if path.exists() else "; no store there yet"
    return visible(str(path), limit=500), why + there


def store_path(ctx: click.Context) -> Path:
    obj = ctx.find_root().obj or {}
    return Path(obj["db"]) if obj.get("db") else default_db_path()


def reviewer(ctx: click.Context | None = None) -> str:
    """Who acts in this command: --reviewer (click reads $EVALTUI_REVIEWER for it, once),
    else the OS user. Kept in the root context's `obj`; given to every store the command
    opens (`Store.actor`) and to the app."""
    ctx = ctx or click.get_current_context(silent=True)
    obj = (ctx.find_root().obj if ctx is not None else None) or {}
    return str(obj.get("reviewer") or os_user())


def open_store(
    path: Path, *, write: bool = False, announce: bool = True, audit: bool = False
) -> Store:
    """The store, opened as this command's reviewer, saying so on stderr if another
    evaltui's import makes it wait.

    A command that only reads refuses a path where there is no store (a mistyped
    --db must not look like an empty store); one that writes creates it, and says so
    (only the process that made the file: `Store.created`). A path whose directory is
    missing or is a file is refused (exit 2): no directory is made for a --db.
    `audit` (the commands that look for tampering) opens a store whose append-only
    triggers were dropped, and says so; every other command refuses it.
    """
    check_store_path(path)
    if not path.exists() and not write:
        raise StoreError(f"no store at {path}; `evaltui import` creates one")
    store = Store(
        path,
        on_wait=lambda: echo(
            f"Waiting for {path}: another evaltui is importing a large file into it "
            "and has the store to itself until that import commits...",
            err=True,
        ),
        audit=audit,
        actor=reviewer(),
    )
    if store.tampered:
        echo(
            f"Warning: {path} was changed outside evaltui: its append-only trigger(s) "
            f"{', '.join(store.tampered)} were dropped; examining it as it is",
            err=True,
        )
    if store.created and announce:
        echo(f"created a new store at {path}", err=True)
    return store


@click.group(cls=EvaltuiGroup, invoke_without_command=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_DB,
    is_eager=True,  # read before --help, which names the store in use
    help=f"Store file. Default: ${ENV_DB}, else the per-user data dir (below: Store).",
)
@click.option(
    "--reviewer",
    "reviewer_name",
    envvar=REVIEWER_ENV,
    help="Who you are in the event log and on findings. Default: $EVALTUI_REVIEWER, else the OS user.",
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=InputFile("taxonomy"),
    envvar="EVALTUI_TAXONOMY",
    help="A failure-class taxonomy TOML to use instead of the store's (docs/triage.md).",
)
@click.version_option(__version__, prog_name="evaltui")
@click.pass_context
def cli(
    ctx: click.Context, db: Path | None, reviewer_name: str | None, taxonomy_path: Path | None
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
    source = ctx.get_parameter_source("db")
    ctx.obj["db_explicit"] = source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    ctx.obj["db_on_command_line"] = source == ParameterSource.COMMANDLINE
    ctx.obj["taxonomy"] = taxonomy_path
    ctx.obj["reviewer"] = reviewer_name or os_user()  # read once, passed on (`reviewer`)
    if ctx.invoked_subcommand is None:
        # the per-user default store is made on first use; a store named by --db or
        # $EVALTUI_DB must exist (a typo must not open an empty store)
        open_app(store_path(ctx), taxonomy_path, write=not ctx.obj["db_explicit"])


def open_app(
    path: Path, taxonomy_path: Path | None = None, *, write: bool = False, judge: int | None = None
) -> None:
    """The app on the store (on the judging screen of sample `judge`, when given)."""
    # load time: Textual (both modules load it) is loaded only when the app opens
    from evaltui.tui import config
    from evaltui.tui.app import EvaltuiApp  # load time: as above

    with open_store(path, write=write) as store:  # migrate (or refuse) before the screen takes over
        if taxonomy_path is not None:  # a bad taxonomy file fails here, not mid-session
            from evaltui.review import taxonomy  # load time: taxonomy loads pydantic

            taxonomy.load(store, taxonomy_path)
    settings = config.load_checked()  # a bad config file too
    EvaltuiApp(path, taxonomy_path, settings, reviewer=reviewer(), judge=judge).run()


def taxonomy_in_force(ctx: click.Context, store: Store) -> Any:
    from evaltui.review import taxonomy  # load time: pydantic, for the commands that read it

    return taxonomy.load(store, ctx.obj.get("taxonomy"))


def main() -> None:
    fit_streams()  # PYTHONIOENCODING=ascii: escaped text, never a crash
    try:
        cli(prog_name="evaltui")
    except Exception as exc:  # the last line of defence: a message, never a raw traceback
        if os.environ.get("EVALTUI_DEBUG"):
            raise
        echo(
            f"Error: unexpected {type(exc).__name__}: {visible(exc, limit=500)} "
            "(a bug: set EVALTUI_DEBUG=1 for the traceback and report it)",
            err=True,
        )
        sys.exit(1)
