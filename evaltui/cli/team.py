"""The live team store: `evaltui team init` and `evaltui team add-member` (docs/team.md)."""

from __future__ import annotations

import click

from evaltui.cli.app import cli
from evaltui.cli.output import echo
from evaltui.team import admin, db
from evaltui.team.schema import ROLES

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
@click.option("--blind", is_flag=True, help="New project: reviewers see others' labels on a "
              "case only after labelling it themselves.")  # fmt: skip
def init_cmd(url: str, schema: str, project: str, blind: bool) -> None:
    """Create the shared schema, its group roles and policies (idempotent; run as the admin,
    who owns it). URL: a PostgreSQL connection string or URL without a password (libpq
    reads it from PGPASSWORD, ~/.pgpass or a service file); none: libpq's environment."""
    with db.translated(), db.connect(url) as conn:
        result = admin.init(conn, schema, project, blind=blind)
    state = "re-asserted" if result.existed else "created"
    echo(f"schema {result.schema} {state} (tables, policies, triggers)")
    if result.roles_made:
        echo(f"group roles made: {', '.join(result.roles_made)}")
    made = "added" if result.project_made else "already there"
    echo(
        f"project {project}: {made}" + (" (blind review)" if blind and result.project_made else "")
    )


@team_group.command("add-member")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the member may write.")
@click.option("--project", default="default", show_default=True)
@click.option("--login", help="The member's PostgreSQL role (default: NAME).")
@click.option("--url", default="", help=URL_HELP)
@click.option("--schema", default="evaltui", show_default=True)
def add_member_cmd(
    name: str, role: str, project: str, login: str | None, url: str, schema: str
) -> None:
    """Make NAME a member: its login role (made if missing, with no password), its group,
    and the reviewer name every event it writes must carry."""
    with db.translated(), db.connect(url) as conn:
        result = admin.add_member(conn, schema, project, name, role, login)
    echo(f"{result.reviewer} ({result.login}) in project {result.project} as {result.role}: "
         f"{result.status}")  # fmt: skip
    if result.role_made:
        echo(result.password_hint())
