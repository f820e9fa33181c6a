"""Findings, undo, disagreements, files, agreement, taxonomy and the CLI twins."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui import service, stats
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.review import findings_files, taxonomy, triage
from evaltui.store import Store


@pytest.fixture
def cmp_ids(demo_store):
    sel = service.get_selection(demo_store)
    return sel["baseline"], sel["candidate"]


def case_id(store, key):
    return store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]


TAX = taxonomy.default_taxonomy()


def test_label_sets_class_owner_and_keeps_other_fields(demo_store, cmp_ids):
    b, c = cmp_ids
    cid = case_id(demo_store, "refunds-004")
    f1 = triage.label(demo_store, b, c, cid, failure_class=TAX.get("unsafe_tool_action"))
    assert (f1.class_key, f1.owner, f1.verdict, f1.reviewer) == (
        "unsafe_tool_action",
        "safety",
        None,
        "tester",
    )
    f2 = triage.label(
        demo_store, b, c, cid, verdict="real_regression", note="changed the card in chat"
    )
    assert (f2.class_key, f2.owner, f2.verdict, f2.note) == (
        "unsafe_tool_action", "safety", "real_regression", "changed the card in chat",
    )  # fmt: skip
    f3 = triage.label(demo_store, b, c, cid, owner="payments")
    assert f3.owner == "payments" and f3.class_key == "unsafe_tool_action"
    row = demo_store.conn.execute(
        "SELECT state, class, owner, verdict FROM case_triage WHERE case_id = ?", (cid,)
    ).fetchone()
    assert row == ("triaged", "unsafe_tool_action", "payments", "real_regression")
    events = [e for e in demo_store.events() if e.action.startswith("finding.")]
    assert [e.action for e in events] == ["finding.label"] * 3
    assert events[0].before is None and events[0].after["class"] == "unsafe_tool_action"
    assert events[2].before["owner"] == "safety" and events[2].after["owner"] == "payments"
    assert events[0].entity_id == f"{b}:{c}:{cid}"


def test_findings_are_append_only(demo_store, cmp_ids):
    import sqlite3

    b, c = cmp_ids
    triage.label(demo_store, b, c, case_id(demo_store, "refunds-004"), verdict="flaky")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        demo_store.conn.execute("UPDATE findings SET verdict = 'accepted'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        demo_store.conn.execute("DELETE FROM findings")


def test_undo_restores_the_previous_state_and_is_recorded(demo_store, cmp_ids):
    b, c = cmp_ids
    a, d = case_id(demo_store, "refunds-004"), case_id(demo_store, "refunds-002")
    triage.label(demo_store, b, c, a, failure_class=TAX.get("wrong_source"))
    triage.label(demo_store, b, c, a, failure_class=TAX.get("missing_source"))
    triage.label(demo_store, b, c, d, verdict="flaky")
    u1 = triage.undo(demo_store, b, c)  # undoes the verdict on refunds-002
    assert u1.case_id == d and u1.empty
    assert (
        demo_store.conn.execute("SELECT 1 FROM case_triage WHERE case_id = ?", (d,)).fetchone()
        is None
    )
    u2 = triage.undo(demo_store, b, c)  # then missing_source -> wrong_source on refunds-004
    assert (u2.case_id, u2.class_key) == (a, "wrong_source")
    u3 = triage.undo(demo_store, b, c)
    assert u3.case_id == a and u3.empty
    assert triage.undo(demo_store, b, c) is None
    kinds = [f.kind for f in triage.history(demo_store, b, c, a)]
    assert kinds == ["label", "label", "undo", "undo"]
    assert [e.action for e in demo_store.events()][-3:] == ["finding.undo"] * 3


def test_disagreement_until_adjudicated(demo_store, cmp_ids):
    b, c = cmp_ids
    cid = case_id(demo_store, "refunds-004")
    triage.label(demo_store, b, c, cid, failure_class=TAX.get("unsafe_tool_action"), reviewer="ana")
    triage.label(demo_store, b, c, cid, failure_class=TAX.get("unsafe_tool_action"), reviewer="bo")
    assert triage.effective(triage.history(demo_store, b, c, cid)).state == "triaged"
    triage.label(demo_store, b, c, cid, verdict="grader_wrong", reviewer="bo")
    assert triage.effective(triage.history(demo_store, b, c, cid)).state == "disagreement"
    assert [r.case_key for r in triage.list_findings(demo_store, disagreements=True)] == [
        "refunds-004"
    ]
    triage.label(demo_store, b, c, cid, failure_class=TAX.get("unsafe_tool_action"),
                 verdict="real_regression", adjudicate=True, reviewer="lead")  # fmt: skip
    eff = triage.effective(triage.history(demo_store, b, c, cid))
    assert (eff.state, eff.verdict) == ("adjudicated", "real_regression")
    assert triage.list_findings(demo_store, disagreements=True) == []


def test_export_import_round_trip_and_merge_conflicts(demo_store, cmp_ids, tmp_path):
    b, c = cmp_ids
    a, d = case_id(demo_store, "refunds-004"), case_id(demo_store, "refunds-002")
    triage.label(demo_store, b, c, a, failure_class=TAX.get("unsafe_tool_action"), reviewer="ana")
    triage.label(
        demo_store, b, c, d, failure_class=TAX.get("refusal_failure"), note="x", reviewer="ana"
    )
    ana = tmp_path / "ana.jsonl"
    assert findings_files.export(demo_store, ana) == 2
    lines = ana.read_text().splitlines()
    assert [json.loads(x)["case_key"] for x in lines] == [
        "refunds-002",
        "refunds-004",
    ]  # stable order
    assert findings_files.export(demo_store, tmp_path / "again.jsonl") == 2
    assert (tmp_path / "again.jsonl").read_text() == ana.read_text()  # byte-identical

    # Bo works in another store with the same runs, disagrees on one case.
    bo_db = tmp_path / "bo.db"
    with Store(bo_db) as bo:
        service.load_demo(bo)
        bsel = service.get_selection(bo)
        triage.label(bo, bsel["baseline"], bsel["candidate"], case_id(bo, "refunds-004"),
                     failure_class=TAX.get("wrong_source"), reviewer="bo")  # fmt: skip
        out = findings_files.import_file(bo, ana)
        assert out.model_dump(include={"added", "skipped", "cases", "disagreements", "signer"}) == {
            "added": 2, "skipped": 0, "cases": 2, "disagreements": 0, "signer": None}  # fmt: skip
        assert findings_files.import_file(bo, ana).skipped == 2  # merging twice changes nothing
        # ana's file is unsigned: shown as "ana (unverified)", never deciding a state
        states = {r.case_key: (r.state, r.unverified) for r in triage.list_findings(bo)}
        assert states == {"refunds-004": ("triaged", ["ana (unverified)"]),
                          "refunds-002": ("unverified", ["ana (unverified)"])}  # fmt: skip
        bo_file = tmp_path / "bo.jsonl"
        findings_files.export(bo, bo_file)
    out = findings_files.import_file(demo_store, bo_file)
    assert out.added == 1 and out.disagreements == 0
    pairs = triage.agreement(demo_store)
    # bo's findings came from an unsigned file: they are shown as unverified, never as bo's word
    assert [p.model_dump() for p in pairs] == [
        {"reviewers": ["ana", "bo (unverified)"], "cases": 1, "class_agreement": 0.0,
         "class_kappa": 0.0, "verdict_agreement": 1.0, "verdict_kappa": 1.0}]  # fmt: skip


def test_import_errors_name_line_and_field_and_change_nothing(demo_store, cmp_ids, tmp_path):
    b, c = cmp_ids
    triage.label(demo_store, b, c, case_id(demo_store, "refunds-004"), verdict="flaky")
    good = tmp_path / "good.jsonl"
    findings_files.export(demo_store, good)
    line = json.loads(good.read_text())
    before = demo_store.dump()
    for mutate, loc, field in [
        (lambda o: o.update(verdict="maybe"), "line 2", "verdict"),
        (
            lambda o: o.update(uid="x" * 20, candidate={"name": "nope", "sha256": "0" * 64}),
            "line 2",
            "candidate",
        ),
        (lambda o: o.update(uid="y" * 20, case_key="no-such-case"), "line 2", "case_key"),
        (lambda o: o.update(colour="red"), "line 2", "colour"),
    ]:
        other = dict(line, uid="z" * 20)
        mutate(other)
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(dict(line, uid="w" * 20)) + "\n" + json.dumps(other) + "\n")
        with pytest.raises(InputError) as info:
            findings_files.import_file(demo_store, bad)
        assert (info.value.location, info.value.field) == (loc, field)
        assert demo_store.dump() == before


def test_cohen_kappa_hand_computed():
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po 0.7, pe 0.5, kappa 0.4
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert stats.cohen_kappa(pairs) == pytest.approx(0.4)
    assert stats.cohen_kappa([("a", "a")] * 3) == 1.0
    assert stats.cohen_kappa([]) is None


# -- taxonomy ---------------------------------------------------------------------------------


def test_default_taxonomy_has_the_twelve_classes():
    keys = [c.key for c in TAX.active]
    assert len(keys) == 12 and keys[0] == "unsupported_claim" and "scope_mismatch" in keys
    assert all(c.owner and c.description for c in TAX.classes)
    assert (
        TAX.resolve("6").key == "unsafe_tool_action"
        and TAX.resolve("Over-refusal").key == "over_refusal"
    )


def test_taxonomy_toml_round_trip_and_errors(tmp_path, demo_store, cmp_ids):
    path = tmp_path / "t.toml"
    path.write_text(taxonomy.to_toml(TAX))
    assert [c.key for c in taxonomy.parse_toml(path).classes] == [c.key for c in TAX.classes]
    for text, loc, field in [
        ('[[class]]\nkey = "a"\nname = "A"\nowner = 3\n', "class 1 (line 1)", "owner"),
        (
            '[[class]]\nkey = "a"\nname = "A"\n\n[[class]]\nkey = "a"\nname = "B"\n',
            "class 2 (line 5)",
            "key",
        ),
        ('[[class]]\nkey = "Bad Key"\nname = "A"\n', "class 1 (line 1)", "key"),
        ('[[class]]\nkey = "a"\nname = "A"\ncolour = "red"\n', "class 1 (line 1)", "colour"),
        ('[[class]\nkey = "a"\n', "line 1", None),
    ]:
        path.write_text(text)
        with pytest.raises(InputError) as info:
            taxonomy.parse_toml(path)
        assert (info.value.location, info.value.field) == (loc, field), info.value.message
    # editing: rename a class and retire another; old findings keep their class
    b, c = cmp_ids
    triage.label(
        demo_store, b, c, case_id(demo_store, "refunds-004"), failure_class=TAX.get("over_refusal")
    )
    edited = taxonomy.default_taxonomy()
    edited.by_key["over_refusal"].retired = True
    edited.by_key["wrong_source"].name = "Wrong document"
    changes = taxonomy.save(demo_store, edited)
    assert changes["changed"] == ["over_refusal", "wrong_source"]
    loaded = taxonomy.load(demo_store)
    assert (
        "over_refusal" not in [x.key for x in loaded.active]
        and loaded.get("wrong_source").name == "Wrong document"
    )
    assert triage.list_findings(demo_store)[0].class_key == "over_refusal"
    assert demo_store.events()[-1].entity_id == "taxonomy"


# -- CLI twins --------------------------------------------------------------------------------


def test_cli_twins(demo_store, db_path, tmp_path):
    run = CliRunner()
    base = ["--db", str(db_path)]
    r = run.invoke(cli, [*base, "label", "prod-2026-11-02", "cand-2026-11-20", "refunds-004",
                         "--class", "unsafe_tool_action", "--verdict", "real_regression", "--note", "card"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "class=unsafe_tool_action owner=safety verdict=real_regression (triaged)" in r.output
    r = run.invoke(cli, [*base, "--reviewer", "bo", "label", "1", "2", "support-assistant/refunds-004",
                         "--class", "2"])  # fmt: skip
    assert r.exit_code == 0 and "(disagreement)" in r.output
    r = run.invoke(cli, [*base, "findings", "list", "--json", "--disagreements"])
    rows = json.loads(r.output)
    assert [(x["case_key"], x["reviewers"]) for x in rows] == [("refunds-004", ["bo", "tester"])]
    r = run.invoke(cli, [*base, "findings", "list", "--owner", "retrieval", "--json"])
    assert [x["class"] for x in json.loads(r.output)] == ["wrong_source"]
    r = run.invoke(cli, [*base, "findings", "agreement", "--json"])
    assert json.loads(r.output)[0]["reviewers"] == ["bo", "tester"]
    out = tmp_path / "f.jsonl"
    r = run.invoke(cli, [*base, "findings", "export", str(out)])
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 2
    r = run.invoke(cli, [*base, "findings", "import", str(out)])
    assert "merged 0 findings (2 already here)" in r.output
    r = run.invoke(cli, [*base, "--reviewer", "bo", "findings", "undo", "1", "2"])
    assert "undone on refunds-004" in r.output
    r = run.invoke(cli, [*base, "label", "1", "2", "nope", "--verdict", "flaky"])
    assert r.exit_code == 4 and "No case 'nope'" in r.output
    r = run.invoke(cli, [*base, "label", "1", "2", "refunds-004", "--class", "made_up"])
    assert r.exit_code == 2 and "unknown failure class" in r.output
    r = run.invoke(cli, [*base, "log", "--json"])
    actions = [e["action"] for e in json.loads(r.output)]
    assert (
        actions.count("finding.label") == 2
        and "finding.undo" in actions
        and "findings.import" in actions
    )
    r = run.invoke(cli, [*base, "taxonomy", "--json"])
    assert len(json.loads(r.output)) == 12
