"""Records that verify for real: kept copies compared field by field, dry runs refused, the
event log's hash chain, signed records."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest
from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli

from .conftest import FIXTURES

POLICY = FIXTURES / "policies" / "support-assistant.toml"
KEYGEN = shutil.which("ssh-keygen")


def run(db_path, *args):
    return CliRunner().invoke(cli, ["--db", str(db_path), *args])


@pytest.fixture
def decision(demo_store, db_path, tmp_path):
    out = tmp_path / "d.json"
    r = run(
        db_path, "gate", "1", "2", "--fallback", "3", "--policy", str(POLICY), "--out", str(out)
    )
    assert r.exit_code == 12, r.output
    assert run(db_path, "verify", str(out)).exit_code == 0
    return out


def rehashed(path, edit) -> None:
    record = json.loads(path.read_text())
    edit(record)
    record["content_hash"] = gate.content_hash(record)  # a forger recomputes the self-hash
    path.write_text(json.dumps(record, indent=2))


def test_a_forged_and_rehashed_record_is_refused_with_the_fields_named(db_path, decision):
    def forge(r):
        r["provenance"]["decided_by"] = "cto"
        r["exit_code"] = 0
        r["decision"] = "ship"
        r["segments"][5]["candidate"]["rate"] = 0.9
        r["rules"][1]["threshold"] = {"min": 0.3}

    rehashed(decision, forge)
    r = run(db_path, "verify", str(decision))
    assert r.exit_code == 5
    assert "record itself was edited" not in r.output  # the self-hash matches: it is not enough
    assert "differs from decision 1 kept in the store" in r.output
    for field in ("provenance.decided_by", "exit_code", "decision", "segments[5].candidate.rate",
                  "rules[1].threshold.min"):  # fmt: skip
        assert field in r.output, (field, r.output)


def test_a_dry_run_cannot_be_verified(demo_store, db_path, tmp_path):
    r = run(db_path, "gate", "1", "2", "--policy", str(POLICY), "--json", "--no-record")
    path = tmp_path / "dry.json"
    path.write_text(r.output)
    r = run(db_path, "verify", str(path))
    assert r.exit_code == 5 and "not kept in this store (a --no-record dry run" in r.output


def test_deleted_or_edited_events_are_detected(db_path, decision):
    assert run(db_path, "log", "--verify").output.startswith("event log intact:")
    conn = sqlite3.connect(db_path, isolation_level=None)  # someone holding the store file
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DELETE FROM events WHERE id = 2")
    r = run(db_path, "log", "--verify")
    assert r.exit_code == 5 and "events 2 to 2 are missing" in r.output
    r = run(db_path, "verify", str(decision))
    assert r.exit_code == 5 and "the event log was tampered with" in r.output
    conn.execute("UPDATE events SET actor = 'someone-else' WHERE id = 1")
    r = run(db_path, "log", "--verify")
    assert "event 1 (import" in r.output and "was edited" in r.output
    conn.close()


def test_deleting_the_decision_and_its_events_is_detected(db_path, decision):
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DELETE FROM events WHERE action = 'decision'")
    conn.execute("DROP TRIGGER decisions_no_delete")
    conn.execute("DELETE FROM decisions")
    conn.close()
    r = run(db_path, "verify", str(decision))
    assert r.exit_code == 5 and "not kept in this store" in r.output


def test_a_decision_after_more_decisions_still_verifies(db_path, decision, tmp_path):
    """Later decisions change "previous decision" for new ones, never for a kept one."""
    assert run(db_path, "gate", "1", "2", "--policy", str(POLICY)).exit_code == 12
    assert run(db_path, "verify", str(decision)).exit_code == 0


@pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")
def test_a_signed_record_verifies_and_a_tampered_one_does_not(demo_store, db_path, tmp_path):
    key = tmp_path / "lead_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    kind, blob = (tmp_path / "lead_key.pub").read_text().split(" ")[:2]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"lead@example.com {kind} {blob}\n")
    out = tmp_path / "d.json"
    r = run(
        db_path, "gate", "1", "2", "--policy", str(POLICY), "--out", str(out), "--sign", str(key)
    )
    assert r.exit_code == 12 and (tmp_path / "d.json.sig").exists()
    r = run(db_path, "verify", str(out), "--allowed-signers", str(allowed))
    assert r.exit_code == 0 and "signed by lead@example.com (verified)" in r.output
    out.write_text(out.read_text() + " ")  # one byte more: the JSON is the same, the bytes are not
    r = run(db_path, "verify", str(out), "--allowed-signers", str(allowed))
    assert r.exit_code == 5 and "its signature does not verify" in r.output
    r = run(db_path, "verify", str(out))
    assert r.exit_code == 5 and "no allowed-signers file" in r.output


@pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")
def test_the_policy_can_name_the_allowed_signers(demo_store, db_path, tmp_path):
    key = tmp_path / "lead_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    kind, blob = (tmp_path / "lead_key.pub").read_text().split(" ")[:2]
    (tmp_path / "team_signers").write_text(f"lead@example.com {kind} {blob}\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        POLICY.read_text().replace(
            "alpha = 0.05\n", 'alpha = 0.05\nallowed_signers = "team_signers"\n'
        )
    )
    out = tmp_path / "d.json"
    r = run(
        db_path, "gate", "1", "2", "--policy", str(policy), "--out", str(out), "--sign", str(key)
    )
    assert r.exit_code == 12, r.output
    r = run(db_path, "verify", str(out))  # no --allowed-signers: the policy names them
    assert r.exit_code == 0 and "signed by lead@example.com (verified)" in r.output, r.output


# -- the taxonomy a decision was made with (#29) ---------------------------------------------


def test_verify_names_the_taxonomy_versions_when_the_taxonomy_changed(db_path, decision, tmp_path):
    record = json.loads(decision.read_text())
    made_with = record["provenance"]["taxonomy"]
    assert made_with["version"] == 1 and made_with["source"] == "built-in"
    assert len(made_with["sha256"]) == 64
    exported = run(db_path, "taxonomy", "export")
    assert exported.exit_code == 0, exported.output
    edited = tmp_path / "taxonomy.toml"  # one rubric line reworded: a new version
    edited.write_text(
        exported.output.replace("Repair: retrieval ranking and filters.", "Repair: the ranker.")
    )
    assert run(db_path, "taxonomy", "import", str(edited)).exit_code == 0
    now = json.loads(run(db_path, "taxonomy", "versions", "--json").output)[-1]
    assert now["version"] == 2 and now["sha256"] != made_with["sha256"]
    r = run(db_path, "verify", str(decision))
    assert r.exit_code == 5, r.output
    assert (
        f"the taxonomy changed: the decision was made with taxonomy version 1 (sha256 "
        f"{made_with['sha256'][:12]}), the one in force now is version 2 (sha256 "
        f"{now['sha256'][:12]}); `evaltui taxonomy diff 1 2` says what changed"
    ) in r.output
    assert "also changed" not in r.output  # said once, in words, not as leaves
    # the record read with the taxonomy it was made with holds again
    original = tmp_path / "original.toml"
    original.write_text(exported.output)
    r = run(db_path, "--taxonomy", str(original), "verify", str(decision))
    assert r.exit_code == 0, r.output


# -- a decision made before an upgrade (#24) -----------------------------------------------------

# What evaltui's first record format (fixtures/golden/decision.json at d9ff2c7, before #15)
# did not write, from that file's history: the fields each later change added.
FIRST_FORMAT_LACKS = {
    ("provenance",): ["correction", "insufficient_evidence", "min_n", "event_log_head", "taxonomy"],
    ("rules", "*"): ["insufficient", "min_n", "n", "triggers"],
    ("rules", "*", "evidence"): ["correction", "p_adjusted"],
    ("segments", "*"): ["p_adjusted"],
    ("counts",): ["unscored", "tools_changed"],
}
ADVERSARIAL = """
[[rule]]
id = "adversarial-no-significant-drop"
metric = "significant_regression"
scope = { intent = "adversarial" }
max = 0
action = "hold"
owner = "safety"
why = "raw p 0.013 < 0.05; Holm-adjusted with the segment table, 0.105"
"""


def _nodes(data, path):
    if not path:
        yield data
        return
    head, *rest = path
    for child in data if head == "*" else [data[head]]:
        yield from _nodes(child, rest)


def first_format(record: dict) -> dict:
    old = json.loads(json.dumps(record))
    for path, keys in FIRST_FORMAT_LACKS.items():
        for node in _nodes(old, path):
            for key in keys:
                node.pop(key, None)
    old["content_hash"] = gate.content_hash(old)
    return old


def test_a_decision_made_before_an_upgrade_verifies_against_the_rules_then(
    demo_store, db_path, tmp_path
):
    """A record in evaltui's first format, kept as that evaltui kept it, verifies: compared on
    the fields it wrote, its significance recomputed without correction as then; a change in
    the data is still found, and said apart from what changed in evaltui.

    What this tests, honestly: the record is not written by the old code. It is this
    evaltui's record computed with significance uncorrected (the one computation #15
    changed, a test double of the old behaviour), with the fields the first format lacked
    removed (FIRST_FORMAT_LACKS, from the golden file's history), kept by a plain INSERT."""
    from dataclasses import replace

    from evaltui import service
    from evaltui.review import lifecycle

    policy = tmp_path / "policy-of-then.toml"  # no correction, min_n, insufficient_evidence
    text = "\n".join(
        line for line in POLICY.read_text().splitlines()
        if not line.startswith(("correction", "min_n", "insufficient_evidence"))
    )  # fmt: skip
    policy.write_text(text + ADVERSARIAL)
    loaded = gate.load_policy(policy)
    sel = service.get_selection(demo_store)
    runs = (sel["baseline"], sel["candidate"], sel["fallback"])
    then = replace(loaded, policy=loaded.policy.model_copy(update={"correction": "none"}))
    made = gate.evaluate(demo_store, then, *runs, decided_at="2026-11-23T12:00:00+00:00",
                         decided_by="release-captain").as_dict()  # fmt: skip
    today = gate.evaluate(demo_store, loaded, *runs).as_dict()
    assert made["rules"][-1]["value"] == 1.0 and today["rules"][-1]["value"] == 0.0  # significance
    old = first_format(made)
    demo_store.conn.execute(
        "INSERT INTO decisions (decided_at, decided_by, baseline_run, candidate_run, fallback_run, "
        "decision, policy_sha256, content_hash, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (old["provenance"]["decided_at"], "release-captain", *runs, old["decision"],
         loaded.sha256, old["content_hash"], json.dumps(old)),
    )  # fmt: skip
    demo_store.conn.commit()
    out = tmp_path / "decision-of-then.json"
    out.write_text(json.dumps(old, indent=2))
    assert gate.verify(demo_store, old) == []
    r = run(db_path, "verify", str(out))
    assert r.exit_code == 0, r.output
    assert "unchanged: the decision (hold) still holds" in r.output
    assert "made by an earlier evaltui" in r.output and "Holm-Bonferroni" in r.output
    assert "correction = 'none'" in r.output
    # the data changes: found, as a change of the data, with evaltui's change said apart
    lifecycle.retire(demo_store, [_case(demo_store, "billing-001")], "bad_case")
    problems = gate.verify(demo_store, old)
    assert any(p.startswith("the reference set changed") for p in problems), problems
    assert problems[-1].startswith("note: this decision was made by an earlier evaltui")
    new_fields = ("p_adjusted", "triggers", "insufficient", "min_n", "event_log_head", "unscored")
    assert not [p for p in problems[:-1] if any(f in p for f in new_fields)], problems


def _case(store, key):
    return store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]


def test_a_current_record_carries_no_upgrade_note(db_path, decision):
    r = run(db_path, "verify", str(decision))
    assert r.exit_code == 0 and "earlier evaltui" not in r.output
    assert gate.formats.predates(json.loads(decision.read_text())) == []


# -- leaf differences: models compared field by field ----------------------------------------


def _rule(**change):
    from evaltui.gate.record import RuleResult

    base = dict(id="r", metric="pass_rate", scope="all", scope_text="all cases",
                threshold={"min": 0.6}, value=0.7, passed=True, result="pass", action="hold",
                owner="o", why="w", evidence={"n": 3, "ci": [0.1, 0.9]}, n=3, min_n=1,
                insufficient=False, triggers="hold")  # fmt: skip
    return RuleResult(**{**base, **change})


def test_differences_are_leaves_with_their_path_and_both_values():
    from evaltui.gate.diff import ABSENT, Difference, differences

    was = _rule()
    now = _rule(value=0.5, passed=False, evidence={"n": 3, "ci": [0.1, 0.8, 0.95]})
    assert list(differences(was, now)) == [
        Difference(("value",), 0.7, 0.5),
        Difference(("passed",), True, False),
        Difference(("evidence", "ci", 1), 0.9, 0.8),
        Difference(("evidence", "ci", 2), ABSENT, 0.95),
    ]
    assert [str(d) for d in differences(was, now)][2:] == [
        "evidence.ci[1] (0.9 -> 0.8)", "evidence.ci[2] (<absent> -> 0.95)",
    ]  # fmt: skip
    assert list(differences(was, _rule())) == []
    # a field that is a container on one side and a leaf on the other differs leaf by leaf
    assert [str(d) for d in differences({"a": {"b": 1}}, {"a": None})] == [
        "a.b (1 -> <absent>)", "a (<absent> -> null)",
    ]  # fmt: skip


def test_verify_names_the_leaves_a_recomputation_changed(demo_store, db_path, decision):
    from evaltui.gate.diff import ABSENT, differences
    from evaltui.review import lifecycle

    record = json.loads(decision.read_text())
    lifecycle.retire(demo_store, [_case(demo_store, "billing-001")], "bad_case")
    problems = gate.verify(demo_store, record)
    (also,) = [p for p in problems if p.startswith("also changed: ")]
    assert "excluded.retired (0 -> 1)" in also and also.endswith(" …")  # the first 12
    # the same walk over the two models, whole: each leaf, never a list or a record whole
    was = gate.DecisionRecord.model_validate(record)
    loaded = gate.load_policy(POLICY)
    prov = was.provenance
    now = gate.evaluate(demo_store, loaded, 1, 2, 3, decided_at=prov.decided_at,
                        decided_by=prov.decided_by, as_of=1)  # fmt: skip
    changed = {d.where: (d.was, d.now) for d in differences(was, now)}
    assert changed["excluded.retired"] == (0, 1)
    assert changed["retired_since_previous_decision[0].case_key"] == (ABSENT, "billing-001")
    assert "retired_since_previous_decision" not in changed
    assert changed["provenance.reference_set_sha256"][0] == prov.reference_set_sha256


def test_a_kept_record_that_no_model_reads_is_said_so(demo_store, db_path, decision):
    """A record equal to the kept copy but not a decision record this evaltui reads (a
    hand-made row): named by its field, never a crash."""
    record = json.loads(decision.read_text())
    record["rules"][0]["passed"] = "yes"
    record["content_hash"] = gate.content_hash(record)
    demo_store.conn.execute(
        "INSERT INTO decisions (decided_at, decided_by, baseline_run, candidate_run, fallback_run, "
        "decision, policy_sha256, content_hash, record) VALUES (?, ?, 1, 2, 3, ?, ?, ?, ?)",
        ("2030-01-01T00:00:00+00:00", "x", record["decision"],
         record["provenance"]["policy"]["sha256"], record["content_hash"], json.dumps(record)),
    )  # fmt: skip
    problems = gate.verify(demo_store, record)
    assert problems[-1].startswith("the record does not read as a decision record: rules[0].passed")
