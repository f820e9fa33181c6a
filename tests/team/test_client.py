"""Push and pull against a real PostgreSQL; the client refuses what the server altered."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui.store.events import chain_hash
from evaltui.team import TeamError
from evaltui.team.events import ChainCheck, TeamEvent, canonical_json, case_subject

from .conftest import Team

CASE = case_subject("a" * 64, "b" * 64, "suite", "k1")


def chain(author: str, n: int, subject: str = CASE, project: str = "p") -> list[TeamEvent]:
    """n labels by one author on one subject, each following the one before."""
    out: list[TeamEvent] = []
    for i in range(n):
        out.append(
            TeamEvent.make(project, author, "label", subject, {"note": f"{author} {i}"},
                           prev=out[-1].hash if out else None)
        )  # fmt: skip
    return out


def case(i: int) -> str:
    return case_subject("a" * 64, "b" * 64, "suite", f"k{i}")


def test_push_is_idempotent(team: Team):
    team.init()
    ana = team.member("ana")
    events = chain("ana", 3)
    first = ana.push(events)
    assert first.inserted == [e.hash for e in events] and first.present == []
    again = ana.push(events)
    assert again.inserted == [] and again.present == [e.hash for e in events]
    # a fresh client (another of ana's machines) pushing the same events: still one row each
    from evaltui.team.client import TeamClient

    other = TeamClient(team.connect("ana"), "p")
    assert other.push(events[:2]).present == [e.hash for e in events[:2]]
    assert team.count() == 3


def test_pull_returns_events_in_server_order_from_a_cursor(team: Team):
    team.init()
    ana, bo, cy = team.member("ana"), team.member("bo"), team.member("cy", "viewer")
    a, b = chain("ana", 4, case(1)), chain("bo", 3, case(2))
    pushed = []
    for batch in ([a[0]], [b[0], b[1]], a[1:3], [b[2]], [a[3]]):
        (ana if batch[0].author == "ana" else bo).push(batch)
        pushed += batch
    everything = cy.pull(0)
    assert [e.hash for e in everything.events] == [e.hash for e in pushed]
    seqs = [e.server_seq for e in everything.events]
    assert seqs == sorted(seqs) and everything.refused == []
    assert everything.cursor == seqs[-1]
    # from a cursor: only what came after it, a page at a time
    reader = type(cy)(team.connect("cy"), "p")
    page = reader.pull(0, limit=3)
    assert [e.hash for e in page.events] == [e.hash for e in pushed[:3]]
    rest = reader.pull(page.cursor)
    assert [e.hash for e in rest.events] == [e.hash for e in pushed[3:]]
    assert reader.pull(rest.cursor).events == []
    # what was pushed comes back as written (payload, time, link)
    got = {e.hash: e for e in everything.events}
    for e in pushed:
        assert (got[e.hash].payload, got[e.hash].client_at, got[e.hash].prev) == (e.payload, e.client_at, e.prev)  # fmt: skip
        assert got[e.hash].received_at is not None


def test_server_order_is_commit_order(team: Team):
    """A push waits for the one before it to commit, so a reader's cursor never passes a
    sequence number that commits later (which it would then never read)."""
    team.init()
    ana, bo, cy = team.member("ana"), team.member("bo"), team.member("cy", "viewer")
    slow = ana.conn
    slow.execute("BEGIN")
    first = chain("ana", 1)[0]
    slow.execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, prev, "
        "signature, client_at) VALUES (%s, 'p', 'ana', 'label', %s, %s::jsonb, NULL, NULL, %s)",
        (first.hash, first.subject, canonical_json(first.payload), first.client_at),
    )
    second = chain("bo", 1, case(2))[0]
    pushing = threading.Thread(target=bo.push, args=([second],))
    pushing.start()
    # wait on state: bo's insert is blocked on ana's open transaction
    watcher = team.su
    pid = bo.conn.info.backend_pid
    while not watcher.execute(
        "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
    ).fetchone():
        assert pushing.is_alive()
        time.sleep(0.01)  # between looks at the state (not a wait for time to pass)
    assert cy.pull(0).events == []  # nothing committed yet: the cursor stays at 0
    slow.execute("COMMIT")
    pushing.join()
    pulled = cy.pull(0)
    assert [e.hash for e in pulled.events] == [first.hash, second.hash]


def test_a_payload_edited_on_the_server_is_refused_and_named(team: Team):
    team.init()
    ana, bo = team.member("ana"), team.member("bo")
    events = chain("ana", 3)
    ana.push(events)
    team.su.execute("SET session_replication_role = replica")  # a superuser: no triggers
    team.su.execute(
        'UPDATE evaltui.events SET payload = \'{"note": "ana 1", "verdict": "flaky"}\' '
        "WHERE hash = %s",
        (events[1].hash,),
    )
    pulled = bo.pull(0)
    assert [e.hash for e in pulled.events] == [events[0].hash]
    assert [r.event.hash for r in pulled.refused] == [events[1].hash, events[2].hash]
    edited, after = (str(r) for r in pulled.refused)
    assert edited.startswith(f"event {events[1].hash[:16]} (seq 2, label by 'ana' on case:")
    assert "its content does not match its hash" in edited and "changed on the server" in edited
    assert f"it follows event {events[1].hash[:16]}" in after and "which was refused" in after
    assert pulled.cursor == 3  # the refused are not read again and again


def test_a_forged_author_with_a_valid_looking_chain_is_refused_and_named(team: Team):
    """A superuser copies ana's event as bo's, hash recomputed, linked into ana's chain:
    every link hashes right, but an event follows only its own author's."""
    team.init()
    ana, bo, cy = team.member("ana"), team.member("bo"), team.member("cy", "viewer")
    events = chain("ana", 2)
    ana.push(events)
    forged = TeamEvent.make("p", "bo", "label", CASE, {"verdict": "accepted"}, prev=events[1].hash)
    assert forged.content_hash() == forged.hash  # it looks valid on its own
    su = team.su
    su.execute("SET session_replication_role = replica")  # past the chain's foreign key
    su.execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, prev, "
        "client_at) VALUES (%s, 'p', 'bo', 'label', %s, %s::jsonb, %s, %s)",
        (forged.hash, forged.subject, canonical_json(forged.payload), forged.prev,
         forged.client_at),
    )  # fmt: skip
    pulled = cy.pull(0)
    assert [e.hash for e in pulled.events] == [e.hash for e in events]
    (refusal,) = pulled.refused
    assert refusal.event.hash == forged.hash
    assert f"event {forged.hash[:16]} (seq 3, label by 'bo'" in str(refusal)
    assert f"its chain link {events[1].hash[:16]} is 'ana''s event" in str(refusal)
    # bo's own client refuses it the same way (it never wrote it)
    assert [r.event.hash for r in bo.pull(0).refused] == [forged.hash]


def test_a_forged_fork_of_a_real_chain_is_refused_naming_both(team: Team):
    """A superuser drops the one-successor index and writes a second 'next' to bo's chain."""
    team.init()
    bo, cy = team.member("bo"), team.member("cy", "viewer")
    real = chain("bo", 2)
    bo.push(real[:1])
    forged = TeamEvent.make("p", "bo", "label", CASE, {"verdict": "flaky"}, prev=real[0].hash)
    team.su.execute("DROP INDEX evaltui.events_one_successor")
    team.su.execute(
        "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, prev, "
        "client_at) VALUES (%s, 'p', 'bo', 'label', %s, %s::jsonb, %s, %s)",
        (forged.hash, forged.subject, canonical_json(forged.payload), forged.prev,
         forged.client_at),
    )  # fmt: skip
    bo.push(real[1:])
    pulled = cy.pull(0)
    (refusal,) = pulled.refused
    assert refusal.event.hash == real[1].hash
    assert f"forks 'bo''s chain on {CASE[:30]}" in str(refusal)
    assert f"event {forged.hash[:16]} (seq 2, label by 'bo'" in str(refusal)


def test_an_event_deleted_on_the_server_breaks_the_chain_by_name(team: Team):
    team.init()
    ana, cy = team.member("ana"), team.member("cy", "viewer")
    events = chain("ana", 3)
    ana.push(events)
    team.su.execute("SET session_replication_role = replica")
    team.su.execute("DELETE FROM evaltui.events WHERE hash = %s", (events[1].hash,))
    pulled = cy.pull(0)
    assert [e.hash for e in pulled.events] == [events[0].hash]
    (refusal,) = pulled.refused
    assert f"its chain link {events[1].hash[:16]} is no event this client holds" in str(refusal)


def test_push_names_what_the_database_would_refuse(team: Team):
    team.init()
    ana = team.member("ana")
    e = chain("ana", 2)
    with pytest.raises(TeamError, match="comes before the event it follows"):
        ana.push([e[1], e[0]])
    edited = TeamEvent(**{**e[0].__dict__, "payload": {"note": "changed"}})
    with pytest.raises(TeamError, match=f"event {e[0].hash[:16]} .*does not match its content"):
        ana.push([edited])
    with pytest.raises(TeamError, match="is for project 'q', not 'p'"):
        ana.push(chain("ana", 1, project="q"))
    with pytest.raises(TeamError, match="follows one the server does not hold"):
        ana.push(e[1:])
    with pytest.raises(TeamError, match="a reviewer may write label, undo, not adjudication"):
        ana.push([TeamEvent.make("p", "ana", "adjudication", CASE, {})])
    assert team.count() == 0
    stranger = type(ana)(team.connect("team_admin"), "p")
    with pytest.raises(TeamError, match="'team_admin' is not a member of project 'p'"):
        stranger.push(e)


def test_a_payload_that_jsonb_would_rewrite_is_refused_before_hashing():
    for bad in ({"x": "a\x00b"}, {"x": float("nan")}, {"x": 1e-7}, {"x": 1e300}, {"x": -0.0},
                {"x": "\ud800"}, {1: "a"}, {"x": {1, 2}}):  # fmt: skip
        with pytest.raises(ValueError):
            TeamEvent.make("p", "ana", "label", CASE, bad)
    with pytest.raises(ValueError, match="subject starts with 'gold:'"):
        TeamEvent.make("p", "ana", "gold", CASE, {})


def test_every_payload_comes_back_with_the_hash_it_went_in_with(team: Team):
    """jsonb normalises what it stores (key order, spaces, numbers): the hash is over the
    canonical form, which survives the round trip."""
    team.init()
    ana, cy = team.member("ana"), team.member("cy", "viewer")
    payloads = [
        {"b": 1, "a": [1.5, 0.1, 0.0, -2.5, 10**30, True, None], "é": "日本\u202e\x1b[31m"},
        {"nested": {"z": {"y": [{}]}}, "score": 0.30000000000000004, "big": 123456789012345.6},
        {"": "", "tab\t": "line\nbreak", "quote": '"\\'},
    ]
    events = [TeamEvent.make("p", "ana", "label", case(i), p) for i, p in enumerate(payloads)]
    ana.push(events)
    pulled = cy.pull(0)
    assert pulled.refused == []
    assert [e.payload for e in pulled.events] == payloads


def test_the_hash_is_the_local_event_logs_link_hash():
    e = TeamEvent.make("p", "ana", "label", CASE, {"verdict": "accepted"}, client_at="t")
    row = ("p", "ana", "label", CASE, '{"verdict":"accepted"}', "t")
    assert e.hash == chain_hash("", row)
    check = ChainCheck()
    assert check.check(e) is None and check.holds(e.hash)


def test_each_insert_notifies_the_projects_channel(team: Team):
    team.init("p", "q")
    ana = team.member("ana")
    listener = team.member("cy", "viewer")
    listener.conn.execute(f"LISTEN {listener.channel}")
    ana.push(chain("ana", 3))
    # waits on the notification itself (the timeout only bounds a failure)
    (note,) = list(listener.conn.notifies(timeout=120, stop_after=1))
    assert note.channel == listener.channel
    assert note.payload == "3"  # the newest server sequence number, and nothing else
    assert listener.channel != type(ana)(listener.conn, "q").channel


def test_run_digests_are_recorded_once_per_reviewer(team: Team):
    team.init()
    ana, bo = team.member("ana"), team.member("bo")
    assert ana.record_run("c" * 64, "inspect-run-1") is True
    assert ana.record_run("c" * 64, "inspect-run-1") is False
    bo.record_run("c" * 64, "inspect-run-1")
    assert [(d["reviewer"], d["tool_run_id"]) for d in bo.run_digests()] == [
        ("ana", "inspect-run-1"), ("bo", "inspect-run-1")]  # fmt: skip
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.conn.execute(
            "INSERT INTO evaltui.run_digests (project, run_sha256, reviewer) VALUES ('p', %s, 'bo')",
            ("d" * 64,),
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(blacklist_characters="\x00")),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(alphabet=st.characters(blacklist_characters="\x00")), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(payload=JSON)
def test_any_payload_the_client_accepts_keeps_its_hash_through_the_server(team: Team, payload):
    """Whatever TeamEvent.make takes comes back from jsonb hashing the same (what it
    cannot promise, it refuses up front)."""
    if not team.conns:
        team.init()
        team.clients = (team.member("ana"), team.member("cy", "viewer"))  # type: ignore[attr-defined]
    ana, cy = team.clients  # type: ignore[attr-defined]
    try:
        event = TeamEvent.make("p", "ana", "label", case(uuid4().int), {"v": payload})
    except ValueError:
        return  # refused before it is hashed: never pushed
    ana.push([event])
    pulled = cy.pull(0)
    assert pulled.refused == [] and pulled.events[-1].payload == {"v": payload}
