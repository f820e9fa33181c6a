"""Every command through click's CliRunner."""

import json

import click
import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from tests.conftest import DEMO
from tests.helpers import line, write_jsonl

RUNS_JSON_KEYS = {
    "id", "name", "role", "system", "format", "source_path", "sha256", "created_at", "imported_at",
    "suites", "cases", "results", "passed", "failed", "errored", "limit", "unscored", "pass_rate",
    "criteria", "otlp",
}  # fmt: skip


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_import_then_runs_json_is_stable():
    out = run("import", str(DEMO / "production.jsonl"), str(DEMO / "candidate.jsonl")).output
    assert "imported" in out and "as run 1 (prod-2026-11-02): 576 results" in out
    rows = json.loads(run("runs", "--json").output)
    assert [r["name"] for r in rows] == ["prod-2026-11-02", "cand-2026-11-20"]
    assert set(rows[0]) == RUNS_JSON_KEYS
    assert rows[0]["role"] == "production"
    assert rows[0]["results"] == rows[0]["passed"] + rows[0]["failed"] + rows[0]["errored"]
    assert rows[0]["pass_rate"] == pytest.approx(rows[0]["passed"] / rows[0]["results"])
    assert set(rows[0]["criteria"]) == {"correctness", "format", "grounded", "policy"}
    assert len(rows[0]["sha256"]) == 64


def test_runs_table_shows_figures():
    run("import", str(DEMO / "production.jsonl"))
    out = run("runs").output
    assert "prod-2026-11-02" in out and "production" in out and "73.1%" in out


def test_reimport_is_skipped_and_force_imports(db_path):
    run("import", str(DEMO / "production.jsonl"))
    assert "skipped" in run("import", str(DEMO / "production.jsonl")).output
    assert "as run 2" in run("import", "--force", str(DEMO / "production.jsonl")).output


def test_bad_file_exits_nonzero_without_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(line("a")) + "\n" + '{"case_key": "b", "verdict": "meh"}\n')
    result = CliRunner().invoke(cli, ["import", str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}, line 2: field 'verdict'" in result.output
    # nothing was written: not even an empty store is left behind
    assert run("runs", "--json", code=3).output.startswith("Error: no store at")


def test_name_and_role_options(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [line("a"), line("b", "fail")])
    run("import", str(path), "--name", "cand-7", "--role", "candidate", "--system", "gpt-x")
    (row,) = json.loads(run("runs", "--json").output)
    assert (row["name"], row["role"], row["system"], row["passed"], row["failed"]) == (
        "cand-7",
        "candidate",
        "gpt-x",
        1,
        1,
    )


def test_db_option_and_env_choose_the_store(tmp_path, db_path):
    other = tmp_path / "other.db"
    run("--db", str(other), "import", str(DEMO / "fallback.jsonl"))
    assert other.exists()
    assert not db_path.exists()  # the $EVALTUI_DB store is untouched (not even created)
    r = run("runs", "--json", code=3)  # a command that only reads never creates a store
    assert r.output.startswith(f"Error: no store at {db_path}; `evaltui import` creates one")
    assert len(json.loads(run("--db", str(other), "runs", "--json").output)) == 1


def test_demo_no_open_loads_three_runs_once(db_path):
    run("--db", str(db_path), "demo", "--no-open")  # an explicit --db is honoured
    run("--db", str(db_path), "demo", "--no-open")
    rows = json.loads(run("runs", "--json").output)
    assert sorted(r["role"] for r in rows) == ["candidate", "fallback", "production"]


def test_log_lists_imports():
    run("import", str(DEMO / "production.jsonl"))
    (event,) = json.loads(run("log", "--json").output)
    assert (event["action"], event["entity"], event["actor"]) == ("import", "run", "tester")


def test_schema_native_is_json_schema():
    schema = json.loads(run("schema", "native").output)
    assert schema["line"]["required"] == ["case_key", "verdict"]
    assert "criteria" in schema["line"]["properties"]


def test_store_too_new_is_a_message_not_a_traceback(db_path):
    import sqlite3

    run("import", str(DEMO / "production.jsonl"))
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES ('evaltui', 'm999_future', 'x')"
        )
    result = CliRunner().invoke(cli, ["runs"])
    assert result.exit_code == 3
    assert "written by a newer evaltui" in result.output and "Traceback" not in result.output


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        yield prefix + name, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + name + " ")


def test_every_command_has_help():
    for name, cmd in _commands(cli):
        assert cmd.help and len(cmd.help) > 20, f"evaltui {name} has no help"
        out = run(*name.split(), "--help").output
        assert "Usage:" in out
