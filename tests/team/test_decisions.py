"""Release decisions shared through the team store (#30): a release owner's gate decision
travels, and every other store keeps it as the owner's (`team_decisions`), never in its
own decision history; a record that is not what it claims is rejected, named; one whose
runs this store lacks waits for them; a signed one is checked against the store's
allowed-signers file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import signing
from evaltui.cli import cli
from evaltui.gate.record import canonical, content_hash
from evaltui.store import Store, decisions, team_decisions
from evaltui.team import decisions as shared
from evaltui.team import ledger
from evaltui.team.client import TeamClient
from evaltui.team.events import TeamEvent

from .conftest import Team
from .stores import Local, import_runs, make_locals, write_runs

KEYGEN = shutil.which("ssh-keygen")
POLICY = (
    'promise = "p"\n[[rule]]\nid = "reg"\nmetric = "regressions"\nmax = 1000\n'
    'action = "hold"\nowner = "o"\nwhy = "w"\n'
)


def run(local: Local, *args: str, reviewer: str | None = None):
    return CliRunner().invoke(
        cli,
        ["--db", str(local.db), "--reviewer", reviewer or local.name, *args],
        catch_exceptions=False,
    )


def decide(local: Local, tmp: Path, *more: str, reviewer: str | None = None) -> str:
    """A gate decision kept in `local`'s store; its content hash."""
    pol = tmp / "policy.toml"
    pol.write_text(POLICY)
    r = run(local, "gate", "1", "2", "--policy", str(pol), "--json", *more, reviewer=reviewer)
    assert r.exit_code == 0, r.output
    return str(json.loads(r.stdout)["content_hash"])


def listed(local: Local) -> list[dict]:
    r = run(local, "decisions", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def kept_record(local: Local) -> str:
    with local.store() as store:
        (rec,) = decisions.page(store.conn)
    return rec.text


def unshared(local: Local) -> tuple[decisions.OwnRecord, str]:
    """The one decision of `local`'s reviewer not shared yet, and its subject."""
    with local.store() as store:
        ((rec, subject, problem),) = shared.pending(store, local.name).mine
    assert subject is not None and problem is None
    return rec, subject


def test_a_release_owners_decision_is_kept_as_theirs_in_a_reviewers_store(team: Team, tmp_path):
    team.init()
    rel, bo = make_locals(team, tmp_path, [("rel", "release_owner"), ("bo", "reviewer")])
    own_hash = decide(rel, tmp_path)
    own_json = run(rel, "decisions", "--json").stdout
    own_keys = ["id", "decided_at", "decided_by", "baseline", "candidate", "decision",
                "policy_sha256", "content_hash"]  # fmt: skip
    assert [list(r) for r in json.loads(own_json)] == [own_keys]
    own_text = run(rel, "decisions").stdout
    first = rel.sync()
    assert (first.pushed, first.not_allowed, first.not_shareable) == (1, 0, 0)
    assert first.decisions == {
        "outbox": 0,
        "not_allowed": 0,
        "not_shared": {},
        "events": {"folded": 1, "waiting": 0, "kept": 0, "rejected": 0, "refused": 0},
        "kept_as_team": 0,
    }
    assert team.count("kind = 'decision'") == 1

    got = bo.sync()
    assert got.outcome.statuses == {"folded": 1}
    assert got.to_json()["decisions"]["kept_as_team"] == 1
    (row,) = listed(bo)
    assert row == {
        "id": None,
        "team": "p",
        "team_id": 1,
        "project": "p",
        "author": "rel",
        "decided_at": row["decided_at"],
        "decided_by": "rel",
        "baseline": "base",
        "candidate": "cand",
        "decision": "ship",
        "policy_sha256": row["policy_sha256"],
        "content_hash": own_hash,
        "signature": "unsigned",
        "signer": None,
        "event_hash": row["event_hash"],
        "received_at": row["received_at"],
    }
    text = run(bo, "decisions").stdout
    assert "t1" in text and "team:p by rel, unsigned" in text
    shown = json.loads(run(bo, "decisions", "--show-team", "1").stdout)
    assert shown["content_hash"] == own_hash and content_hash(shown) == own_hash
    with bo.store() as store:  # never in bo's own decisions, nor in its event log
        assert decisions.page(store.conn) == []
        assert not store.events_by_action(("decision",))
    assert run(bo, "decisions", "--show", "1").exit_code == 4

    # rel's own listing is byte-identical after the sync (its echo is adopted, not kept)
    assert rel.sync().pushed == 0
    assert run(rel, "decisions", "--json").stdout == own_json
    assert run(rel, "decisions").stdout == own_text
    with rel.store() as store:
        assert team_decisions.count(store.conn) == 0
    before = bo.snapshot()
    assert bo.sync().pulled == 0 and bo.snapshot() == before

    # a reviewer's own decision is not pushed (the role may not), nor one kept as another
    decide(bo, tmp_path)
    decide(rel, tmp_path, reviewer="tester")
    mine = bo.sync()
    assert (mine.pushed, mine.not_allowed, mine.outbox) == (0, 1, 0)
    assert (mine.decisions["outbox"], mine.decisions["not_allowed"]) == (0, 1)
    mixed = listed(bo)  # bo's own row first, as before; the team's after, marked
    assert [list(mixed[0]), mixed[0]["id"], mixed[1]["id"], mixed[1]["team"]] == [
        own_keys,
        1,
        None,
        "p",
    ]
    theirs = rel.sync()
    assert theirs.pushed == 0 and theirs.decisions["not_shared"] == {"tester": 1}
    status = json.loads(run(rel, "team", "status", "--offline", "--json").stdout)
    assert status["decisions"]["not_shared"] == {"tester": 1}
    said = run(rel, "team", "status", "--offline").stdout
    assert "kept local: 1 decision(s) decided as tester (not this login's reviewer)" in said
    said = run(bo, "sync").stdout
    assert "release decisions: 0 of this store's not yet shared, 1 kept from the team" in said
    assert team.count("kind = 'decision'") == 1


def _push(
    team: Team, author: str, subject: str, payloads: list[dict], prev: str | None = None
) -> list[TeamEvent]:
    """Events a member's own client writes (chained, hashes sound): a client that lies."""
    events = []
    for payload in payloads:
        event = TeamEvent.make("p", author, "decision", subject, payload, prev=prev)
        events.append(event)
        prev = event.hash
    TeamClient(team.connect(author), "p").push(events)
    return events


def test_a_forged_record_and_another_deciders_record_are_rejected_named(team: Team, tmp_path):
    team.init()
    rel, bo = make_locals(team, tmp_path, [("rel", "release_owner"), ("bo", "reviewer")])
    decide(rel, tmp_path)
    text = kept_record(rel)
    record = json.loads(text)
    # the decision edited after sealing, its content hash kept: the chain is sound
    edited = {**record, "decision": "hold"}
    # sealed again, but decided by someone else
    other = {**record, "provenance": {**record["provenance"], "decided_by": "ana"}}
    other["content_hash"] = content_hash(other)
    subject = unshared(rel)[1]
    _push(team, "rel", subject, [
        {"record": canonical(edited).decode(), "content_hash": record["content_hash"],
         "signature": None},
        {"record": canonical(other).decode(), "content_hash": other["content_hash"],
         "signature": None},
    ])  # fmt: skip
    got = bo.sync()
    assert got.outcome.statuses == {"rejected": 2}
    problems = got.to_json()["problems"]
    assert "decision by 'rel'" in problems[0]
    assert "the record itself was edited: its content hash does not match" in problems[0]
    assert "decided by 'ana', not by its author" in problems[1]
    assert listed(bo) == []


def test_a_decision_waits_for_its_runs_then_is_kept(team: Team, tmp_path):
    team.init()
    runs = write_runs(tmp_path / "runs", 20)
    (rel,) = make_locals(team, tmp_path, [("rel", "release_owner")], runs=runs)
    team.member("cy", "viewer")
    cy = Local(team, "cy", tmp_path / "cy.db")
    Store(cy.db).close()
    cy.join()
    decide(rel, tmp_path)
    rel.sync()
    waiting = cy.sync()
    assert waiting.outcome.statuses == {"waiting": 1}
    assert "its baseline run (sha256" in waiting.to_json()["waiting_for"][0]
    assert listed(cy) == []
    import_runs(cy.db, runs)
    assert cy.sync().outcome.statuses == {"folded": 1}
    (row,) = listed(cy)
    assert (row["author"], row["team"], row["baseline"]) == ("rel", "p", "base")


@pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")
def test_a_signed_decisions_signature_is_checked_against_the_stores_signers(team: Team, tmp_path):
    team.init()
    rel, bo, cy = make_locals(
        team, tmp_path, [("rel", "release_owner"), ("bo", "reviewer"), ("cy", "reviewer")]
    )
    key = tmp_path / "rel_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "rel", "-f", str(key)],
                   check=True)  # fmt: skip
    allowed = tmp_path / "allowed"
    allowed.write_text(f"rel@example.com {Path(f'{key}.pub').read_text().strip()}\n")
    assert run(bo, "findings", "signers", str(allowed)).exit_code == 0
    decide(rel, tmp_path, "--out", str(tmp_path / "rec.json"), "--sign", str(key))
    assert rel.sync().pushed == 1
    bo.sync()
    (row,) = listed(bo)
    assert (row["signature"], row["signer"]) == ("verified", "rel@example.com")
    assert "team:p by rel, verified (rel@example.com)" in run(bo, "decisions").stdout
    cy.sync()  # no allowed-signers file: signed, not checked
    assert listed(cy)[0]["signature"] == "unchecked"

    # a signature by a key not in bo's signers, on a sound record: rejected, named
    mallory = tmp_path / "mallory_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "m", "-f", str(mallory)],
                   check=True)  # fmt: skip
    decide(rel, tmp_path, reviewer="rel")  # a second decision, unsigned
    second, subject = unshared(rel)
    with rel.store() as store:
        head = ledger.head(store, "p", "rel", subject)
    (sig,) = signing.sign_texts([second.text], mallory, signing.DECISION)
    _push(team, "rel", subject, [
        {"record": second.text, "content_hash": second.content_hash, "signature": sig},
    ], prev=head)  # fmt: skip
    got = bo.sync()
    assert got.outcome.statuses == {"rejected": 1}
    assert "its record's signature does not verify" in got.to_json()["problems"][0]


def test_a_decision_too_large_for_the_team_store_is_named_not_pushed(team: Team, tmp_path):
    team.init()
    (rel,) = make_locals(team, tmp_path, [("rel", "release_owner")])
    pol = tmp_path / "policy.toml"
    pol.write_text(POLICY.replace('why = "w"', 'why = "' + "w" * 70_000 + '"'))
    r = run(rel, "gate", "1", "2", "--policy", str(pol), "--json")
    assert r.exit_code == 0, r.output
    big = json.loads(r.stdout)["content_hash"]
    got = rel.sync()
    assert (got.pushed, got.not_shareable, got.outbox) == (0, 1, 0)
    (problem,) = got.to_json()["problems"]
    assert problem == f"decision 1 ({big[:12]}): payload over 65536 bytes"
    assert team.count("kind = 'decision'") == 0


def test_a_team_decisions_text_is_listed_literally_and_inert(tmp_path):
    """What another member's record says reaches the terminal as text: no markup, no
    escape sequence (the table's cells and the JSON)."""
    local = Local(None, "bo", tmp_path / "bo.db")  # type: ignore[arg-type]  # no team needed
    import_runs(local.db, write_runs(tmp_path / "runs", 3))
    hostile = "[bold red]rel\x1b[2J\u202e"
    with local.store() as store, store.transaction():
        team_decisions.insert(
            store.conn,
            team_decisions.NewTeamDecision(
                event_hash="e" * 64, project="p", author=hostile, received_at="t",
                baseline_run=1, candidate_run=2, decided_at="2026-12-01T10:00:00+00:00",
                decided_by=hostile, decision="[link=x]ship", policy_sha256="a" * 64,
                content_hash="c" * 64, record="{}", signature=None,
                signature_state="unsigned", signer=None,
            ),
        )  # fmt: skip
    out = CliRunner().invoke(cli, ["--db", str(local.db), "decisions"], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "\x1b" not in out.output and "\u202e" not in out.output
    assert "team:p by [bold red]rel␛[2J" in out.output and "[link=x]ship" in out.output
    raw = CliRunner().invoke(cli, ["--db", str(local.db), "decisions", "--json"]).output
    assert "\x1b" not in raw and "\u202e" not in raw
    (row,) = json.loads(raw)
    assert (row["id"], row["team"], row["author"]) == (None, "p", hostile)
