"""The live team store (docs/team.md): `team init`, `team add-member` (the admin's),
`team join`, `team status` and `sync` (each member's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evaltui import signing
from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.output import echo
from evaltui.gate.policy import load_policy
from evaltui.review import taxonomy
from evaltui.team import TeamError, admin, db, ledger, member, sync
from evaltui.team.schema import ROLES
from evaltui.textsafe import safe_json

URL_HELP = (
    "PostgreSQL connection string or URL, without a password (libpq reads it from "
    "PGPASSWORD, ~/.pgpass or a service file). Empty: libpq's environment (PGHOST, ...)."
)


@cli.group("team")
def team_group() -> None:
    """A live team store in PostgreSQL: triage events shared, roles enforced by the database."""


@team_group.command("init")
@click.argument("url", default="")
@click.option("--schema", default="evaltui", show_default=True, help="The schema to make.")
@click.option("--project", default="default", show_default=True, help="A project to add.")
@click.option(
    "--blind",
    is_flag=True,
    help="New project: reviewers see others' labels on a case only after labelling it themselves.",
)
@click.option(
    "--signed",
    is_flag=True,
    help="New project: every event must carry its "
    "author's signature (each member with a key: add-member --key).",
)
def init_cmd(url: str, schema: str, project: str, blind: bool, signed: bool) -> None:
    """Create the shared schema, its group roles and policies (idempotent; run as the admin,
    who owns it). URL: a PostgreSQL connection string or URL without a password (libpq
    reads it from PGPASSWORD, ~/.pgpass or a service file); none: libpq's environment."""
    with db.translated(), db.connect(url) as conn:
        result = admin.init(conn, schema, project, blind=blind, signed=signed)
    state = "re-asserted" if result.existed else "created"
    echo(f"schema {result.schema} {state} (tables, policies, triggers)")
    if result.roles_made:
        echo(f"group roles made: {', '.join(result.roles_made)}")
    made = "added" if result.project_made else "already there"
    echo(
        f"project {project}: {made}"
        + (" (blind review)" if blind and result.project_made else "")
        + (" (signed events)" if signed and result.project_made else "")
    )


@team_group.command("add-member")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the member may write.")
@click.option("--project", default="default", show_default=True)
@click.option("--login", help="The member's PostgreSQL role (default: NAME).")
@click.option("--url", default="", help=URL_HELP)
@click.option("--schema", default="evaltui", show_default=True)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The member's OpenSSH public key (KEY.pub): their events must be signed "
    "with it. Set once.",
)
def add_member_cmd(
    name: str,
    role: str,
    project: str,
    login: str | None,
    url: str,
    schema: str,
    key_file: Path | None,
) -> None:
    """Make NAME a member: its login role (made if missing, with no password), its group,
    and the reviewer name every event it writes must carry."""
    key = None
    if key_file is not None:
        key = signing.read_small(key_file, "public key", 20_000, field="--key").decode(
            "utf-8", "replace"
        )
    with db.translated(), db.connect(url) as conn:
        result = admin.add_member(conn, schema, project, name, role, login, key)
    echo(
        f"{result.reviewer} ({result.login}) in project {result.project} as {result.role}: "
        f"{result.status}"
    )
    if result.role_made:
        echo(result.password_hint())


@team_group.command("set-project")
@click.option("--project", default="default", show_default=True)
@click.option(
    "--taxonomy",
    "taxonomy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The team's taxonomy file (TOML): its sha256 is what stores compare.",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The team's gate policy file: its sha256 is what stores compare.",
)
@click.option("--blind/--no-blind", default=None, help="Blind review on or off.")
@click.option("--signed/--no-signed", default=None, help="Require every event signed.")
@click.option("--url", default="", help=URL_HELP)
@click.option("--schema", default="evaltui", show_default=True)
def set_project_cmd(
    project: str,
    taxonomy_file: Path | None,
    policy_file: Path | None,
    blind: bool | None,
    signed: bool | None,
    url: str,
    schema: str,
) -> None:
    """Record the project's taxonomy and gate policy (their sha256, compared by every
    member's `team status` and `sync`), or change its blind or signed mode (the admin's)."""
    tax_sha = policy_sha = None
    if taxonomy_file is not None:
        tax_sha = taxonomy.parse_toml(taxonomy_file).sha256
    if policy_file is not None:
        policy_sha = load_policy(policy_file).sha256
    with db.translated(), db.connect(url) as conn:
        got = admin.set_project(
            conn,
            schema,
            project,
            blind=blind,
            signed=signed,
            taxonomy_sha256=tax_sha,
            policy_sha256=policy_sha,
        )
    echo(
        f"project {got['project']}: blind {'on' if got['blind'] else 'off'}, taxonomy "
        f"{got['taxonomy_sha256'] or 'not recorded'}, policy "
        f"{got['policy_sha256'] or 'not recorded'}"
    )


@team_group.command("join")
@click.argument("url", default="")
@click.option("--project", default="default", show_default=True, help="The team's project.")
@click.option("--schema", default="evaltui", show_default=True)
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign this store's events with this OpenSSH private key (its path is "
    "kept, never the key).",
)
@click.pass_context
def join_cmd(
    ctx: click.Context, url: str, project: str, schema: str, sign_key: Path | None
) -> None:
    """Share this store's triage with a team project, as the login URL connects as (a
    member: `team add-member`). Keeps URL (never one holding a password) in the store;
    `evaltui sync` then pushes and pulls."""

    with (
        db.translated(),
        db.connect(url, autocommit=True) as conn,
        open_store(store_path(ctx), write=True) as store,
    ):
        joined = member.join(store, conn, url, project, schema, sign_key)
    link = joined.link
    echo(
        f"{joined.status}: project {link.project} (schema {link.schema}) as {link.reviewer} "
        f"({link.role})" + (", blind review" if joined.blind else "")
    )
    echo(f"{joined.outbox} finding(s) of {link.reviewer} here will be shared by `evaltui sync`")
    echo(f"signing: {joined.signing}")
    if joined.hint:
        echo(f"Warning: {joined.hint}", err=True)


@team_group.command("status")
@click.option("--offline", is_flag=True, help="Do not connect: what this store knows.")
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/team.md).")
@click.pass_context
def status_cmd(ctx: click.Context, offline: bool, as_json: bool) -> None:
    """The team this store shares with: the outbox (findings not yet shared), the last
    sync, events waiting or refused; online, the members and the runs others imported
    that this store lacks."""

    with open_store(store_path(ctx)) as store:
        link = ledger.link(store)
        out = member.status(store)
        if link is not None and not offline:
            try:
                with db.translated(), db.connect(link.url, autocommit=True) as conn:
                    out = member.status(store, conn)
            except TeamError as exc:
                out["server"] = {"error": exc.message}
    if as_json:
        echo(safe_json(out))
        return
    _print_status(out)


def _print_status(out: dict[str, Any]) -> None:
    echo(
        f"project {out['project']} (schema {out['schema']}) as {out['reviewer']} "
        f"({out['role']}), at {out['url'] or 'libpq environment (PGHOST, PGSERVICE, ...)'}"
    )
    echo(f"outbox: {out['outbox']} finding(s) not yet shared")
    for name, n in out["not_shared"].items():
        echo(f"  kept local: {n} finding(s) written as {name} (not this login's reviewer)")
    _print_decisions(out["decisions"])
    last = out["last_sync"]
    if last.get("ok_at"):
        echo(
            f"last sync: {last['ok_at']} (pushed {last.get('pushed', 0)}, "
            f"pulled {last.get('pulled', 0)})"
        )
    else:
        echo("last sync: never")
    if last.get("error"):
        echo(f"last attempt: {last['attempt_at']} failed: {last['error']}")
    events = out["events"]
    echo("team events here: " + ", ".join(f"{n} {s}" for s, n in events.items()))
    for w in out["waiting_for"]:
        echo(f"  waiting ({w['events']}): {w['reason']}")
    for line in out["refused"] + out["rejected"]:
        echo(f"  {line}")
    if out["name_hint"]:
        echo(f"Warning: {out['name_hint']}")
    server = out["server"]
    if server is None:
        return
    if "error" in server:
        echo(f"offline: {server['error']}")
        return
    members = ", ".join(f"{m['reviewer']} ({m['role']})" for m in server["members"])
    echo(
        f"members: {members}"
        + (" · blind review" if server["blind"] else "")
        + (" · signed events" if server["signed"] else "")
    )
    for line in server["mismatch"]:
        echo(f"Warning: {line}")
    for run in server["runs_missing_here"]:
        part = f" part {run['part']}" if run["part"] else ""
        echo(
            f"not imported here: run sha256 {run['run_sha256'][:16]}{part}, imported by "
            f"{', '.join(run['recorded_by'])}"
        )


@cli.command("sync")
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/team.md).")
@click.pass_context
def sync_cmd(ctx: click.Context, as_json: bool) -> None:
    """Share this store's triage with its team (`team join` first): pull the others'
    events into this store, push this reviewer's findings not yet shared. Safe to run
    any time, and again: a sync with nothing new changes nothing."""

    with open_store(store_path(ctx)) as store:
        result = sync.sync(store)
    out = result.to_json()
    if as_json:
        echo(safe_json(out))
        return
    echo(
        f"pushed {out['pushed']} event(s) ({out['already_there']} already there), pulled "
        f"{out['pulled']}: {out['folded']} folded, {out['waiting']} waiting, "
        f"{out['refused'] + out['rejected']} refused"
    )
    echo(f"cases changed: {out['cases_changed']}; outbox: {out['outbox']} left")
    if out["not_allowed"]:
        echo(
            f"kept local: {out['not_allowed']} item(s) of a kind a {out['role']} may not "
            "write in the team (adjudications and gold answers: adjudicators only)"
        )
    if out["not_shareable"]:
        echo(
            f"kept local: {out['not_shareable']} finding(s) a team store cannot hold (named below)"
        )
    _print_decisions(out["decisions"])
    for line in out["problems"]:
        echo(f"refused: {line}", err=True)
    for line in out["mismatch"]:
        echo(f"Warning: {line}", err=True)
    for cls, n in out["not_in_taxonomy"].items():
        echo(
            f"Warning: {n} finding(s) of the class {cls!r} not folded: this store's taxonomy "
            "has no such class (import the team's taxonomy; they are folded at the next "
            "sync after)",
            err=True,
        )
    for line in out["waiting_for"]:
        echo(f"waiting: {line}")


def _print_decisions(d: dict[str, Any]) -> None:
    """Release decisions (#30): not yet shared, kept as another's, by other names."""
    if d["outbox"] or d["kept_as_team"]:
        echo(
            f"release decisions: {d['outbox']} of this store's not yet shared, "
            f"{d['kept_as_team']} kept from the team (`evaltui decisions`)"
        )
    for name, n in d["not_shared"].items():
        echo(f"  kept local: {n} decision(s) decided as {name} (not this login's reviewer)")
