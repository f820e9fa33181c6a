"""Hidden gold answers shared through the team store: an adjudicator's answer travels to the
other adjudicators' stores (never to a reviewer's), is folded there as a gold item in force
with its author as `set_by`, is withdrawn everywhere, and every store holding the same
events holds the same answers in force whatever order it folded them in. What a store
cannot take is rejected or waits, named."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.review.calibration import gold, judgments, triage_gold
from evaltui.review.calibration.gold import GoldItem
from evaltui.store import Store, runs
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, ResultRef
from evaltui.team import gold as team_gold
from evaltui.team import member
from evaltui.team.client import TeamClient
from evaltui.team.events import (
    GoldSubject,
    TeamEvent,
    canonical_json,
    gold_subject,
    parse_gold_subject,
    run_identity,
)

from .conftest import Team
from .stores import Local, import_runs, make_locals, write_runs

SHA = "c" * 64


# -- the subject --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        (SHA, "s", "k0001", 0, ""),
        (f"{SHA}#0:openai:gpt-4o", "suite/β", 'k "1"', 3, "helpfulness"),
        (SHA, "", "", 2**53, "verdict"),
    ],
)
def test_a_gold_subject_names_a_result_and_a_criterion_and_parses_back(parts):
    subject = gold_subject(*parts)
    assert subject == "gold:" + canonical_json(list(parts))
    assert parse_gold_subject(subject) == GoldSubject(*parts)


@pytest.mark.parametrize(
    "subject",
    [
        "gold:" + canonical_json(["s", "k0001"]),  # the old shape: no run, no criterion
        "gold:" + canonical_json([SHA, "s", "k0001", 0]),
        "gold:" + canonical_json([SHA, "s", "k0001", 0, "", "x"]),
        "gold:" + canonical_json(["not-a-digest", "s", "k0001", 0, ""]),
        "gold:" + canonical_json([SHA.upper(), "s", "k0001", 0, ""]),
        "gold:" + canonical_json([SHA, "s", "k0001", -1, ""]),
        "gold:" + canonical_json([SHA, "s", "k0001", 1.0, ""]),
        "gold:" + canonical_json([SHA, "s", "k0001", True, ""]),
        "gold:" + canonical_json([SHA, "s", "k0001", "0", ""]),
        "gold:" + canonical_json([SHA, "s", None, 0, ""]),
        "gold:" + json.dumps([SHA, "s", "k0001", 0, ""]),  # not canonical (spaces)
        "gold:{}",
        "gold:[",
        "case:" + canonical_json([SHA, "s", "k0001", 0, ""]),
    ],
)
def test_anything_else_is_not_a_gold_subject(subject):
    assert parse_gold_subject(subject) is None


# -- in force: by time, then uid, never by arrival ----------------------------------------


def _item(ref: ResultRef, uid: str, answer: str | None, at: str) -> GoldItem:
    return GoldItem(uid, ref, VERDICT, answer, None, "adj", at)


def test_the_item_in_force_is_the_latest_by_time_then_uid_in_whatever_order_it_arrived(
    tmp_path,
):
    runs = write_runs(tmp_path / "runs", 3)
    t1, t2 = "2026-12-01T10:00:00.000000+00:00", "2026-12-01T11:00:00.000000+00:00"
    orders = [["late", "tie-a", "tie-b", "early"], ["early", "tie-b", "tie-a", "late"]]
    seen = []
    for n, order in enumerate(orders):
        db = tmp_path / f"{n}.db"
        import_runs(db, runs)
        with Store(db) as store:
            cand = store.conn.execute("SELECT max(id) FROM runs").fetchone()[0]
            one, two = (ResultRef(cand, c, 0) for c in (1, 2))
            made = {
                "early": _item(one, "e" * 32, "fail", t1),
                "late": _item(one, "a" * 32, "pass", t2),  # later: wins though its uid is less
                "tie-a": _item(two, "a" * 32 + "2", "pass", t1),
                "tie-b": _item(two, "b" * 32 + "2", "fail", t1),  # same time: the greater uid
            }
            gold.add_imported(store, [made[k] for k in order])
            seen.append([(g.ref.case_id, g.answer, g.uid) for g in gold.in_force(store.conn)])
    assert seen[0] == seen[1] == [(1, "pass", "a" * 32), (2, "fail", "b" * 32 + "2")]


# -- through the team store ---------------------------------------------------------------


def set_gold(
    local: Local, i: int, answer: str | None, by: str | None = None, note: str | None = None
) -> GoldItem:
    _, cand = local.ids()
    ref = ResultRef(cand, local.case(i), 0)
    with local.store() as store:
        return gold.set_answer(store, ref, VERDICT, answer, note=note, by=by or local.name)


def in_force(local: Local) -> list[tuple[str, str, str | None, str, str, str]]:
    """(case key, criterion, answer, set by, uid, source) of each item in force."""
    with local.store() as store:
        keys = grader.case_keys(store.conn, [g.ref.case_id for g in gold.in_force(store.conn)])
        return [
            (keys[g.ref.case_id][1], g.criterion, g.answer, g.set_by, g.uid, g.source)
            for g in gold.in_force(store.conn)
        ]


def rows(local: Local) -> list[str]:
    """The uids of the store's gold rows, in the order it wrote them."""
    with local.store() as store:
        return [r[0] for r in store.conn.execute("SELECT uid FROM gold ORDER BY id")]


def subject_of(local: Local, i: int, criterion: str = VERDICT, epoch: int = 0) -> str:
    _, cand = local.ids()
    with local.store() as store:
        source = runs.run_digests(store, [cand])[cand]
    return gold_subject(run_identity(*source), "s", f"k{i:04d}", epoch, criterion)


def payload(uid: str = "u" * 32, answer: str | None = "pass", **more) -> dict:
    return {"uid": uid, "answer": answer, "note": None, **more}


NOW = "2026-12-06T10:00:00.000000+00:00"


def forged(author: str, subject: str, body: dict, at: str = NOW) -> TeamEvent:
    """A gold event as another client (or a member's own tool) writes it."""
    return TeamEvent.make("p", author, "gold", subject, body, client_at=at)


def test_an_adjudicators_answer_reaches_adjudicators_only_and_counts_there(team: Team, tmp_path):
    team.init()
    ana, bo, cy = make_locals(
        team, tmp_path, [("ana", "adjudicator"), ("bo", "adjudicator"), ("cy", "reviewer")]
    )
    item = set_gold(ana, 1, "fail", note="the refund is wrong")
    first = ana.sync()
    assert (first.pushed, first.not_allowed, first.outbox) == (1, 0, 0)
    (event,) = team.su.execute(
        "SELECT author, subject, payload, client_at FROM evaltui.events WHERE kind = 'gold'"
    ).fetchall()
    assert event == (
        "ana",
        subject_of(ana, 1),
        {"uid": item.uid, "answer": "fail", "note": "the refund is wrong"},
        item.at,
    )

    got = bo.sync()
    assert got.outcome.statuses == {"folded": 1}
    assert in_force(bo) == [("k0001", VERDICT, "fail", "ana", item.uid, "team:p")]
    with bo.store() as store:
        (held,) = gold.in_force(store.conn)
        assert (held.at, held.note) == (item.at, "the refund is wrong")
        # the event log says a gold item was set, by whom, its uid: not which, nor what
        logged = store.conn.execute(
            "SELECT actor, action, entity_id, after, context FROM events WHERE action LIKE 'gold.%'"
        ).fetchall()
    assert logged == [
        ("ana", "gold.set", item.uid, '{"criterion":"verdict"}', '{"source":"team:p"}')
    ]
    before = bo.snapshot()
    assert bo.sync().pulled == 0 and bo.snapshot() == before  # a second sync: nothing
    assert ana.sync().pushed == 0  # ana's answer is not pushed again

    # the reviewer's store never receives it
    mine = cy.sync()
    assert mine.pulled == 0
    assert in_force(cy) == [] and rows(cy) == []

    # in bo's store the folded answer scores reviewers as a local one does: a blind
    # judgment on the result, and cy's triage answer on the case (pulled too)
    _, cand = bo.ids()
    with bo.store() as store:
        judgments.record(
            store,
            ResultRef(cand, bo.case(1), 0),
            VERDICT,
            "fail",
            reviewer="rae",
            purpose="gold",
        )
        scored = gold.accuracy(store.conn)
    assert [(s.reviewer, s.overall.correct, s.overall.n) for s in scored] == [("rae", 1, 1)]
    cy.label(1, verdict="grader_wrong")  # says the candidate's fail is wrong: not right
    cy.sync()
    bo.sync()
    with bo.store() as store:
        on_triage = triage_gold.accuracy(store.conn)
    assert [(t.reviewer, t.overall.correct, t.overall.n) for t in on_triage] == [("cy", 0, 1)]

    # ana withdraws it: withdrawn in bo's store too
    withdrawn = set_gold(ana, 1, None)
    assert ana.sync().pushed == 1
    assert bo.sync().outcome.statuses == {"folded": 1}
    assert in_force(bo) == [] and rows(bo) == [item.uid, withdrawn.uid]
    assert cy.sync().pulled == 0 and rows(cy) == []


def test_stores_folding_the_same_answers_in_other_orders_hold_the_same_in_force(
    team: Team, tmp_path
):
    team.init()
    ana, bo, dee = make_locals(
        team, tmp_path, [(n, "adjudicator") for n in ("ana", "bo", "dee")], n=5
    )
    a = set_gold(ana, 1, "pass")
    b = set_gold(bo, 1, "fail")  # later: in force everywhere
    ana.sync()  # pushes a
    bo.sync()  # folds a after its own b, pushes b
    ana.sync()  # folds b after its own a
    dee.sync()  # folds both in server order
    assert (rows(ana), rows(bo), rows(dee)) == ([a.uid, b.uid], [b.uid, a.uid], [a.uid, b.uid])
    assert a.at < b.at
    expected = [("k0001", VERDICT, "fail", "bo", b.uid)]
    for local in (ana, bo, dee):
        assert [r[:5] for r in in_force(local)] == expected, local.name

    # a withdrawal by either adjudicator, the latest item, withdraws it everywhere
    set_gold(ana, 1, None)
    ana.sync()
    for local in (bo, dee, ana):
        local.sync()
        assert in_force(local) == [], local.name


def test_what_a_store_cannot_take_is_rejected_and_named(team: Team, tmp_path):
    team.init()
    (bo,) = make_locals(team, tmp_path, [("bo", "adjudicator")], n=8)
    mine = set_gold(bo, 7, "pass")  # bo's own, whose uid a forgery reuses
    local_name = set_gold(bo, 6, "fail", by="tester")  # set here under the OS name
    ana = team.member("ana", "adjudicator")
    tester = team.member("tester", "adjudicator")
    bad = {
        "old subject": forged("ana", "gold:" + canonical_json(["s", "k0001"]), payload()),
        "extra field": forged("ana", subject_of(bo, 2), payload(**{"class": "x"})),
        "bad answer": forged("ana", subject_of(bo, 3), payload(answer="maybe")),
        "not UTC": forged("ana", subject_of(bo, 4), payload(), "2026-12-06T10:00:00+05:00"),
        "uid reused": forged("ana", subject_of(bo, 5), payload(uid=mine.uid, answer="fail")),
    }
    ana.push(list(bad.values()))
    named = forged("tester", subject_of(bo, 6), payload("t" * 32))
    tester.push([named])

    got = bo.sync()
    assert got.outcome.statuses == {"rejected": 6}
    assert (got.pushed, got.outbox) == (1, 0)  # bo's own; what tester set here stays here
    why = {
        e.hash: line
        for e in [*bad.values(), named]
        for line in got.outcome.rejected
        if line.startswith(f"event {e.hash[:16]}")
    }
    expect = {
        "old subject": "its subject is not a gold answer's (gold:[run identity, suite, case key",
        "extra field": "its payload is not a gold answer: class: Extra inputs are not permitted",
        "bad answer": "its payload is not a gold answer: answer: Input should be 'pass' or",
        "not UTC": "its time '2026-12-06T10:00:00+05:00' is not UTC ISO 8601 to the microsecond",
        "uid reused": f"its gold uid {mine.uid[:16]} is already another gold item here, with "
        "other content",
    }
    for name, text in expect.items():
        assert text in why[bad[name].hash], name
    assert (
        "written as 'tester', a name this store's own findings or gold answers use"
        in (why[named.hash])
    )
    with bo.store() as store:
        status = member.status(store)
        assert [(g.uid, g.set_by, g.source) for g in gold.in_force(store.conn)] == [
            (local_name.uid, "tester", "local"),
            (mine.uid, "bo", "local"),
        ]
    assert status["events"]["rejected"] == 6
    assert sorted(line.split(":")[0] for line in status["rejected"]) == sorted(
        line.split(":")[0] for line in got.outcome.rejected
    )
    assert bo.sync().outcome.statuses == {}  # not tried again


def test_an_answer_waits_for_the_run_and_its_criterion_then_folds(team: Team, tmp_path):
    team.init()
    runs = write_runs(tmp_path / "runs", 5)
    (ana,) = make_locals(team, tmp_path, [("ana", "adjudicator")], runs=runs)
    team.member("dee", "adjudicator")
    dee = Local(team, "dee", tmp_path / "dee.db")
    dee.join()  # a store that has not imported the runs yet
    item = set_gold(ana, 2, "pass")
    ana.sync()
    odd = forged("ana", subject_of(ana, 3, criterion="rubric"), payload("r" * 32))
    later = "2099-01-01T00:00:00.000000+00:00"
    ahead = forged("ana", subject_of(ana, 4), payload("f" * 32), later)
    TeamClient(team.connect("ana"), "p").push([odd, ahead])

    first = dee.sync()
    assert first.outcome.statuses == {"waiting": 3}
    with dee.store() as store:
        status = member.status(store)
    reasons = {w["reason"]: w["events"] for w in status["waiting_for"]}
    sha = subject_of(ana, 2).split('"')[1][:12]
    assert reasons[f"its run (sha256 {sha}) is not in this store: import the same file"] == 2
    assert any(
        r.startswith("it is dated 2099-01-01T00:00:00.000000+00:00, ahead of this clock")
        for r in reasons
    )
    assert in_force(dee) == []

    import_runs(dee.db, runs)
    again = dee.sync()  # the waiting ones are tried again at once
    assert again.outcome.statuses == {"folded": 1, "waiting": 2}
    assert in_force(dee) == [("k0002", VERDICT, "pass", "ana", item.uid, "team:p")]
    with dee.store() as store:
        waiting = {w["reason"] for w in member.status(store)["waiting_for"]}
    assert any("its run scores no such criterion in this store" in w for w in waiting)
    assert dee.sync().outcome.statuses == {"waiting": 2}  # still waiting, tried each sync


def test_an_answer_pushed_but_not_recorded_comes_back_and_is_adopted_once(team: Team, tmp_path):
    team.init()
    (ana,) = make_locals(team, tmp_path, [("ana", "adjudicator")], n=3)
    item = set_gold(ana, 1, "fail")
    with ana.store() as store:
        ((held, subject),) = team_gold.outbox(store, "ana")
    assert held == item
    # the push reached the server, and the process died before the ledger recorded it
    TeamClient(team.connect("ana"), "p").push([team_gold.event_of(item, subject, "p", None)])
    got = ana.sync()
    assert (got.pulled, got.outcome.statuses, got.pushed, got.outbox) == (1, {"folded": 1}, 0, 0)
    assert rows(ana) == [item.uid] and team.count("kind = 'gold'") == 1
    assert in_force(ana) == [("k0001", VERDICT, "fail", "ana", item.uid, "local")]


def test_a_non_adjudicators_gold_stays_in_its_store(team: Team, tmp_path):
    team.init()
    cy, bo = make_locals(team, tmp_path, [("cy", "reviewer"), ("bo", "adjudicator")], n=3)
    set_gold(cy, 1, "pass")  # no adjudicators listed in cy's store: anyone may set gold
    got = cy.sync()
    assert (got.pushed, got.not_allowed, got.outbox) == (0, 1, 0)
    assert team.count("kind = 'gold'") == 0
    assert bo.sync().pulled == 0 and rows(bo) == []
    assert len(in_force(cy)) == 1


def test_gold_from_the_command_line_travels_and_the_cli_gives_no_answer_away(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "adjudicator"), ("bo", "adjudicator")], n=3)
    runner = CliRunner()

    def run(local: Local, *args: str):
        out = runner.invoke(
            cli, ["--db", str(local.db), *args], env={"EVALTUI_REVIEWER": local.name}
        )
        assert out.exit_code == 0, out.output
        return out.output

    run(ana, "gold", "add", "2", "k0001", "--answer", "fail", "--note", "secret note")
    pushed = json.loads(run(ana, "sync", "--json"))
    assert (pushed["pushed"], pushed["outbox"], pushed["not_allowed"]) == (1, 0, 0)
    # and one another client wrote wrong, on the same result (another criterion)
    odd = forged("ana", subject_of(ana, 1, criterion="tone"), payload(**{"class": "x"}))
    TeamClient(team.connect("ana"), "p").push([odd])
    pulled = json.loads(run(bo, "sync", "--json"))
    counts = {k: pulled[k] for k in ("pulled", "folded", "rejected", "waiting")}
    assert counts == {"pulled": 2, "folded": 1, "rejected": 1, "waiting": 0}
    assert pulled["problems"] == [
        f"event {odd.hash[:16]} (seq 2, gold by 'ana' on a gold answer): its payload is not a "
        "gold answer: class: Extra inputs are not permitted"
    ]
    status = json.loads(run(bo, "team", "status", "--json", "--offline"))
    assert status["events"] == {"folded": 1, "waiting": 0, "kept": 0, "rejected": 1, "refused": 0}
    assert status["rejected"] == pulled["problems"]
    listed = run(bo, "gold", "list")
    assert "k0001" in listed and "fail" in listed and "ana" in listed
    for args in (("log",), ("log", "--json"), ("sync",), ("team", "status")):
        out = run(bo, *args)
        assert "k0001" not in out and "fail" not in out and "secret" not in out, args
