"""Who acts: the CLI reads --reviewer (or $EVALTUI_REVIEWER) once and gives it to every store
it opens; nothing is written to the process environment."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.store import Store

from .conftest import DEMO, FIXTURES

POLICY = FIXTURES / "policies" / "support-assistant.toml"


def run(db, *args: str, code: int = 0):
    r = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert r.exit_code == code, r.output
    return r


def test_reviewer_on_the_command_line_acts_in_that_command_only(db_path):
    # the first import makes the store: built in a private file, then published
    run(db_path, "--reviewer", "bo", "import", str(DEMO / "production.jsonl"))
    run(db_path, "--reviewer", "bo", "import", str(DEMO / "candidate.jsonl"))
    run(db_path, "--reviewer", "bo", "label", "1", "2", "refunds-004", "--verdict", "flaky")
    assert os.environ["EVALTUI_REVIEWER"] == "tester"  # nothing leaks into the environment
    run(db_path, "label", "1", "2", "refunds-004", "--verdict", "real_regression")
    with Store(db_path) as store:
        events = store.events()
    assert [(e.action, e.actor) for e in events] == [
        ("import", "bo"), ("import", "bo"), ("finding.label", "bo"), ("finding.label", "tester"),
    ]  # fmt: skip
    (row,) = json.loads(run(db_path, "findings", "list", "--json").output)
    assert row["reviewers"] == ["bo", "tester"]


def test_the_environment_names_the_reviewer_else_the_os_user(db_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_REVIEWER", "ana")
    run(db_path, "import", str(DEMO / "production.jsonl"))
    monkeypatch.delenv("EVALTUI_REVIEWER")
    monkeypatch.setenv("LOGNAME", "os-login")  # getpass.getuser reads it first
    run(db_path, "import", str(DEMO / "candidate.jsonl"))
    actors = [e["actor"] for e in json.loads(run(db_path, "log", "--json").output)]
    assert actors == ["ana", "os-login"]


def test_the_reviewer_decides_and_is_recorded(demo_store, db_path, tmp_path):
    out = tmp_path / "d.json"
    args = ["gate", "1", "2", "--policy", str(POLICY), "--out", str(out)]
    run(db_path, "--reviewer", "lead", *args, code=12)
    assert json.loads(out.read_text())["provenance"]["decided_by"] == "lead"
    (row,) = gate.list_decisions(demo_store)
    assert row.decided_by == "lead"
    assert demo_store.events()[-1].actor == "lead"
    # verify recomputes as the record's reviewer, whoever runs it
    assert "unchanged" in run(db_path, "--reviewer", "someone-else", "verify", str(out)).output


def test_the_app_is_given_the_reviewer(demo_store, db_path, monkeypatch):
    from evaltui.tui.app import EvaltuiApp

    seen: list[str] = []
    monkeypatch.setattr(EvaltuiApp, "run", lambda self, *a, **k: seen.append(self.reviewer))
    run(db_path, "--reviewer", "zoe")
    run(db_path)
    assert seen == ["zoe", "tester"]


@pytest.mark.parametrize("given", ["", "--reviewer="])
def test_an_empty_reviewer_is_the_os_user(db_path, monkeypatch, given):
    monkeypatch.setenv("EVALTUI_REVIEWER", "")
    monkeypatch.setenv("LOGNAME", "os-login")
    run(db_path, *([given] if given else []), "import", str(DEMO / "production.jsonl"))
    with Store(db_path) as store:
        assert store.events()[-1].actor == "os-login"
