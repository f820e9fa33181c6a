"""Setting up a team store: `team init` (schema, group roles, policies) and members.

Run by the team's admin, who owns the schema. The admin decides who is who (a
member row maps a PostgreSQL login role to a reviewer name and an evaltui role); the
database then holds every member to it. No secret passes through here: a new login
role gets no password, and the admin is told how to give it one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evaltui.signing import public_key
from evaltui.team import TeamError
from evaltui.team.db import ident
from evaltui.team.schema import (
    FORMAT,
    MAX_NAME,
    PROJECT_NAME,
    ROLES,
    SCHEMA_NAME,
    TABLES,
    VIEWS,
    group_role,
    statements,
)


def check_schema_name(schema: str) -> None:
    if not SCHEMA_NAME.match(schema):
        raise TeamError(
            f"--schema {schema!r}: a schema evaltui makes is lower case letters, digits and "
            "underscores, starting with a letter or underscore, at most 40 characters"
        )


def check_project_name(project: str) -> None:
    if not PROJECT_NAME.match(project):
        raise TeamError(
            f"--project {project!r}: letters, digits, '.', '_' and '-', starting with a "
            "letter or digit, at most 100 characters"
        )


def _existing(conn: Any, schema: str) -> tuple[bool, dict[str, str]]:
    """Whether the schema exists, and its tables, views and other relations by name."""
    exists = (
        conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        is not None
    )
    rels = dict(
        conn.execute(
            "SELECT c.relname, c.relkind::text FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            (schema,),
        ).fetchall()
    )
    return exists, rels


def _check_target(conn: Any, schema: str) -> bool:
    """Refuse a schema holding anything evaltui did not make; True when it is ours already."""
    exists, rels = _existing(conn, schema)
    if not exists:
        return False
    foreign = sorted(set(rels) - set(TABLES) - set(VIEWS))
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise TeamError(
            f"the schema {schema!r} holds tables evaltui did not make ({shown}); nothing was "
            "changed. Name a fresh schema with --schema NAME"
        )
    if not rels:
        return False  # an empty schema (made by the admin for evaltui): fill it
    fmt = None
    if "meta" in rels:
        row = conn.execute(f"SELECT value FROM {_q(schema)}.meta WHERE key = 'format'").fetchone()
        fmt = row[0] if row else None
    if fmt != FORMAT:
        raise TeamError(
            f"the schema {schema!r} holds evaltui's table names but "
            + ("no evaltui format mark" if fmt is None else f"the format {fmt!r}")
            + f" (this evaltui writes {FORMAT!r}); nothing was changed"
        )
    return True


def _q(schema: str) -> str:
    """A schema name checked by check_schema_name, quoted."""
    return f'"{schema}"'


@dataclass
class InitResult:
    schema: str
    existed: bool
    roles_made: list[str]
    project: str | None
    project_made: bool


def init(
    conn: Any,
    schema: str = "evaltui",
    project: str | None = None,
    blind: bool = False,
    signed: bool = False,
) -> InitResult:
    """Create (or re-assert) the shared schema, its group roles and policies, in one
    transaction; with `project`, add that project. The connecting role becomes the owner."""
    check_schema_name(schema)
    if project is not None:
        check_project_name(project)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('evaltui-team-init'))")
        existed = _check_target(conn, schema)
        groups = [group_role(schema, r) for r in ROLES]
        have = {
            r[0]
            for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (groups,))
        }
        made = [g for g in groups if g not in have]
        for g in made:
            conn.execute(_sql("CREATE ROLE {} NOLOGIN", g))
        for statement in statements(schema):
            conn.execute(statement)
        project_made = False
        if project is not None:
            project_made = _add_project(conn, schema, project, blind, signed)
    return InitResult(schema, existed, made, project, project_made)


def _sql(template: str, *names: str) -> Any:
    from psycopg import sql  # load time: psycopg (the team extra) only for team commands

    return sql.SQL(template).format(*(ident(n) for n in names))


def _add_project(conn: Any, schema: str, project: str, blind: bool, signed: bool) -> bool:
    row = conn.execute(
        f"INSERT INTO {_q(schema)}.projects (project, blind, signed) VALUES (%s, %s, %s) "
        "ON CONFLICT (project) DO NOTHING RETURNING project",
        (project, blind, signed),
    ).fetchone()
    return row is not None


def set_project(
    conn: Any,
    schema: str,
    project: str,
    *,
    blind: bool | None = None,
    taxonomy_sha256: str | None = None,
    policy_sha256: str | None = None,
    signed: bool | None = None,
) -> dict[str, Any]:
    """Change a project's blind mode, whether it requires signed events, or its taxonomy
    and policy hashes (the admin's)."""
    check_schema_name(schema)
    for what, value in (("taxonomy", taxonomy_sha256), ("policy", policy_sha256)):
        if value is not None and not re.fullmatch(r"[0-9a-f]{64}", value):
            raise TeamError(f"the {what} hash is not a sha256 in lower-case hex: {value[:80]!r}")
    with conn.transaction():
        row = conn.execute(
            f"UPDATE {_q(schema)}.projects SET blind = coalesce(%s, blind), "
            "signed = coalesce(%s, signed), taxonomy_sha256 = coalesce(%s, taxonomy_sha256), "
            "policy_sha256 = coalesce(%s, policy_sha256) WHERE project = %s "
            "RETURNING project, blind, taxonomy_sha256, policy_sha256",
            (blind, signed, taxonomy_sha256, policy_sha256, project),
        ).fetchone()
    if row is None:
        raise TeamError(f"no project {project!r} in the team store (team init --project)")
    return dict(zip(("project", "blind", "taxonomy_sha256", "policy_sha256"), row, strict=True))


def _set_key(conn: Any, schema: str, project: str, login: str, key: str) -> str:
    (current,) = conn.execute(
        f"SELECT signing_key FROM {_q(schema)}.members WHERE project = %s AND role_name = %s",
        (project, login),
    ).fetchone()
    if current == key:
        return ""
    if current is not None:
        raise TeamError(
            f"the login {login!r} has another signing key registered in project {project!r}: "
            "a member's key is not changed (every store would refuse the events signed with "
            "the old one)"
        )
    conn.execute(
        f"UPDATE {_q(schema)}.members SET signing_key = %s WHERE project = %s AND role_name = %s",
        (key, project, login),
    )
    return "; signing key registered"


@dataclass
class MemberResult:
    project: str
    reviewer: str
    login: str
    role: str
    role_made: bool  # a new login role (with no password)
    status: str  # "added", "already a member", "role changed from X"

    def password_hint(self) -> str:
        """How the admin gives the new login role a password, without evaltui seeing it."""
        return (
            f"{self.login} has no password yet. As the admin, in psql: \\password {self.login} "
            "(psql hashes it before sending; evaltui never sees or keeps it). The member keeps "
            "it in ~/.pgpass or PGPASSWORD, or your server uses certificate, peer or IAM "
            "authentication instead."
        )


def add_member(
    conn: Any,
    schema: str,
    project: str,
    reviewer: str,
    role: str,
    login: str | None = None,
    signing_key: str | None = None,
) -> MemberResult:
    """Make `login` (default: the reviewer name) a member of the project as `role`:
    the login role is created if missing (LOGIN, no password), granted the role's group,
    and mapped to the reviewer name that every event it writes must carry. With
    `signing_key` (an OpenSSH public key line), the key its events are signed with: set
    once, never changed (the events signed with it would be refused)."""
    check_schema_name(schema)
    if signing_key is not None:
        try:
            signing_key = public_key(signing_key)
        except ValueError as exc:
            raise TeamError(f"--key: {exc}") from None
    login = login or reviewer
    if role not in ROLES:
        raise TeamError(f"--role {role!r}: one of {', '.join(ROLES)}")
    if not 0 < len(reviewer) <= MAX_NAME:
        raise TeamError(f"a reviewer name is 1 to {MAX_NAME} characters")
    if not 0 < len(login.encode("utf-8")) <= 63:
        raise TeamError(f"--login {login!r}: a PostgreSQL role name is 1 to 63 bytes")
    with conn.transaction():
        if (
            conn.execute(
                f"SELECT 1 FROM {_q(schema)}.projects WHERE project = %s", (project,)
            ).fetchone()
            is None
        ):
            raise TeamError(
                f"no project {project!r} in schema {schema!r}: "
                f"`evaltui team init URL --project {project}` adds it"
            )
        found = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (login,)
        ).fetchone()
        if found is not None and (found[0] or found[1]):
            raise TeamError(
                f"{login} is a superuser or bypasses row-level security: the database would "
                "hold it to nothing. Give the member a login role of its own"
            )
        if found is None:
            conn.execute(_sql("CREATE ROLE {} LOGIN", login))
        conn.execute(_sql("GRANT {} TO {}", group_role(schema, role), login))
        current = conn.execute(
            f"SELECT reviewer, role FROM {_q(schema)}.members WHERE project = %s AND role_name = %s",
            (project, login),
        ).fetchone()
        taken = conn.execute(
            f"SELECT role_name FROM {_q(schema)}.members WHERE project = %s AND reviewer = %s",
            (project, reviewer),
        ).fetchone()
        if taken is not None and taken[0] != login:
            raise TeamError(
                f"the reviewer name {reviewer!r} is already the login {taken[0]!r}'s in "
                f"project {project!r}"
            )
        if current is None:
            status = "added"
            conn.execute(
                f"INSERT INTO {_q(schema)}.members (project, role_name, reviewer, role) "
                "VALUES (%s, %s, %s, %s)",
                (project, login, reviewer, role),
            )
        elif current[0] != reviewer:
            raise TeamError(
                f"the login {login!r} is already the reviewer {current[0]!r} in project "
                f"{project!r}: a member's name is what their events carry and is not changed"
            )
        elif current[1] == role:
            status = "already a member"
        else:
            status = f"role changed from {current[1]}"
            conn.execute(
                f"UPDATE {_q(schema)}.members SET role = %s WHERE project = %s AND role_name = %s",
                (role, project, login),
            )
        if signing_key is not None:
            status += _set_key(conn, schema, project, login, signing_key)
    return MemberResult(project, reviewer, login, role, found is None, status)
