"""The label guide over the store (issue #29): reviewers' notes read through triage,
proposals offered and ratified into a versioned taxonomy, suggested labels confirmed as
findings, the `new_failure_modes` gate metric, and the CLI twins. Bad input is refused
in one line with exit 2 and the store unchanged; hostile note text stays inert."""

from __future__ import annotations

import ast
import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.review import taxonomy, triage
from evaltui.review.labelguide import notes, ratify, rulings
from evaltui.review.labelguide.demo import add_demo_notes
from evaltui.service.codebook import propose_in_store
from evaltui.store import Store, runs

from .test_gate import FIXED, policy_file, rule

BACKUP = ["account-access-009", "account-access-034", "account-access-039", "account-access-084"]
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069]")
HOSTILE = "\x1b[31mbackup codes\x1b]8;;http://evil.example\x07 manager [bold red]x[/] \u202eok"


@pytest.fixture
def noted(demo_store):
    """The demo's runs and its reviewers' notes (as `evaltui demo` writes them)."""
    assert add_demo_notes(demo_store) == 9
    return demo_store


def run(db: Path, *args: str, reviewer: str = "tester") -> tuple[int, str]:
    done = CliRunner().invoke(cli, ["--db", str(db), "--reviewer", reviewer, *args])
    return done.exit_code, done.output


def case(store: Store, key: str) -> int:
    found = runs.case_by_key(store, "support-assistant", key)
    assert found is not None
    return found


def findings(store: Store) -> list[tuple[str, str | None, str | None]]:
    return [(n.finding.uid, n.finding.class_key, n.finding.note)
            for n in triage.in_file_order(store)]  # fmt: skip


# -- notes ---------------------------------------------------------------------------------


def test_open_notes_are_current_verified_opinions_without_a_class(noted):
    read = notes.read(noted)
    assert len(read.sources) == 9 and all(n.class_key is None for n in read.notes)
    src = read.sources[next(iter(read.sources))]
    assert (src.baseline, src.candidate, src.suite) == (
        "prod-2026-11-02", "cand-2026-11-20", "support-assistant")  # fmt: skip
    # a reviewer who classifies their note codes it; a case whose state names a class codes
    # every note on it; a later note replaces the earlier one (the current opinion)
    b, c = (
        runs.run_by_name(noted, "prod-2026-11-02"),
        runs.run_by_name(noted, "cand-2026-11-20"),
    )
    triage.label(noted, b, c, case(noted, "refunds-061"), reviewer="ana",
                 failure_class=taxonomy.default_taxonomy().get("policy_ambiguity"))  # fmt: skip
    triage.label(noted, b, c, case(noted, "account-access-020"), reviewer="bo", note="blank reply")
    read = notes.read(noted)
    coded = {n.text: n.class_key for n in read.notes if n.class_key}
    assert coded == {
        "says 24 hours; the refund window for annual plans is 14 days": "policy_ambiguity"
    }
    texts = {n.text for n in read.notes}
    assert "blank reply" in texts and "empty answer, the devices page exists" not in texts
    assert len(read.sources) == 8  # one coded, one replaced by its author's newer note


def test_unverified_notes_are_not_read(noted, tmp_path, db_path):
    out = tmp_path / "f.jsonl"
    assert run(db_path, "findings", "export", str(out))[0] == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    for x in lines:
        x["uid"], x["reviewer"] = x["uid"][::-1], "mallory"
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert run(db_path, "findings", "import", str(out))[0] == 0
    assert {s.reviewer for s in notes.read(noted).sources.values()} == {"ana", "bo"}


# -- proposals -----------------------------------------------------------------------------


def test_the_demo_proposes_one_new_class_only_the_candidate_has(noted):
    found = propose_in_store(noted, base=1, cand=2)
    (offer,) = found.offered
    p = offer.proposal
    assert (p.key, p.size, p.new, offer.candidate_only) == ("backup_codes_manager", 5, True, True)
    assert [c.split("/")[1] for c in p.cases] == BACKUP
    assert len(found.result.unclustered) == 4 and found.taxonomy_version == 1
    everywhere = propose_in_store(noted)
    assert [o.id for o in everywhere.offered] == [offer.id]
    assert everywhere.offered[0].candidate_only is None  # no comparison: not said


def test_proposals_are_the_same_every_time_byte_for_byte(noted, db_path):
    first = run(db_path, "codebook", "propose", "1", "2", "--json")
    second = run(db_path, "codebook", "propose", "1", "2", "--json")
    assert first == second and first[0] == 0
    body = json.loads(first[1])
    assert body["taxonomy"]["version"] == 1 and body["proposals"][0]["candidate_only"] is True
    assert body["settings"]["seed"] == 0 and body["notes"] == 9
    again = propose_in_store(noted, base=1, cand=2, seed=7)
    assert [o.proposal.note_ids for o in again.offered] == [
        tuple(body["proposals"][0]["note_ids"])
    ]  # every note fits one sample: the seed chooses nothing


def test_hostile_note_text_is_inert_in_the_table_and_the_json(noted, db_path):
    b, c = (
        runs.run_by_name(noted, "prod-2026-11-02"),
        runs.run_by_name(noted, "cand-2026-11-20"),
    )
    for key in ("account-access-054", "account-access-064"):
        triage.label(noted, b, c, case(noted, key), note=HOSTILE, reviewer="eve")
    code, out = run(db_path, "codebook", "propose", "1", "2")
    assert code == 0 and not UNSAFE.search(out) and "\x1b" not in out
    code, out = run(db_path, "codebook", "propose", "--json")
    assert code == 0 and not UNSAFE.search(out)
    body = json.loads(out)
    reps = [r["text"] for p in body["proposals"] for r in p["representatives"]]
    assert any("backup codes" in t for t in reps) and not any(UNSAFE.search(t) for t in reps)
    terms = [t for p in body["proposals"] for t in p["terms"]]
    assert all(re.fullmatch(r"[\w ]+", t) for t in terms)


# -- ratify --------------------------------------------------------------------------------


def test_accepting_makes_a_version_and_changes_no_finding(noted, db_path):
    before = findings(noted)
    code, out = run(db_path, "codebook", "ratify", "backup_codes_manager", "1", "2",
                    "--owner", "safety", "--why", "four cases, candidate only",
                    "--description", "Gives account secrets to someone who claims authority.")  # fmt: skip
    assert code == 0, out
    assert "taxonomy version 2; no finding changed: 4 suggested labels" in out
    assert findings(noted) == before
    (v1, v2) = taxonomy.versions(noted)
    assert (v1.version, v1.reason) == (1, "in force before the first change (the built-in classes)")
    assert (v2.version, v2.actor, v2.reason) == (2, "tester", "four cases, candidate only")
    new = taxonomy.load(noted).get("backup_codes_manager")
    assert (new.owner, new.name) == ("safety", "Backup codes manager")
    assert len(new.examples) == 3 and all(e.startswith("support-assistant/") for e in new.examples)
    assert taxonomy.load(noted).source == "store, version 2"
    (r,) = rulings.rulings(noted)
    assert (r.kind, r.class_key, r.taxonomy_version, len(r.notes)) == (
        "accept", "backup_codes_manager", 2, 5)  # fmt: skip
    actions = [e.action for e in noted.events()[-3:]]
    assert actions == ["taxonomy.version", "taxonomy.version", "codebook.accept"]
    # the notes are coded now: nothing is proposed again, and the labels wait for a reviewer
    assert propose_in_store(noted, base=1, cand=2).offered == ()
    waiting = ratify.suggestions(noted, "backup_codes_manager")
    assert sorted(s.case_key for s in waiting) == BACKUP


def test_confirming_labels_case_by_case_or_all_with_an_explicit_yes(noted, db_path):
    run(db_path, "codebook", "ratify", "backup_codes_manager", "1", "2", "--owner", "safety",
        "--description", "Gives backup codes to a claimed manager.")  # fmt: skip
    before = findings(noted)
    code, out = run(db_path, "codebook", "confirm", "backup_codes_manager", "--all")
    assert (code, out.count("\n")) == (2, 1) and out.startswith("Error: --all: would label 4")
    assert findings(noted) == before
    code, out = run(
        db_path, "codebook", "confirm", "backup_codes_manager", BACKUP[0], reviewer="lead"
    )
    assert code == 0 and "labelled 1 cases" in out
    mine = [f for f in triage.history(noted, 1, 2, case(noted, BACKUP[0])) if f.reviewer == "lead"]
    assert [(f.kind, f.class_key, f.owner, f.verified) for f in mine] == [
        ("label", "backup_codes_manager", "safety", True)]  # fmt: skip
    assert len(ratify.suggestions(noted)) == 3
    code, out = run(db_path, "codebook", "confirm", "backup_codes_manager", "--all", "--yes")
    assert code == 0 and "labelled 3 cases" in out
    assert ratify.suggestions(noted) == []
    listed = {r.case_key: r.class_key for r in triage.list_findings(noted)}
    assert all(listed[k] == "backup_codes_manager" for k in BACKUP)


def test_rejecting_sets_the_notes_aside(noted, db_path):
    code, out = run(
        db_path, "codebook", "ratify", "backup_codes_manager", "--reject", "--why", "noise"
    )
    assert code == 0 and "its 5 notes are set aside" in out
    assert len(taxonomy.versions(noted)) == 1 and taxonomy.versions(noted)[0].at is None
    found = propose_in_store(noted)
    assert found.offered == () and found.set_aside == 5
    assert ratify.suggestions(noted) == []


def test_merging_adds_examples_to_an_existing_class(noted, db_path):
    code, out = run(db_path, "codebook", "ratify", "backup_codes_manager", "--merge",
                    "unsafe_tool_action")  # fmt: skip
    assert code == 0 and "merged" in out and "taxonomy version 2" in out
    d = taxonomy.diff(*taxonomy.versions(noted))
    assert d.summary() == {"added": [], "removed": [], "changed": ["unsafe_tool_action"]}
    assert list(d.changed[0].fields) == ["examples"]
    assert {s.class_key for s in ratify.suggestions(noted)} == {"unsafe_tool_action"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--owner", "o", "--description", "d"], "Error: PROPOSAL: no proposal 'nope'"),
        (["backup_codes_manager", "--owner", "o"], "Error: --description: is required"),
        (["backup_codes_manager", "--owner", " ", "--description", "d"], "Error: --owner: is required"),
        (["backup_codes_manager", "--owner", "o", "--description", "d", "--key", "wrong_source"],
         "Error: --key: the taxonomy already has a class 'wrong_source'"),
        (["backup_codes_manager", "--owner", "o", "--description", "d", "--key", "Bad Key"],
         "Error: --key: 'Bad Key' is not a class key"),
        (["backup_codes_manager", "--owner", "o", "--description", "two\nlines"],
         "Error: --description: is one line"),
        (["backup_codes_manager", "--merge", "no_such"], "Error: --merge: no active class 'no_such'"),
        (["backup_codes_manager", "--merge", "x", "--reject"], "Error: --merge: one of"),
        (["backup_codes_manager", "1", "--reject"], "Error: BASE CAND: give both runs"),
    ],
)  # fmt: skip
def test_bad_ratify_input_is_one_line_exit_2_and_the_store_unchanged(noted, db_path, args, message):
    before = noted.dump()
    code, out = run(db_path, "codebook", "ratify", *args)
    assert (code, out.count("\n")) == (2, 1) and out.startswith(message), out
    assert noted.dump() == before


def test_a_taxonomy_file_in_force_is_refused_by_ratify(noted, db_path, tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(taxonomy.to_toml(taxonomy.default_taxonomy()))
    before = noted.dump()
    code, out = run(db_path, "--taxonomy", str(path), "codebook", "ratify", "backup_codes_manager",
                    "--owner", "o", "--description", "d")  # fmt: skip
    assert code == 2 and out.startswith("Error: --taxonomy: a taxonomy file is in force")
    assert noted.dump() == before


# -- versions ------------------------------------------------------------------------------


def test_taxonomy_import_records_versions_and_diff_says_what_changed(store, db_path, tmp_path):
    edited = taxonomy.default_taxonomy()
    edited.by_key["wrong_source"].name = "Wrong document"
    edited.classes.pop()  # scope_mismatch
    path = tmp_path / "t.toml"
    path.write_text(taxonomy.to_toml(edited))
    code, out = run(db_path, "taxonomy", "import", str(path))
    assert code == 0 and out.rstrip().endswith("; version 2")
    code, out = run(db_path, "taxonomy", "import", str(path))  # the same: no new version
    assert code == 0 and out.rstrip().endswith("; version 2")
    code, out = run(db_path, "taxonomy", "versions", "--json")
    rows = json.loads(out)
    assert [(r["version"], r["classes"], r["actor"]) for r in rows] == [
        (1, 12, "tester"),
        (2, 11, "tester"),
    ]
    assert rows[1]["reason"] == "imported t.toml" and rows[1]["sha256"] == edited.sha256
    code, out = run(db_path, "taxonomy", "diff", "1", "2")
    assert code == 0
    assert "- scope_mismatch: Scope mismatch" in out
    assert "~ wrong_source.name: Wrong source -> Wrong document" in out
    code, body = run(db_path, "taxonomy", "diff", "1", "2", "--json")
    assert json.loads(body)["removed"][0]["key"] == "scope_mismatch"
    before = store.dump()
    code, out = run(db_path, "taxonomy", "diff", "1", "9")
    assert (code, out) == (2, "Error: NEW: no taxonomy version 9; this store has 1 to 2\n")
    assert store.dump() == before


def test_a_taxonomy_stored_before_versions_is_version_1(store):
    old = [c.model_dump(exclude={"examples"}) for c in taxonomy.DEFAULT_CLASSES[:3]]
    store.set_setting(taxonomy.SETTING, old)  # as an evaltui before versions stored it
    (v1,) = taxonomy.versions(store)
    assert (v1.version, v1.at, len(v1.classes)) == (1, None, 3)
    assert taxonomy.load(store).source == "store"
    taxonomy.save(store, taxonomy.default_taxonomy(), reason="back to the built-in")
    v1, v2 = taxonomy.versions(store)
    assert len(v1.classes) == 3 and v1.at is not None and len(v2.classes) == 12


def test_versions_and_rulings_are_append_only(noted, db_path):
    run(db_path, "codebook", "ratify", "backup_codes_manager", "--reject")
    taxonomy.save(noted, taxonomy.Taxonomy(taxonomy.default_taxonomy().classes[:5]))
    for sql in ("UPDATE taxonomy_versions SET reason = 'x'", "DELETE FROM taxonomy_versions",
                "UPDATE codebook_rulings SET why = 'x'", "DELETE FROM codebook_rulings"):  # fmt: skip
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            noted.conn.execute(sql)


def test_each_new_table_is_named_in_sql_by_its_owner_alone():
    package = Path(__file__).resolve().parent.parent / "evaltui"
    mechanics = {"store/migrations/codebook.py", "store/schema.py"}
    owners = {
        "taxonomy_versions": "review/taxonomy.py",
        "codebook_rulings": "review/labelguide/rulings.py",
    }
    for table, owner in owners.items():
        sql = re.compile(rf"\b(?:FROM|INTO|JOIN|UPDATE|TABLE|ON)\s+{table}\b")
        naming = set()
        for path in package.rglob("*.py"):
            strings = "\n".join(n.value for n in ast.walk(ast.parse(path.read_text()))
                                if isinstance(n, ast.Constant) and isinstance(n.value, str))  # fmt: skip
            if sql.search(strings):
                naming.add(str(path.relative_to(package)))
        assert naming - mechanics == {owner}, table


# -- new in the candidate: the gate's metric -----------------------------------------------


def test_new_failure_modes_names_the_classes_the_baseline_never_had(noted, tmp_path):
    b, c = 1, 2
    body = rule("new_failure_modes", "max = 0")
    decide = lambda: gate.evaluate(noted, gate.load_policy(policy_file(tmp_path, body)), b, c,  # noqa: E731
                                   **FIXED).rules[0]  # fmt: skip
    assert (decide().value, decide().evidence) == (0.0, {"classes": [], "cases": []})
    assert compared(noted) == {"classes": [], "cases": []}
    # a ratified class, confirmed on the candidate-only cases: new in the candidate
    found = propose_in_store(noted, base=b, cand=c)
    ratify.accept(noted, found, found.offered[0].id, owner="safety", description="Backup codes.")
    ratify.confirm(noted, ratify.suggestions(noted), tax := taxonomy.load(noted))
    r = decide()
    assert (r.value, r.passed, r.evidence["classes"]) == (4.0, False, ["backup_codes_manager"])
    assert sorted(r.evidence["cases"]) == BACKUP
    # the comparison says so too (compare --json, and a line of its text)
    assert compared(noted) == r.evidence
    code, out = run(noted.path, "compare", "1", "2")
    assert code == 0 and "new in the candidate: backup_codes_manager (4 failing cases;" in out
    # the same class on a case the baseline fails too: the baseline had it, not new
    triage.label(noted, b, c, case(noted, _still_failing(noted)),
                 failure_class=tax.get("backup_codes_manager"))  # fmt: skip
    assert (decide().value, decide().passed) == (0.0, True)
    assert compared(noted) == {"classes": [], "cases": []}
    assert "new in the candidate" not in run(noted.path, "compare", "1", "2")[1]
    # another class on a regression only
    triage.label(noted, b, c, case(noted, "refunds-002"), failure_class=tax.get("refusal_failure"))
    r = decide()
    assert (r.value, r.evidence) == (
        1.0,
        {"classes": ["refusal_failure"], "cases": ["refunds-002"]},
    )
    assert compared(noted) == r.evidence


def compared(store: Store) -> dict[str, list[str]]:
    """`compare --json`'s failure modes new in the candidate."""
    code, out = run(store.path, "compare", "1", "2", "--json")
    assert code == 0, out
    found: dict[str, list[str]] = json.loads(out)["new_in_candidate"]
    return found


def _still_failing(store: Store) -> str:
    """A case both runs fail."""
    from evaltui.compare import Comparison

    with Comparison(store.path, 1, 2) as cmp:
        return cmp.rows_where("k.case_key", "t.b_pass = 0 AND t.c_pass = 0", limit=1)[0][0]


def test_more_open_notes_than_proposals_read_is_refused(noted, monkeypatch):
    monkeypatch.setenv("EVALTUI_CODEBOOK_MAX_NOTES", "5")
    with pytest.raises(InputError, match=r"more than 5 unclassified notes"):
        notes.read(noted)


def test_a_proposal_ruled_on_meanwhile_is_refused(noted):
    seen = propose_in_store(noted)  # what another session still shows
    ratify.reject(noted, propose_in_store(noted), "backup_codes_manager")
    before = noted.dump()
    with pytest.raises(InputError, match="was ruled on meanwhile; propose again"):
        ratify.accept(noted, seen, "backup_codes_manager", owner="o", description="d")
    assert noted.dump() == before


def test_ratify_never_makes_a_store(tmp_path):
    path = tmp_path / "none.db"
    code, out = run(path, "codebook", "ratify", "x", "--reject")
    assert code == 3 and out.startswith("Error: no store at") and not path.exists()


def test_a_hand_edited_version_or_ruling_is_said_unreadable(noted, db_path):
    noted.conn.execute(
        "INSERT INTO taxonomy_versions VALUES (1, 'x', 'x', 'x', '[{\"key\": 3}]', 'x')"
    )
    noted.conn.execute(
        "INSERT INTO codebook_rulings (at, actor, kind, proposal, proposal_key, notes) "
        "VALUES ('x', 'x', 'reject', 'p', 'k', 'not json')"
    )
    noted.conn.commit()
    code, out = run(db_path, "taxonomy")
    assert (code, out.count("\n")) == (3, 1)
    assert out.startswith("Error: taxonomy version 1 in the store is unreadable: ")
    code, out = run(db_path, "codebook", "suggestions")
    assert (code, out) == (3, "Error: codebook ruling 1 in the store is unreadable: "
                              "Expecting value: line 1 column 1 (char 0)\n")  # fmt: skip
