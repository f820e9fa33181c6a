"""`team init` and `team add-member` on a real PostgreSQL, through the library and the CLI."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.team import TeamError, admin
from evaltui.team.db import check_url, connect
from evaltui.team.events import TeamEvent, case_subject

from .conftest import ADMIN, Team

CASE = case_subject("a" * 64, "b" * 64, "suite", "k1")


def tables(team: Team, schema: str = "evaltui") -> list[str]:
    return [
        r[0]
        for r in team.su.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
        )
    ]


def test_init_is_idempotent_and_puts_back_a_dropped_policy(team: Team):
    first = admin.init(team.admin, "evaltui", "p")
    assert first.existed is False and first.project_made is True
    made = tables(team)
    assert made == ["events", "members", "meta", "projects", "run_digests", "spoken"]
    ana, bo = team.member("ana"), team.member("bo")
    ana.push([TeamEvent.make("p", "ana", "label", CASE, {"verdict": "accepted"})])
    again = admin.init(team.admin, "evaltui", "p")
    assert (again.existed, again.roles_made, again.project_made) == (True, [], False)
    assert tables(team) == made and team.count() == 1
    # the owner drops the read policy: members read nothing; init makes it again
    team.admin.execute("DROP POLICY events_select ON evaltui.events")
    assert bo.conn.execute("SELECT count(*) FROM evaltui.events").fetchone()[0] == 0
    admin.init(team.admin, "evaltui")
    assert bo.conn.execute("SELECT count(*) FROM evaltui.events").fetchone()[0] == 1
    forced = team.su.execute(
        "SELECT relname FROM pg_class WHERE relforcerowsecurity AND relnamespace = "
        "'evaltui'::regnamespace ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in forced] == ["events", "run_digests"]


def test_init_refuses_a_schema_holding_other_tables(team: Team):
    team.admin.execute("CREATE SCHEMA evaltui")
    team.admin.execute("CREATE TABLE evaltui.notes (id int)")
    with pytest.raises(TeamError, match=r"'evaltui' holds tables evaltui did not make \(notes\)"):
        admin.init(team.admin, "evaltui", "p")
    assert tables(team) == ["notes"]  # nothing was changed
    # evaltui's table names without its format mark: not ours either
    team.admin.execute("CREATE SCHEMA lookalike")
    team.admin.execute("CREATE TABLE lookalike.events (id int)")
    with pytest.raises(TeamError, match="no evaltui format mark"):
        admin.init(team.admin, "lookalike")
    # a fresh schema named with --schema is made beside it
    admin.init(team.admin, "triage_team", "p")
    assert "events" in tables(team, "triage_team") and tables(team) == ["notes"]
    with pytest.raises(TeamError, match="--schema 'Bad-Name'"):
        admin.init(team.admin, "Bad-Name")


def test_add_member_makes_a_login_role_with_no_password(team: Team):
    team.init("p", "q")
    # a login no other test makes (roles belong to the whole server, not one database)
    result = admin.add_member(team.admin, "evaltui", "p", "ana@example.com", "adjudicator",
                              login="newcomer")  # fmt: skip
    assert (result.role_made, result.status) == (True, "added")
    assert "\\password newcomer" in result.password_hint()
    can_login, password = team.su.execute(
        "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = 'newcomer'"
    ).fetchone()
    assert can_login is True and password is None  # no secret made, none kept
    assert team.su.execute("SELECT pg_has_role('newcomer', 'evaltui_adjudicator', 'MEMBER')").fetchone()[0]  # fmt: skip
    rows = team.su.execute(
        "SELECT project, role_name, reviewer, role FROM evaltui.members"
    ).fetchall()
    assert rows == [("p", "newcomer", "ana@example.com", "adjudicator")]
    # again: nothing new; a new role: changed and said
    assert admin.add_member(team.admin, "evaltui", "p", "ana@example.com", "adjudicator", "newcomer").status == "already a member"  # fmt: skip
    changed = admin.add_member(
        team.admin, "evaltui", "p", "ana@example.com", "reviewer", "newcomer"
    )
    assert changed.status == "role changed from adjudicator" and changed.role_made is False
    # the same login may be someone in another project
    admin.add_member(team.admin, "evaltui", "q", "ana@example.com", "viewer", "newcomer")
    with pytest.raises(TeamError, match=r"already the reviewer 'ana@example\.com'"):
        admin.add_member(team.admin, "evaltui", "p", "someone-else", "reviewer", "newcomer")
    with pytest.raises(TeamError, match=r"'ana@example\.com' is already the login 'newcomer''s"):
        admin.add_member(team.admin, "evaltui", "p", "ana@example.com", "reviewer", "ana2")
    with pytest.raises(TeamError, match="no project 'nope'"):
        admin.add_member(team.admin, "evaltui", "nope", "bo", "reviewer")
    with pytest.raises(TeamError, match="superuser or bypasses row-level security"):
        admin.add_member(team.admin, "evaltui", "p", "postgres", "reviewer")
    with pytest.raises(TeamError, match="--role 'boss'"):
        admin.add_member(team.admin, "evaltui", "p", "bo", "boss")


def test_a_password_in_the_connection_string_is_refused_and_not_repeated():
    for url in ("postgresql://ana:s3cret@db.example/team", "host=db user=ana password=s3cret"):
        with pytest.raises(TeamError, match="holds a password") as err:
            check_url(url)
        assert "s3cret" not in str(err.value)
    check_url("postgresql://ana@db.example/team?sslmode=verify-full")
    check_url("")  # libpq's environment


def test_the_cli_sets_up_a_team_and_says_how_to_give_a_password(team: Team):
    runner = CliRunner()
    url = team.dsn(ADMIN)
    out = runner.invoke(cli, ["team", "init", url, "--project", "rel-7", "--blind"])
    assert out.exit_code == 0, out.output
    assert (
        "schema evaltui created" in out.output
        and "project rel-7: added (blind review)" in out.output
    )
    again = runner.invoke(cli, ["team", "init", url, "--project", "rel-7"])
    assert again.exit_code == 0 and "schema evaltui re-asserted" in again.output
    assert "project rel-7: already there" in again.output
    add = runner.invoke(cli, ["team", "add-member", "cli_ana", "--role", "reviewer",
                              "--project", "rel-7", "--url", url])  # fmt: skip
    assert add.exit_code == 0, add.output
    assert "cli_ana (cli_ana) in project rel-7 as reviewer: added" in add.output
    assert "\\password cli_ana" in add.output
    assert team.su.execute("SELECT blind FROM evaltui.projects").fetchone()[0] is True
    # errors are one line and an exit code, never a traceback
    bad = runner.invoke(cli, ["team", "init", "postgresql://x:pw@localhost/db"])
    assert bad.exit_code == 3 and bad.output.startswith("Error: the connection string holds")
    refused = runner.invoke(cli, ["team", "add-member", "x", "--role", "reviewer", "--project",
                                  "nope", "--url", url])  # fmt: skip
    assert refused.exit_code == 3 and "no project 'nope'" in refused.output
    stranger = runner.invoke(cli, ["team", "init", team.dsn("cli_ana")])
    assert stranger.exit_code == 3
    assert stranger.output.startswith("Error: the team store refused:"), stranger.output


def test_connect_says_what_failed(tmp_path):
    with pytest.raises(TeamError, match="could not connect to the team store"):
        connect(f"host={tmp_path} dbname=none connect_timeout=5")


def test_a_projects_blind_mode_and_its_taxonomy_and_policy_hashes(team: Team):
    team.init("p")
    ana = team.member("ana")
    got = admin.set_project(team.admin, "evaltui", "p", blind=True, taxonomy_sha256="1" * 64)
    assert got == {
        "project": "p",
        "blind": True,
        "taxonomy_sha256": "1" * 64,
        "policy_sha256": None,
    }
    got = admin.set_project(team.admin, "evaltui", "p", policy_sha256="2" * 64)
    assert (got["blind"], got["taxonomy_sha256"], got["policy_sha256"]) == (
        True,
        "1" * 64,
        "2" * 64,
    )
    row = ana.conn.execute("SELECT blind, taxonomy_sha256, policy_sha256 FROM evaltui.projects")
    assert row.fetchall() == [(True, "1" * 64, "2" * 64)]  # members read them
    with pytest.raises(TeamError, match="not a sha256"):
        admin.set_project(team.admin, "evaltui", "p", policy_sha256="ABC")
    with pytest.raises(TeamError, match="no project 'q'"):
        admin.set_project(team.admin, "evaltui", "q", blind=False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # a member changes nothing
        ana.conn.execute("UPDATE evaltui.projects SET blind = false")
