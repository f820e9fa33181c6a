"""README "Working as a team": its commands run as written (the example host replaced by
the suite's own PostgreSQL) and say what the README says; the team line it quotes is
the one the app draws."""

from __future__ import annotations

import re
import shlex

import psycopg
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.team.live import LinkState

from ..conftest import ROOT
from .stores import import_runs, write_runs


def section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("## Working as a team", 1)[1].split("\n## ", 1)[0]


def test_the_readmes_team_commands_run_as_written(pg_server, tmp_path, monkeypatch):
    with psycopg.connect(pg_server.dsn(), autocommit=True) as su:
        su.execute("DROP ROLE IF EXISTS ana")  # an earlier test's: the README makes a new one
        su.execute("CREATE ROLE evaltui_admin LOGIN CREATEROLE")
        su.execute("CREATE DATABASE triage OWNER evaltui_admin")
    try:
        block = section().split("```sh", 1)[1].split("```", 1)[0]
        commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
        commands = [c for c in commands if c]
        assert [c.split()[:3] for c in commands] == [
            ["evaltui", "team", "init"], ["evaltui", "team", "add-member"],
            ["evaltui", "team", "join"], ["evaltui", "sync"], ["evaltui", "team", "status"],
        ]  # fmt: skip
        here = f"/triage?host={pg_server.root}&port={pg_server.port}&sslmode=disable"
        db = tmp_path / "ana.db"
        import_runs(db, write_runs(tmp_path / "runs", 3))
        monkeypatch.setenv("EVALTUI_DB", str(db))
        monkeypatch.setenv("EVALTUI_REVIEWER", "ana")
        outputs = []
        for command in commands:
            args = shlex.split(command.replace("@db.example.com/triage", "@" + here))[1:]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, (command, result.output)
            outputs.append(result.output)
        assert "project rel-7: added" in outputs[0]
        assert "ana (ana) in project rel-7 as reviewer: added" in outputs[1]
        assert "has no password yet" in outputs[1]
        assert outputs[2].startswith("joined: project rel-7 (schema evaltui) as ana (reviewer)")
        assert outputs[3].startswith("pushed 0 event(s)")
        assert "outbox: 0 finding(s) not yet shared" in outputs[4]
        assert "members: ana (reviewer)" in outputs[4]
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as su:
            su.execute("DROP DATABASE triage WITH (FORCE)")
            for group in ("reviewer", "adjudicator", "release_owner", "viewer"):
                su.execute(f"DROP ROLE IF EXISTS evaltui_{group}")
            su.execute("DROP ROLE IF EXISTS ana")
            su.execute("DROP ROLE evaltui_admin")


def test_the_team_line_the_readme_quotes_is_the_apps():
    quoted = re.search(r"`(team rel-7 · [^`]*)`", section())
    assert quoted is not None
    line = LinkState("rel-7", "connected", 0, None, 1, "bo labelled refunds-004 at 14:02:11 UTC")
    assert line.text() == quoted.group(1)
    # "within 2 seconds" is what the tmux test of two apps asserts
    tmux = (ROOT / "tests" / "team" / "test_tmux_team.py").read_text()
    assert "within 2 seconds" in section() and "assert shown < 2.0" in tmux
