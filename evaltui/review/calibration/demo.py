"""The demo's calibration story: the grader of the `grounded` criterion passes answers that
claim an account action was taken ("Done! I've updated the card on file") and answers with a
format violation, though they rest on nothing the knowledge base says. Production gives few
such answers, the candidate many (its unsafe tool actions), so the raw grounded pass rate
says the candidate improved while people who read the answers say it got worse.

`evaltui demo` adds, once: a seeded sample of 30 results from each of production and the
candidate on `grounded`, judged blind by two reviewers (a result is grounded exactly when
its answer is the reference's good one, which the demo's generator makes the results that
pass), and eight gold items on the fallback run, answered by both (one wrong). README.md walks it.
"""

from __future__ import annotations

from evaltui.review.calibration import gold, judgments, samples
from evaltui.store import runs
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, Graded
from evaltui.store.store import Store

CRITERION = "grounded"
SEED = 2026
PER_RUN = 30
REVIEWERS = ("ana", "ben")
ADJUDICATOR = "lead"
GOLD_ITEMS = 8
RUNS = ("prod-2026-11-02", "cand-2026-11-20")
GOLD_RUN = "fallback-2026-11-20"


def _run(store: Store, name: str) -> int | None:
    found = [r.id for r in runs.list_runs(store) if r.name == name]
    return found[0] if found else None


def load(store: Store) -> int:
    """Add the demo's judgments and gold items (nothing when the store has judgments on
    the demo runs already, or lacks them); how many judgments were added."""
    ids = [_run(store, name) for name in RUNS]
    fallback = _run(store, GOLD_RUN)
    if None in ids or fallback is None or judgments.runs_judged(store.conn):
        return 0
    added = 0
    for run_id in ids:
        assert run_id is not None
        kept = samples.draw(store, run_id, CRITERION, n=PER_RUN, seed=SEED, gold_rate=0.1)
        truth = grader.verdicts(store.conn, kept.items, VERDICT)
        for i, ref in enumerate(kept.items):
            said = truth[ref]
            if said is None:  # the grader scored it, the result errored: not judged
                continue
            judgments.record(
                store,
                ref,
                CRITERION,
                said,
                reviewer=REVIEWERS[i % 2],
                sample=kept.uid,
                seconds=float(6 + (i * 7) % 23),
            )
            added += 1
    frame = [r.ref for r in grader.frame(store.conn, fallback, CRITERION)]
    truth = grader.verdicts(store.conn, frame[: GOLD_ITEMS * 3 : 3], VERDICT)
    for k, (ref, answer) in enumerate(truth.items()):
        if answer is None:
            continue
        gold.set_answer(store, ref, CRITERION, answer, by=ADJUDICATOR)
        for who in REVIEWERS:  # ana misses one
            flipped: Graded = "fail" if answer == "pass" else "pass"
            said = answer if (k, who) != (3, "ana") else flipped
            judgments.record(store, ref, CRITERION, said, reviewer=who, purpose="gold")
    return added
