"""`evaltui sync`: local findings pushed as team events, the others' events folded into the
local store, against a real PostgreSQL. Idempotent; a pulled event never speaks for
another reviewer; what the server changed is refused by name and not folded."""

from __future__ import annotations

import pytest

from evaltui.review import triage
from evaltui.team import TeamError, ledger, member
from evaltui.team.client import TeamClient
from evaltui.team.db import Offline
from evaltui.team.events import TeamEvent, canonical_json
from evaltui.team.fold import payload_of
from evaltui.team.sync import Syncer, last_sync

from .conftest import Team
from .stores import Local, import_runs, make_locals, write_runs


def test_labels_travel_both_ways_and_every_store_shows_the_same_state(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    ana.label(1, 0)
    ana.label(2, 1, verdict="real_regression")
    ana.label(3, 2, note="quotes the old policy")
    bo.label(3, 4)  # disagrees with ana on case 3
    bo.label(4, 0, owner="payments")
    first = ana.sync()
    assert (first.pushed, first.pulled, first.outbox) == (3, 0, 0)
    second = bo.sync()
    assert (second.pushed, second.pulled, second.outbox) == (2, 3, 0)
    assert second.outcome.statuses["folded"] == 3 and second.outcome.added == 3
    third = ana.sync()
    assert (third.pushed, third.pulled) == (0, 2)
    assert ana.state() == bo.state()
    states = {r["case_key"]: (r["state"], r["class"], r["reviewers"]) for r in ana.state()["cases"]}
    assert states["k0003"][0] == "disagreement" and states["k0003"][2] == ["ana", "bo"]
    assert states["k0004"] == ("triaged", "unsupported_claim", ["bo"])
    assert team.count() == 5
    # a pulled finding is bo's own word in ana's store: verified, from the team
    with ana.store() as store:
        (f,) = [f for f in triage.history(store, *ana.ids(), ana.case(4))]
    assert (f.reviewer, f.verified, f.source, f.owner) == ("bo", True, "team:p", "payments")


def test_a_second_sync_changes_nothing(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    for i in range(5):
        ana.label(i, i)
        bo.label(i + 3, i)
    ana.sync(), bo.sync(), ana.sync()
    for local in (ana, bo):
        before = local.snapshot()
        again = local.sync()
        assert (again.pushed, again.present, again.pulled, again.outcome.added) == (0, 0, 0, 0)
        assert local.snapshot() == before
    assert team.count() == 10


def test_undo_and_relabel_travel_and_converge(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    ana.label(1, 0)
    ana.label(1, 3)  # relabel
    ana.sync()
    bo.sync()
    undone = ana.undo()
    assert undone is not None and undone.class_key == "unsupported_claim"
    ana.label(2, 5, verdict="flaky")
    assert ana.sync().pushed == 2
    assert bo.sync().outcome.added == 2
    assert ana.state() == bo.state()
    case1 = next(r for r in bo.state()["cases"] if r["case_key"] == "k0001")
    assert case1["class"] == "unsupported_claim"  # back to ana's first label, in bo's store too


def test_a_pulled_event_never_speaks_for_a_name_this_stores_findings_use(team: Team, tmp_path):
    """bo's store holds findings written as 'tester' (its OS user before joining). A team
    member called 'tester' is someone else: their event is not folded as this store's."""
    team.init()
    bo, tester = make_locals(team, tmp_path, [("bo", "reviewer"), ("tester", "reviewer")])
    b, c = bo.ids()
    with bo.store() as store:
        triage.label(store, b, c, bo.case(1), failure_class=None, verdict="flaky")  # as tester
    tester.label(1, 0)
    tester.sync()
    before = bo.state()
    result = bo.sync()
    assert result.outcome.statuses["rejected"] == 1 and result.outcome.added == 0
    (problem,) = result.to_json()["problems"]
    assert "label by 'tester'" in problem
    assert "written as 'tester', a name this store's own findings use" in problem
    assert bo.state() == before
    # and bo's own 'tester' findings are never pushed: the login is bo
    assert result.not_shared == {"tester": 1}
    assert team.count() == 1


def _crafted(team: Team, author: str, kind: str, subject: str, payload: dict, prev=None):
    """An event a member writes with its own client (not from a store)."""
    client = TeamClient(team.connect(author), "p")
    event = TeamEvent.make("p", author, kind, subject, payload, prev=prev)
    client.push([event])
    return event


def test_a_retraction_of_another_reviewers_finding_and_a_reused_uid_are_rejected(
    team: Team, tmp_path
):
    team.init()
    ana, bo, cy = make_locals(
        team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer"), ("cy", "reviewer")]
    )
    f = ana.label(1, 0)
    ana.sync()
    with ana.store() as store:
        (subject,) = {e.subject for e in _ledger_events(store)}
    # cy, a real member, writes an undo of ana's finding, and a label reusing its uid
    undo = {**payload_of(f), "uid": "c" * 32, "undoes": f.uid}
    _crafted(team, "cy", "undo", subject, undo)
    _crafted(team, "cy", "label", subject.replace("k0001", "k0002"),
             {**payload_of(f), "note": "mine now"})  # fmt: skip
    result = bo.sync()
    problems = result.to_json()["problems"]
    assert result.outcome.statuses == {"folded": 1, "rejected": 2}
    assert any("undo by 'cy'" in p and "retracts ana's finding" in p for p in problems)
    assert any("already ana's finding here, with other content" in p for p in problems)
    case1 = next(r for r in bo.state()["cases"] if r["case_key"] == "k0001")
    assert case1["reviewers"] == ["ana"] and case1["class"] == "unsupported_claim"
    assert "k0002" not in {r["case_key"] for r in bo.state()["cases"]}
    assert cy.sync().outcome.statuses["rejected"] == 2  # cy's own store takes neither either


def _ledger_events(store):
    return [
        ledger._event(r)
        for r in store.conn.execute(f"SELECT {ledger._EVENT_COLS} FROM team_events ORDER BY hash")
    ]


def test_an_event_waits_for_a_run_this_store_lacks_then_folds(team: Team, tmp_path):
    team.init()
    runs = write_runs(tmp_path / "runs", 10)
    (ana,) = make_locals(team, tmp_path, [("ana", "reviewer")], runs=runs)
    team.member("bo")
    bo = Local(team, "bo", tmp_path / "bo.db")
    import_runs(bo.db, runs[:1])  # only the baseline
    bo.join()
    ana.label(1, 0)
    ana.label(2, 1)
    ana.sync()
    first = bo.sync()
    assert first.outcome.statuses["waiting"] == 2 and first.outcome.added == 0
    assert "its candidate run (sha256" in first.outcome.waiting[0]
    with bo.store() as store:
        status = __import__("evaltui.team.member", fromlist=["status"]).status(store)
    assert (
        status["events"]["waiting"] == 2
        and "import the same file" in (status["waiting_for"][0]["reason"])
    )
    import_runs(bo.db, runs[1:])  # imported as a second run in bo's store
    second = bo.sync()
    assert second.outcome.added == 2 and second.pulled == 0
    assert bo.state()["findings"] == ana.state()["findings"]


def test_an_event_edited_on_the_server_is_refused_named_and_not_folded(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    ana.label(1, 0)
    ana.label(1, 1)
    ana.label(1, 2)
    ana.label(2, 3)
    ana.sync()
    with ana.store() as store:
        chain = sorted(
            (e for e in _ledger_events(store) if "k0001" in e.subject),
            key=lambda e: e.client_at,
        )
    su = team.su
    su.execute("SET session_replication_role = replica")  # a superuser: past every trigger
    edited = {**chain[1].payload, "verdict": "accepted"}
    su.execute("UPDATE evaltui.events SET payload = %s::jsonb WHERE hash = %s",
               (canonical_json(edited), chain[1].hash))  # fmt: skip
    result = bo.sync()
    assert result.outcome.statuses == {"folded": 2, "refused": 2}
    first, second = result.refused
    assert first.startswith(f"event {chain[1].hash[:16]}") and "does not match its hash" in first
    assert f"it follows event {chain[1].hash[:16]}" in second
    with bo.store() as store:
        uids = {r[0] for r in store.conn.execute("SELECT uid FROM findings")}
        assert chain[1].payload["uid"] not in uids and chain[2].payload["uid"] not in uids
        assert ledger.counts(store)["refused"] == 2
        status = member.status(store)
    assert status["refused"][0].startswith(f"event {chain[1].hash[:16]}")
    # not read again: the next sync pulls nothing and the refusal stays
    assert bo.sync().pulled == 0


def test_two_machines_of_one_reviewer_fork_then_chain_again_and_converge(
    team: Team, tmp_path, monkeypatch
):
    """Both of ana's stores label case 1 offline and sync at once: the laptop pushes
    between the desktop's pull and its push, so the desktop's push forks ana's chain on
    case 1. The server refuses it; the sync pulls the laptop's events and chains after
    them."""
    team.init()
    runs = write_runs(tmp_path / "runs", 10)
    (laptop,) = make_locals(team, tmp_path, [("ana", "reviewer")], runs=runs)
    desktop = Local(team, "ana", tmp_path / "desktop.db")
    import_runs(desktop.db, runs)
    desktop.join()
    laptop.label(1, 0)
    laptop.label(2, 0)
    desktop.label(1, 5)
    desktop.label(3, 5)
    real, raced = Syncer.push, []

    def racing(self):
        if self.store.path == desktop.db and not raced:
            raced.append(laptop.sync())  # the laptop's sync lands in between
        return real(self)

    monkeypatch.setattr(Syncer, "push", racing)
    second = desktop.sync()
    assert raced[0].pushed == 2
    assert second.conflicts == 1 and second.pushed == 2 and second.pulled == 2
    laptop.sync()
    assert laptop.state() == desktop.state()
    assert team.count() == 4
    case1 = next(r for r in laptop.state()["cases"] if r["case_key"] == "k0001")
    assert case1["class"] == "unsafe_tool_action" and case1["reviewers"] == ["ana"]  # the later


def test_a_push_not_recorded_here_comes_back_and_is_adopted_once(team: Team, tmp_path, monkeypatch):
    """Killed between the server's commit and the ledger's: the next sync pulls the events
    back and takes them as this store's own findings (no copy, nothing pushed twice)."""
    team.init()
    (ana,) = make_locals(team, tmp_path, [("ana", "reviewer")])
    for i in range(4):
        ana.label(i, i)
    real = Syncer._send

    def lost(self, batch):
        self.client.push([e for e, _ in batch])
        raise TeamError("the process died here")

    monkeypatch.setattr(Syncer, "_send", lost)
    with pytest.raises(TeamError, match="died here"):
        ana.sync()
    monkeypatch.setattr(Syncer, "_send", real)
    assert team.count() == 4
    with ana.store() as store:
        assert ledger.outbox_size(store, "ana")[0] == 4
    again = ana.sync()
    assert (again.pushed, again.pulled, again.outcome.statuses["folded"]) == (0, 4, 4)
    assert again.outcome.added == 0 and again.outbox == 0
    with ana.store() as store:
        assert store.conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 4
        assert ledger.counts(store)["folded"] == 4
    assert team.count() == 4


def test_an_adjudication_by_a_reviewer_stays_local_and_an_adjudicators_travels(
    team: Team, tmp_path
):
    team.init()
    ana, judge = make_locals(team, tmp_path, [("ana", "reviewer"), ("judge", "adjudicator")])
    ana.label(1, 0)
    ana.label(1, 1, adjudicate=True)
    result = ana.sync()
    assert (result.pushed, result.not_allowed, result.outbox) == (1, 1, 0)
    judge.sync()
    judge.label(1, 3, adjudicate=True)
    judge.sync()
    ana.sync()
    case1 = next(r for r in ana.state()["cases"] if r["case_key"] == "k0001")
    assert case1["state"] == "adjudicated" and case1["class"] == "source_conflict"


def test_blind_review_reveals_a_case_once_labelled(team: Team, tmp_path):
    team.init(blind=True)
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    bo.label(1, 0)
    bo.label(2, 0)
    bo.sync()
    assert ana.sync().pulled == 0  # bo's labels are hidden from ana
    ana.label(1, 4)
    result = ana.sync()
    assert result.pushed == 1 and result.outcome.added == 1  # bo's label on case 1 only
    case1 = next(r for r in ana.state()["cases"] if r["case_key"] == "k0001")
    assert case1["state"] == "disagreement"
    assert "k0002" not in {r["case_key"] for r in ana.state()["cases"]}


def test_offline_the_sync_fails_in_one_line_and_the_outbox_waits(team: Team, tmp_path):
    team.init()
    (ana,) = make_locals(team, tmp_path, [("ana", "reviewer")])
    ana.label(1, 0)
    with ana.store() as store:
        link = ledger.link(store)
        assert link is not None
        gone = link.url.replace(f"host={team.server.root}", f"host={tmp_path / 'nowhere'}")
        store.set_setting(ledger.LINK_SETTING, {**link.to_setting(), "url": gone})
    with pytest.raises(Offline, match="could not connect to the team store"):
        ana.sync()
    with ana.store() as store:
        assert ledger.outbox_size(store, "ana")[0] == 1
        last = last_sync(store)
        assert "could not connect" in last["error"] and "ok_at" not in last
        assert member.status(store)["outbox"] == 1


def test_two_projects_in_one_database_do_not_see_each_other(team: Team, tmp_path):
    team.init("p", "q")
    runs = write_runs(tmp_path / "runs", 10)
    (ana,) = make_locals(team, tmp_path, [("ana", "reviewer")], runs=runs)
    team.member("bo", "reviewer", "q")
    bo = Local(team, "bo", tmp_path / "bo.db", "q")
    import_runs(bo.db, runs)
    bo.join()
    ana.label(1, 0)
    bo.label(2, 0)
    ana.sync(), bo.sync()
    assert (ana.sync().pulled, bo.sync().pulled) == (0, 0)
    assert {r["case_key"] for r in ana.state()["cases"]} == {"k0001"}
    assert {r["case_key"] for r in bo.state()["cases"]} == {"k0002"}


def test_a_finding_jsonb_would_alter_stays_local_and_is_named(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    ana.label(1, 0, note="a NUL \x00 in a note")
    ana.label(2, 0)
    result = ana.sync()
    assert (result.pushed, result.not_shareable, result.outbox) == (1, 1, 0)
    (problem,) = result.to_json()["problems"]
    assert "(label): payload.note: holds a NUL character" in problem
    assert bo.sync().outcome.added == 1


def test_an_event_dated_ahead_of_this_clock_waits_and_says_so(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    f = ana.label(1, 0)
    ana.sync()
    with ana.store() as store:
        (event,) = _ledger_events(store)
    ahead = TeamEvent.make("p", "cy", "label", event.subject, {**payload_of(f), "uid": "d" * 32},
                           client_at="2999-01-01T00:00:00.000000+00:00")  # fmt: skip
    team.member("cy")
    TeamClient(team.connect("cy"), "p").push([ahead])
    first = bo.sync()
    assert first.outcome.statuses == {"folded": 1, "waiting": 1}
    assert "dated 2999-01-01T00:00:00.000000+00:00, ahead of this clock" in first.outcome.waiting[0]
    before = bo.snapshot()
    again = bo.sync()
    assert again.outcome.statuses == {"waiting": 1} and bo.snapshot() == before


def test_a_store_shares_with_one_project(team: Team, tmp_path):
    team.init("p", "q")
    (ana,) = make_locals(team, tmp_path, [("ana", "reviewer")])
    team.member("ana", "reviewer", "q")
    with ana.store() as store:
        store.set_setting(ledger.CURSOR_SETTING, 7, log=False)  # as a blind pull leaves it
        joined = member.join(store, team.connect("ana"), team.dsn("ana"), "q", "evaltui")
        assert joined.status == "joined" and ledger.cursor(store) == 0  # q's sequence
    ana.project = "q"
    ana.label(1, 0)
    assert ana.sync().pushed == 1
    with ana.store() as store, pytest.raises(TeamError, match="shares with project 'q'"):
        member.join(store, team.connect("ana"), team.dsn("ana"), "p", "evaltui")
