"""`evaltui team join`, `evaltui team status` and `evaltui sync`, as a member types them."""

from __future__ import annotations

import json

from click.testing import CliRunner

from evaltui.cli import cli

from .conftest import Team
from .stores import import_runs, write_runs


def run(*args: str, db, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["--db", str(db), *args], env=env)


def test_join_sync_and_status_from_the_command_line(team: Team, tmp_path):
    team.init()
    team.member("ana")
    team.member("bo")
    runs = write_runs(tmp_path / "runs", 5)
    ana, bo = tmp_path / "ana.db", tmp_path / "bo.db"
    for db in (ana, bo):
        import_runs(db, runs)
    joined = run("team", "join", team.dsn("ana"), "--project", "p", db=ana,
                 env={"EVALTUI_REVIEWER": "ana"})  # fmt: skip
    assert joined.exit_code == 0, joined.output
    assert "joined: project p (schema evaltui) as ana (reviewer)" in joined.output
    assert "0 finding(s) of ana here will be shared" in joined.output
    again = run("team", "join", team.dsn("ana"), "--project", "p", db=ana,
                env={"EVALTUI_REVIEWER": "ana"})  # fmt: skip
    assert again.exit_code == 0 and again.output.startswith("already joined")
    # bo joins with findings written under his OS name: told how to share them
    hinted = run("team", "join", team.dsn("bo"), "--project", "p", db=bo,
                 env={"EVALTUI_REVIEWER": "tester"})  # fmt: skip
    assert hinted.exit_code == 0
    assert "findings here are written as 'tester'" in hinted.output
    assert "EVALTUI_REVIEWER=bo" in hinted.output

    labelled = run("label", "1", "2", "k0001", "--class", "format_violation", db=ana,
                   env={"EVALTUI_REVIEWER": "ana"})  # fmt: skip
    assert labelled.exit_code == 0, labelled.output
    status = json.loads(run("team", "status", "--json", db=ana).output)
    assert status["outbox"] == 1 and status["last_sync"] == {}
    assert status["server"]["members"] == [
        {"reviewer": "ana", "role": "reviewer"}, {"reviewer": "bo", "role": "reviewer"}
    ]  # fmt: skip
    synced = run("sync", "--json", db=ana)
    assert synced.exit_code == 0, synced.output
    out = json.loads(synced.output)
    assert (out["pushed"], out["pulled"], out["outbox"]) == (1, 0, 0)
    human = run("sync", db=bo)
    assert human.exit_code == 0, human.output
    assert "pulled 1: 1 folded, 0 waiting, 0 refused" in human.output
    assert "cases changed: 1" in human.output
    listed = json.loads(run("findings", "list", "--json", db=bo).output)
    assert [(r["case_key"], r["class"], r["reviewers"]) for r in listed] == [
        ("k0001", "format_violation", ["ana"])
    ]
    text = run("team", "status", db=bo).output
    assert "outbox: 0 finding(s) not yet shared" in text
    assert "last sync: " in text and "(pushed 0, pulled 1)" in text
    assert "members: ana (reviewer), bo (reviewer)" in text
    offline = run("team", "status", "--offline", "--json", db=bo)
    assert json.loads(offline.output)["server"] is None


def test_the_commands_refuse_in_one_line(team: Team, tmp_path):
    team.init()
    db = tmp_path / "s.db"
    import_runs(db, write_runs(tmp_path / "runs", 2))
    unjoined = run("sync", db=db)
    assert unjoined.exit_code == 3
    assert unjoined.output.strip() == (
        "Error: this store has not joined a team store: `evaltui team join URL --project P`"
    )
    stranger = run("team", "join", team.dsn("team_admin"), "--project", "p", db=db)
    assert stranger.exit_code == 3
    assert "'team_admin' is not a member of project 'p'" in stranger.output
    assert len(stranger.output.strip().splitlines()) == 1
    secret = run("team", "join", "postgresql://ana:hunter2@localhost/x", db=db)
    assert secret.exit_code == 3 and "hunter2" not in secret.output
    assert "holds a password" in secret.output
    assert run("team", "status", db=db).exit_code == 3
