"""Retire, quarantine, restore and the stale-case rules."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.errors import InputError, NotFoundError
from evaltui.review import lifecycle

from .helpers import write_jsonl


def run_file(
    tmp_path, name, verdicts, inputs=None, attrs=None, created="2026-11-01T00:00:00+00:00"
):
    rows = [
        {"suite": "s", "case_key": k, "verdict": v, "input": (inputs or {}).get(k, f"question {k}"),
         "output": f"{name} {k}", "attributes": (attrs or {}).get(k, {})}
        for k, v in verdicts.items()
    ]  # fmt: skip
    return write_jsonl(
        tmp_path / f"{name}.jsonl", rows, header={"name": name, "created_at": created}
    )


def ids(store, *keys):
    return [
        store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (k,)).fetchone()[0]
        for k in keys
    ]


@pytest.fixture
def three_runs(store, tmp_path):
    """always-pass, always-fail, flips, new (in one run only), dup-a / dup-b (same input)."""
    inputs = {"dup-a": "Where is my invoice?", "dup-b": "  where IS my invoice ?? "}
    attrs = {"old-policy": {"policy_version": "v1"}, "always-pass": {"policy_version": "v3"}}
    base = {"always-pass": "pass", "always-fail": "fail", "flips": "pass", "dup-a": "pass",
            "dup-b": "fail", "old-policy": "pass"}  # fmt: skip
    for n, (name, created) in enumerate([("r1", "2025-06-01T00:00:00+00:00"), ("r2", "2026-11-01T00:00:00+00:00"),
                                         ("r3", "2026-11-20T00:00:00+00:00")]):  # fmt: skip
        verdicts = dict(base, flips="pass" if n != 1 else "fail")
        if n == 2:
            verdicts["new"] = "pass"
        service.import_path(store, run_file(tmp_path, name, verdicts, inputs, attrs, created))
    return store


def rules(found):
    return {(s.rule, s.case_key) for s in found}


def test_run_rules_need_n_runs_and_an_unchanging_outcome(three_runs):
    found = lifecycle.stale(three_runs, runs=3)
    got = rules(found)
    assert ("never_changes_decision", "always-pass") in got
    assert ("always_fails", "always-fail") in got
    assert not any(k in ("flips", "new") for _, k in got)  # changed once; too few runs
    by_key = {s.case_key: s for s in found if s.rule != "duplicate"}
    assert (
        by_key["always-pass"].preselect and not by_key["always-fail"].preselect
    )  # report, not retire
    assert "r1, r2, r3" in by_key["always-pass"].evidence
    assert ("never_changes_decision", "always-pass") in rules(lifecycle.stale(three_runs, runs=2))
    with pytest.raises(InputError):
        lifecycle.stale(three_runs, runs=1)


def test_duplicates_by_normalised_input(three_runs):
    dups = [s for s in lifecycle.stale(three_runs) if s.rule == "duplicate"]
    assert [(s.case_key, s.details["duplicate_of"]) for s in dups] == [("dup-b", "dup-a")]


def test_markers_attribute_and_created_before(three_runs, tmp_path):
    path = tmp_path / "markers.toml"
    path.write_text(
        '[[marker]]\nattribute = "policy_version"\nvalues = ["v1", "v2"]\nreason = "obsolete_policy"\n'
        'why = "policy v3 since October"\n\n'
        '[[marker]]\ncreated_before = 2026-01-01\nreason = "old_product_behaviour"\n'
    )
    markers = lifecycle.parse_markers(path)
    found = [s for s in lifecycle.stale(three_runs, markers=markers) if s.rule == "marker"]
    attr = [s for s in found if "policy_version" in s.evidence]
    assert [(s.case_key, s.reason) for s in attr] == [("old-policy", "obsolete_policy")]
    assert "policy v3 since October" in attr[0].evidence
    old = {s.case_key for s in found if "first seen in r1" in s.evidence}
    assert old == {
        "always-pass",
        "always-fail",
        "flips",
        "dup-a",
        "dup-b",
        "old-policy",
    }  # not "new"
    path.write_text('[[marker]]\nattribute = "x"\n')
    with pytest.raises(InputError) as info:
        lifecycle.parse_markers(path)
    assert (info.value.location, info.value.field) == ("marker 1", "values")


def test_retire_restore_quarantine_are_recorded_and_reversible(three_runs):
    s = three_runs
    a, b = ids(s, "always-pass", "flips")
    assert lifecycle.retire(s, [a, b], "never_changes_decision", "always green") == 2
    rows = {r.case_key: r for r in lifecycle.list_cases(s, status="retired")}
    assert set(rows) == {"always-pass", "flips"}
    assert rows["flips"].reason == "never_changes_decision" and rows["flips"].by == "tester"
    assert lifecycle.quarantine(s, [b], "awaiting policy call") == 1
    assert lifecycle.restore(s, [a]) == 1
    assert lifecycle.status_counts(s) == {"active": 6, "quarantined": 1, "retired": 0}
    events = [e for e in s.events() if e.action.startswith("case.")]
    assert [e.action for e in events] == [
        "case.retire",
        "case.retire",
        "case.quarantine",
        "case.restore",
    ]
    assert events[2].before["status"] == "retired" and events[2].after["status"] == "quarantined"


def test_bulk_retire_is_one_transaction(three_runs):
    s = three_runs
    before = s.dump()
    (a,) = ids(s, "always-pass")
    with pytest.raises(NotFoundError):
        lifecycle.retire(s, [a, 99999], "bad_case")
    assert s.dump() == before


def test_cases_are_never_deleted(three_runs):
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        three_runs.conn.execute("DELETE FROM cases")


def test_reimport_keeps_a_retired_case_retired(three_runs, tmp_path):
    (a,) = ids(three_runs, "always-pass")
    lifecycle.retire(three_runs, [a], "obsolete_policy")
    service.import_path(three_runs, tmp_path / "r3.jsonl", force=True)
    assert lifecycle.list_cases(three_runs, status="retired")[0].case_key == "always-pass"


def test_figures_with_and_without_retired_cases(three_runs, db_path):
    r2, r3 = 2, 3
    with Comparison(db_path, r2, r3) as cmp:
        before = cmp.segments()[0]
        (flips,) = ids(three_runs, "flips")
        preview = cmp.segments(without=[flips])[0]
    lifecycle.retire(three_runs, [flips], "bad_case")
    with Comparison(db_path, r2, r3) as cmp:
        after = cmp.segments()[0]
        assert cmp.status_counts()["retired"] == 1
    with Comparison(db_path, r2, r3, statuses=frozenset({"active", "retired"})) as cmp:
        shown = cmp.segments()[0]
    assert (before.n, before.improved) == (6, 1) and (after.n, after.improved) == (5, 0)
    assert (preview.n, preview.improved) == (after.n, after.improved)  # the preview was right
    assert shown.n == before.n  # the toggle brings them back


def test_cli_twins(three_runs, db_path, tmp_path):
    run = CliRunner()
    base = ["--db", str(db_path)]
    r = run.invoke(
        cli,
        [*base, "retire", "always-pass", "s/flips", "--reason", "obsolete_policy", "--note", "v3"],
    )
    assert r.exit_code == 0 and "retired 2 case(s)" in r.output
    r = run.invoke(cli, [*base, "cases", "--status", "retired", "--json"])
    assert [(c["case_key"], c["note"]) for c in json.loads(r.output)] == [
        ("always-pass", "v3"),
        ("flips", "v3"),
    ]
    r = run.invoke(cli, [*base, "quarantine", "flips", "--note", "ask policy"])
    assert "quarantined 1" in r.output
    r = run.invoke(cli, [*base, "restore", "always-pass", "flips"])
    assert "restored 2" in r.output
    r = run.invoke(cli, [*base, "stale", "--json"])
    assert {(x["rule"], x["case_key"]) for x in json.loads(r.output)} >= {("duplicate", "dup-b")}
    r = run.invoke(cli, [*base, "retire", "nope", "--reason", "bad_case"])
    assert r.exit_code == 4
    r = run.invoke(cli, [*base, "retire", "flips", "--reason", "boring"])
    assert r.exit_code == 2
    r = run.invoke(cli, [*base, "log", "--json"])
    actions = [e["action"] for e in json.loads(r.output)]
    assert actions.count("case.retire") == 2 and actions.count("case.restore") == 2


def test_retired_since_is_typed_oldest_first_and_the_cases_json_keeps_its_keys(three_runs, db_path):
    s = three_runs
    a, b = ids(s, "always-pass", "flips")
    assert lifecycle.retired_since(s, None) == []
    lifecycle.retire(s, [b], "bad_case", "wrong")
    (first,) = lifecycle.retired_since(s, None)
    lifecycle.retire(s, [a], "duplicate")
    later = lifecycle.retired_since(s, first.at)
    assert [(c.case_key, c.reason, c.by, c.note) for c in later] == [
        ("always-pass", "duplicate", "tester", None)
    ]
    assert [c.case_key for c in lifecycle.retired_since(s, None)] == ["flips", "always-pass"]
    assert list(first.as_dict()) == ["suite", "case_key", "reason", "by", "at", "note"]
    out = CliRunner().invoke(cli, ["--db", str(db_path), "cases", "--status", "retired", "--json"])
    rows = json.loads(out.output)
    assert [list(r) for r in rows] == [
        ["id", "suite", "case_key", "status", "reason", "note", "by", "at", "attributes"]
    ] * 2
    assert rows[0]["attributes"] == {"policy_version": "v3"} and rows[1]["note"] == "wrong"
