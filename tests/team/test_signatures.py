"""Signatures on team events, against a real PostgreSQL and OpenSSH's ssh-keygen: a member's
events are signed with the key the admin registered; on pull, an event with a missing or
bad signature, or from an author whose key was swapped on the server, is refused, named
with its author, kept out of the findings, and listed by `team status`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evaltui import signing
from evaltui.team import TeamError, admin, ledger, member
from evaltui.team.events import TeamEvent, canonical_json
from evaltui.team.signatures import PINNED_SETTING

from .conftest import Team
from .stores import Local, import_runs, write_runs


def keypair(folder: Path, name: str) -> Path:
    key = folder / f"{name}_key"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def signed_locals(team: Team, tmp: Path, names: list[str], keys: dict[str, Path]) -> list[Local]:
    """Members with stores holding the same runs, joined; those in `keys` registered with
    their public key and signing with the private one."""
    runs = write_runs(tmp / "runs", 10)
    out = []
    for name in names:
        key = keys.get(name)
        pub = key.with_name(key.name + ".pub").read_text() if key else None
        admin.add_member(team.admin, team.schema, "p", name, "reviewer", signing_key=pub)
        local = Local(team, name, tmp / f"{name}.db")
        import_runs(local.db, runs)
        with local.store() as store:
            joined = member.join(store, team.connect(name), team.dsn(name), "p", team.schema, key)
        assert joined.signing.startswith(
            ("events signed with",) if key else ("events not", "unsig")
        )
        out.append(local)
    return out


def forge(team: Team, after: TeamEvent, payload: dict, signature: str | None) -> TeamEvent:
    """A database superuser writes an event at the end of `after`'s chain, as its author:
    its hash and chain link are sound, so only a signature can tell."""
    forged = TeamEvent.make("p", after.author, "label", after.subject, payload, prev=after.hash)
    team.su.execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, prev, "
        "signature, client_at) VALUES (%s, 'p', %s, 'label', %s, %s::jsonb, %s, %s, %s)",
        (forged.hash, forged.author, forged.subject, canonical_json(forged.payload),
         forged.prev, signature, forged.client_at),
    )  # fmt: skip
    return forged


def _events(local: Local) -> list[TeamEvent]:
    with local.store() as store:
        rows = store.conn.execute(
            f"SELECT {ledger._EVENT_COLS} FROM team_events ORDER BY server_seq"
        ).fetchall()
    return [ledger._event(r) for r in rows]


def _uids(local: Local) -> set[str]:
    with local.store() as store:
        return {r[0] for r in store.conn.execute("SELECT uid FROM findings")}


def test_signed_events_travel_and_forged_rows_are_refused_named_and_not_folded(
    team: Team, tmp_path
):
    team.init()
    ana_key, eve_key = keypair(tmp_path, "ana"), keypair(tmp_path, "eve")
    ana, bo = signed_locals(team, tmp_path, ["ana", "bo"], {"ana": ana_key})
    ana.label(1, 0)
    ana.label(1, 1)
    assert ana.sync().pushed == 2
    sigs = team.su.execute("SELECT signature FROM evaltui.events ORDER BY server_seq").fetchall()
    assert all(s[0].startswith("-----BEGIN SSH SIGNATURE-----") for s in sigs)
    first = bo.sync()
    assert first.outcome.statuses == {"folded": 2} and first.outcome.added == 2
    last = _events(bo)[-1]
    assert last.author == "ana" and last.signature  # the ledger keeps the signature

    # a superuser appends to ana's chain: unsigned, then signed with another key
    payload = {**last.payload, "uid": "f" * 32, "verdict": "accepted"}
    unsigned = forge(team, last, payload, None)
    payload2 = {**last.payload, "uid": "e" * 32, "verdict": "flaky"}
    # and starts a chain on another case, signed with a real key that is not ana's
    other_case = last.subject.replace("k0001", "k0002")
    bad = TeamEvent.make("p", "ana", "label", other_case, payload2)
    (bad_sig,) = signing.sign_texts([bad.hash], eve_key, signing.TEAM)
    team.su.execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, prev, "
        "signature, client_at) VALUES (%s, 'p', 'ana', 'label', %s, %s::jsonb, NULL, %s, %s)",
        (bad.hash, bad.subject, canonical_json(bad.payload), bad_sig, bad.client_at),
    )

    before = bo.state()
    result = bo.sync()
    assert result.outcome.statuses == {"refused": 2} and result.outcome.added == 0
    one, two = result.refused
    assert one.startswith(f"event {unsigned.hash[:16]}") and "label by 'ana'" in one
    assert "it carries no signature, and its author 'ana' has a registered signing key" in one
    assert two.startswith(f"event {bad.hash[:16]}") and "label by 'ana'" in two
    assert "its signature does not verify against 'ana''s registered key" in two
    assert bo.state() == before
    assert not {"f" * 32, "e" * 32} & _uids(bo)
    with bo.store() as store:
        status = member.status(store)
    assert [line[:22] for line in status["refused"]] == [
        f"event {unsigned.hash[:16]}",
        f"event {bad.hash[:16]}",
    ]
    assert ": it carries no signature" in status["refused"][0]
    assert bo.sync().pulled == 0  # not read again, still refused
    # ana's own store refuses them too: it never wrote them
    assert ana.sync().outcome.statuses == {"refused": 2}
    assert not {"f" * 32, "e" * 32} & _uids(ana)


def test_a_signed_project_refuses_unsigned_events_and_a_swapped_key(team: Team, tmp_path):
    team.init()
    admin.set_project(team.admin, team.schema, "p", signed=True)
    ana_key = keypair(tmp_path, "ana")
    ana, bo, cy = signed_locals(team, tmp_path, ["ana", "bo", "cy"], {"ana": ana_key})
    cy.label(2, 0)
    with pytest.raises(TeamError, match="requires signatures, and this store has no key"):
        cy.sync()
    assert team.count() == 0  # nothing pushed
    # what a client without the check pushed (a member's own insert) is refused on pull
    client_event = TeamEvent.make("p", "cy", "label", "case:x", {"uid": "c" * 32})
    team.connect("cy").execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, "
        "client_at) VALUES (%s, 'p', 'cy', 'label', %s, %s::jsonb, %s)",
        (client_event.hash, client_event.subject, canonical_json(client_event.payload),
         client_event.client_at),
    )  # fmt: skip
    ana.label(1, 0)
    ana.sync()
    result = bo.sync()
    assert result.outcome.statuses == {"folded": 1, "refused": 1}
    assert (
        "the project requires signatures and its author 'cy' has no registered"
        in (result.refused[0])
    )
    # a superuser swaps ana's registered key: this store pinned the first one
    mallory = keypair(tmp_path, "mallory")
    team.su.execute(
        "UPDATE evaltui.members SET signing_key = %s WHERE reviewer = 'ana'",
        (mallory.with_name("mallory_key.pub").read_text().strip(),),
    )
    with bo.store() as store:
        assert set(store.get_setting(PINNED_SETTING)) == {"ana"}
    ana.label(3, 1)
    assert ana.sync().pushed == 1  # signed with ana's real key
    swapped = bo.sync()
    assert swapped.outcome.statuses == {"refused": 1}
    assert (
        "registered signing key on the server is not the key this store read first"
        in (swapped.refused[0])
    )


def test_joining_with_a_key_that_is_not_the_registered_one_is_refused(team: Team, tmp_path):
    team.init()
    ana_key, other = keypair(tmp_path, "ana"), keypair(tmp_path, "other")
    pub = ana_key.with_name("ana_key.pub").read_text()
    got = admin.add_member(team.admin, team.schema, "p", "ana", "reviewer", signing_key=pub)
    assert got.status == "added; signing key registered"
    again = admin.add_member(team.admin, team.schema, "p", "ana", "reviewer", signing_key=pub)
    assert again.status == "already a member"
    with pytest.raises(TeamError, match="has another signing key registered"):
        admin.add_member(
            team.admin, team.schema, "p", "ana", "reviewer",
            signing_key=other.with_name("other_key.pub").read_text(),
        )  # fmt: skip
    with pytest.raises(TeamError, match="not an OpenSSH public key line"):
        admin.add_member(team.admin, team.schema, "p", "ana", "reviewer",
                         signing_key=ana_key.read_text())  # fmt: skip
    runs = write_runs(tmp_path / "runs", 2)
    local = Local(team, "ana", tmp_path / "ana.db")
    import_runs(local.db, runs)
    with local.store() as store, pytest.raises(TeamError, match="is not the key registered"):
        member.join(store, team.connect("ana"), team.dsn("ana"), "p", team.schema, other)
    # a member cannot set its own key: the members table is the admin's
    with pytest.raises(Exception, match="permission denied"):
        team.connect("ana").execute("UPDATE evaltui.members SET signing_key = NULL")
