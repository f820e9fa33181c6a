"""One process of the convergence load test (test_load.py): a reviewer's machine that
triages a comparison (labels every case once in its own order, relabels, undoes and, as
an adjudicator, adjudicates) and syncs every few actions, whatever the server does.

    python -m tests.team.load_worker DB REVIEWER SEED ADJUDICATE N_CASES EVERY

Prints one line per sync attempt ("sync ok" / "sync failed: ..."), then "done MADE" (the
findings it made). A failed sync is what a lost connection or a restarting server does
to a reviewer: the actions stay local, the next sync takes them.
"""

from __future__ import annotations

import random
import sys

from evaltui.errors import EvaltuiError
from evaltui.review import taxonomy, triage
from evaltui.store import Store
from evaltui.team import sync

VERDICTS = ("real_regression", "accepted", "grader_wrong", "flaky", None)


def main() -> None:
    db, reviewer, seed, adjudicate, n, every = sys.argv[1:7]
    rnd = random.Random(int(seed))
    classes = taxonomy.default_taxonomy().active
    made = 0
    with Store(db) as store:
        base, cand = (r[0] for r in store.conn.execute("SELECT id FROM runs ORDER BY id"))
        cases = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY case_key")]
        order = cases[: int(n)]
        rnd.shuffle(order)
        actions: list[tuple[str, int]] = []
        for i, case in enumerate(order):
            actions.append(("label", case))
            if i and rnd.random() < 0.1:
                actions.append(("label", rnd.choice(order[:i])))  # a relabel
            if i and rnd.random() < 0.05:
                actions.append(("undo", 0))
            if adjudicate == "1" and rnd.random() < 0.2:
                actions.append(("adjudicate", rnd.choice(order[: i + 1])))
        for step, (what, case) in enumerate(actions, 1):
            if what == "undo":
                made += triage.undo(store, base, cand, reviewer=reviewer) is not None
            else:
                triage.label(store, base, cand, case, reviewer=reviewer,
                             failure_class=rnd.choice(classes), verdict=rnd.choice(VERDICTS),
                             adjudicate=what == "adjudicate")  # fmt: skip
                made += 1
            if step % int(every) == 0 or step == len(actions):
                try:
                    sync.sync(store)
                    print("sync ok", flush=True)
                except EvaltuiError as exc:
                    print(f"sync failed: {exc.message[:200]}", flush=True)
    print(f"done {made}", flush=True)


if __name__ == "__main__":
    main()
