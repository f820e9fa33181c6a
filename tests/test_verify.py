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
