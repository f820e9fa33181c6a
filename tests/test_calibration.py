"""Measuring the judges over the store (#27): judgments as append-only events, their fold,
the calibration labels and the judgment set's hash; samples drawn and kept; gold answers
and reviewers' accuracy; the judging queue's gold mix; the figures of the demo's story."""

from __future__ import annotations

import sqlite3

import pytest

from evaltui.errors import InputError, StoreTamperedError
from evaltui.review import triage
from evaltui.review.calibration import demo, gold, judgments, queue, report, samples
from evaltui.review.calibration.export import report_json
from evaltui.store import Store
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, ResultRef

PROD, CAND, FALLBACK = 1, 2, 3


def _ref(store, run: int, key: str) -> ResultRef:
    (case_id,) = store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()
    return grader.resolve_result(store.conn, run, case_id, None)


# -- the tables -----------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["judgments", "gold", "calibration_samples"])
def test_the_tables_are_append_only(demo_store, table):
    ref = _ref(demo_store, CAND, "billing-001")
    judgments.record(demo_store, ref, "grounded", "pass")
    gold.set_answer(demo_store, ref, "grounded", "pass")
    samples.draw(demo_store, CAND, "grounded", n=3, seed=1)
    for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            demo_store.conn.execute(sql)


def test_a_store_whose_judgment_trigger_was_dropped_is_refused(db_path, demo_store):
    demo_store.conn.execute("DROP TRIGGER judgments_no_delete")
    demo_store.close()
    with pytest.raises(StoreTamperedError, match="judgments_no_delete"):
        Store(db_path)


def test_each_judgment_is_an_event_in_the_chain(demo_store):
    ref = _ref(demo_store, CAND, "billing-001")
    before = demo_store.event_count()
    judgments.record(demo_store, ref, "grounded", "fail", note="claims an action", reviewer="ana")
    judgments.undo(demo_store, ref, "grounded", reviewer="ana")
    events = demo_store.events()[before:]
    assert [e.action for e in events] == ["judgment.record", "judgment.undo"]
    assert events[0].actor == "ana" and events[0].after == {
        "criterion": "grounded",
        "verdict": "fail",
        "note": "claims an action",
    }
    assert demo_store.verify_chain() == []


# -- the fold and the labels ------------------------------------------------------------------


def test_undo_returns_to_the_state_before_the_judgment_it_undoes(demo_store):
    ref = _ref(demo_store, CAND, "billing-001")
    judgments.record(demo_store, ref, "grounded", "pass", reviewer="ana")
    judgments.record(demo_store, ref, "grounded", "fail", reviewer="ana")

    def state():
        found = judgments.in_force(demo_store.conn, [CAND], "grounded").get((ref, "ana"))
        return None if found is None else found.verdict

    assert state() == "fail"
    assert judgments.undo(demo_store, ref, "grounded", reviewer="ana").verdict == "pass"
    assert state() == "pass"
    judgments.undo(demo_store, ref, "grounded", reviewer="ana")
    assert state() is None
    assert judgments.undo(demo_store, ref, "grounded", reviewer="ana") is None  # nothing left
    kinds = [j.kind for j in judgments.history(demo_store.conn, ref, "grounded")]
    assert kinds == ["judgment", "judgment", "undo", "undo"]  # every action kept


def test_labels_agree_dispute_and_leave_unsure_out(demo_store):
    a, b, c = (_ref(demo_store, CAND, k) for k in ("billing-001", "billing-002", "billing-003"))
    judgments.record(demo_store, a, "grounded", "pass", reviewer="ana")
    judgments.record(demo_store, a, "grounded", "pass", reviewer="ben")
    judgments.record(demo_store, b, "grounded", "pass", reviewer="ana")
    judgments.record(demo_store, b, "grounded", "fail", reviewer="ben")
    judgments.record(demo_store, c, "grounded", "unsure", reviewer="ana")
    found = judgments.labels(demo_store.conn, [CAND], "grounded")
    assert [(x.ref, x.verdict) for x in found.labels] == [(a, "pass"), (b, None)]
    assert (len(found.agreed), found.disputed, found.unsure) == (1, 1, 1)
    assert found.reviewers == ["ana", "ben"]


def test_the_judgment_set_hash_follows_the_judgments(demo_store):
    a = _ref(demo_store, CAND, "billing-001")
    empty = judgments.set_hash(
        demo_store.conn, judgments.labels(demo_store.conn, [CAND], "grounded")
    )
    judgments.record(demo_store, a, "grounded", "pass", reviewer="ana")
    one = judgments.set_hash(demo_store.conn, judgments.labels(demo_store.conn, [CAND], "grounded"))
    assert one != empty and len(one) == 64
    again = judgments.set_hash(
        demo_store.conn, judgments.labels(demo_store.conn, [CAND], "grounded")
    )
    assert again == one  # read twice, the same
    judgments.record(demo_store, a, "grounded", "fail", reviewer="ana")
    changed = judgments.set_hash(
        demo_store.conn, judgments.labels(demo_store.conn, [CAND], "grounded")
    )
    assert changed not in (one, empty)


def test_a_judgment_names_a_result_that_exists(demo_store):
    with pytest.raises(InputError):
        judgments.record(demo_store, ResultRef(CAND, 1, 99), "grounded", "pass")
    with pytest.raises(InputError, match="unknown verdict"):
        judgments.record(demo_store, _ref(demo_store, CAND, "billing-001"), "grounded", "maybe")  # type: ignore[arg-type]


# -- samples ----------------------------------------------------------------------------------


def test_a_sample_is_seeded_kept_and_draws_passes_and_fails(demo_store):
    one = samples.draw(demo_store, CAND, "grounded", n=40, seed=7)
    two = samples.draw(demo_store, CAND, "grounded", n=40, seed=7)
    other = samples.draw(demo_store, CAND, "grounded", n=40, seed=8)
    assert one.items == two.items and one.items != other.items and len(one.items) == 40
    assert one.frame["hash"] == two.frame["hash"] and one.frame["size"] == 568  # 525 + 43
    drawn = {(s["verdict"]): s["drawn"] for s in one.frame["strata"]}
    assert drawn == {"pass": 37, "fail": 3}  # proportional: 40 x 525/568 = 36.97
    said = grader.verdicts(demo_store.conn, one.items, "grounded")
    assert sorted(set(said.values())) == ["fail", "pass"]
    kept = samples.get_sample(demo_store.conn, str(one.id))
    assert kept == one and samples.get_sample(demo_store.conn, one.uid[:8]) == one


def test_a_per_segment_sample_draws_each_segment_alike(demo_store):
    kept = samples.draw(
        demo_store, CAND, "grounded", n=30, seed=7, dimension="risk", per_segment=True
    )
    by_seg: dict[str, int] = {}
    for s in kept.frame["strata"]:
        by_seg[s["segment"]] = by_seg.get(s["segment"], 0) + s["drawn"]
    assert by_seg == {"high": 10, "low": 10, "medium": 10}
    assert kept.frame["self_weighting"] is False  # segments at different fractions: said


def test_a_sample_refuses_what_cannot_be_drawn(demo_store):
    with pytest.raises(InputError, match="1 to"):
        samples.draw(demo_store, CAND, "grounded", n=0, seed=1)
    with pytest.raises(InputError, match="--by"):
        samples.draw(demo_store, CAND, "grounded", n=5, seed=1, per_segment=True)
    with pytest.raises(InputError, match="nothing to sample"):
        samples.draw(demo_store, CAND, "no-such-criterion", n=5, seed=1)


# -- gold, the queue ------------------------------------------------------------------------


def test_gold_is_mixed_into_the_queue_at_its_rate_unmarked_and_stable(demo_store):
    pool = [r.ref for r in grader.frame(demo_store.conn, FALLBACK, "grounded")][:40]
    for ref in pool:
        gold.set_answer(demo_store, ref, "grounded", "pass", by="lead")
    kept = samples.draw(demo_store, CAND, "grounded", n=30, seed=7, gold_rate=0.25)
    q = queue.build(demo_store.conn, kept, "ana")
    golds = [it for it in q if it.purpose == "gold"]
    assert len(q) == 40 and len(golds) == 10  # 30 x 0.25 / 0.75 = 10: a quarter of the queue
    assert [it.ref for it in q if it.purpose == "calibration"] == list(kept.items)  # in order
    assert {it.ref for it in golds} <= set(pool)
    assert q == queue.build(demo_store.conn, kept, "ana")  # the same each time it opens
    assert q != queue.build(demo_store.conn, kept, "ben")  # seeded per reviewer
    # what is judged leaves the queue; gold answered is not asked again
    judgments.record(demo_store, q[0].ref, "grounded", "pass", reviewer="ana", purpose=q[0].purpose)
    later = queue.build(demo_store.conn, kept, "ana")
    assert q[0].ref not in {it.ref for it in later}


def test_reviewer_accuracy_on_gold_by_class_and_the_session_feedback(demo_store):
    refs = [r.ref for r in grader.frame(demo_store.conn, FALLBACK, "grounded")][:10]
    answers = ["pass"] * 6 + ["fail"] * 4
    for ref, answer in zip(refs, answers, strict=True):
        gold.set_answer(demo_store, ref, "grounded", answer, by="lead")
    said = ["pass"] * 6 + ["fail", "fail", "pass", "unsure"]  # 8 of 10 right
    for ref, s in zip(refs, said, strict=True):
        judgments.record(demo_store, ref, "grounded", s, reviewer="ana", purpose="gold")
    (acc,) = gold.accuracy(demo_store.conn, "grounded")
    assert (acc.reviewer, acc.overall.correct, acc.overall.n, acc.unsure) == ("ana", 8, 10, 1)
    assert (acc.on_pass.correct, acc.on_pass.n, acc.on_fail.correct, acc.on_fail.n) == (6, 6, 2, 4)
    assert acc.overall.lower == pytest.approx(0.490162, abs=1e-6)  # Wilson, 8 of 10
    items = [queue.QueueItem(r, "grounded", "s", "gold") for r in refs]
    fb = queue.feedback(demo_store.conn, "ana", items)
    assert (fb.answered, fb.right, fb.wrong) == (10, 8, (refs[8], refs[9]))


def test_only_an_adjudicator_sets_gold_and_the_log_does_not_give_it_away(demo_store):
    triage.set_adjudicators(demo_store, ["lead"])
    ref = _ref(demo_store, CAND, "billing-001")
    with pytest.raises(InputError, match="not an adjudicator"):
        gold.set_answer(demo_store, ref, "grounded", "fail", by="ana")
    item = gold.set_answer(demo_store, ref, "grounded", "fail", by="lead")
    (event,) = [e for e in demo_store.events() if e.action == "gold.set"]
    assert (event.entity, event.entity_id, event.after) == (
        "gold",
        item.uid,
        {"criterion": "grounded"},
    )  # no result, no answer
    gold.set_answer(demo_store, ref, "grounded", None, by="lead")
    assert gold.in_force(demo_store.conn) == []


# -- the figures: the demo's story ----------------------------------------------------------


def test_the_demo_story_raw_up_corrected_down(demo_store):
    assert demo.load(demo_store) == 60
    assert demo.load(demo_store) == 0  # once
    data = report_json(report.report(demo_store.conn, CAND, baseline=PROD, criterion="grounded"))
    (c,) = data["criteria"]
    assert (c["judged"], c["confusion"]) == (30, {"tp": 21, "fp": 7, "tn": 2, "fn": 0})
    assert c["pass_rate"]["raw"]["value"] == pytest.approx(525 / 568, abs=1e-6)
    assert c["pass_rate"]["corrected"] == pytest.approx((525 / 568 + 2 / 9 - 1) / (2 / 9), abs=1e-6)
    p = c["paired"]
    assert p["calibration"] == "per-run" and p["baseline_judgments"]["judged"] == 30
    assert p["raw_delta"] == pytest.approx(0.118794, abs=1e-6)  # the grader: +11.9 points
    assert p["delta"] == pytest.approx(-0.115544, abs=1e-6)  # people: -11.6 points
    assert (p["baseline_corrected"], p["candidate_corrected"]) == (
        pytest.approx(0.772459, abs=1e-6),
        pytest.approx(0.656915, abs=1e-6),
    )
    assert p["grader_differs"]["differs"] is False
    assert p["grader_differs"]["p_tnr_adjusted"] == pytest.approx(0.081119, abs=1e-6)
    assert p["grader_differs"]["tnr"] == [
        pytest.approx(6 / 7, abs=1e-6),
        pytest.approx(2 / 9, abs=1e-6),
    ]
    assert [(g["reviewer"], g["correct"], g["n"]) for g in c["reviewer_accuracy"]] == [
        ("ana", 7, 8),
        ("ben", 8, 8),
    ]
    assert [s["drawn"] for s in c["samples"]] == [30, 30]


def test_a_refused_figure_says_why(demo_store):
    ref = _ref(demo_store, CAND, "billing-001")
    judgments.record(demo_store, ref, "grounded", "pass", reviewer="ana")
    data = report_json(report.report(demo_store.conn, CAND, criterion="grounded", dimension="risk"))
    (c,) = data["criteria"]
    assert c["pass_rate"]["corrected"] is None
    assert c["pass_rate"]["refused"]["code"] == "no_judged_fails"
    assert {s["segment"] for s in c["segments"]} == {"high", "low", "medium"}
    with pytest.raises(InputError, match="did you mean 'grounded'"):
        report.report(demo_store.conn, CAND, criterion="groundd")


def test_the_overall_verdict_is_a_criterion_too(demo_store):
    kept = samples.draw(demo_store, CAND, VERDICT, n=20, seed=3)
    truth = grader.verdicts(demo_store.conn, kept.items, VERDICT)
    for ref in kept.items:
        judgments.record(demo_store, ref, VERDICT, truth[ref], reviewer="ana")
    data = report_json(report.report(demo_store.conn, CAND))
    (c,) = data["criteria"]
    assert c["criterion"] == "verdict" and c["confusion"]["fp"] == c["confusion"]["fn"] == 0
    assert c["pass_rate"]["corrected"] == pytest.approx(c["pass_rate"]["raw"]["value"])
