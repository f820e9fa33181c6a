"""Offline first: 1,000 labels made with the team's server stopped, then one sync: every
one arrives once, and the other member's store shows each case as labelled."""

from __future__ import annotations

import pytest

from evaltui.review import triage
from evaltui.team import ledger
from evaltui.team.db import Offline

from .conftest import Team
from .stores import CLASSES, make_locals

N = 1000
VERDICTS = ("real_regression", "accepted", "flaky", None)


def test_a_thousand_labels_made_offline_arrive_once_in_one_sync(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")], n=N)
    assert ana.sync().pulled == 0
    team.server.pause()
    try:
        base, cand = ana.ids()
        with ana.store() as store:
            cases = dict(store.conn.execute("SELECT case_key, id FROM cases"))
            for i in range(N):
                triage.label(store, base, cand, cases[f"k{i:04d}"], reviewer="ana",
                             failure_class=CLASSES[i % 9], verdict=VERDICTS[i % 4])  # fmt: skip
        with pytest.raises(Offline, match="could not connect to the team store"):
            ana.sync()
        with ana.store() as store:
            assert ledger.outbox_size(store, "ana") == (N, {})
    finally:
        team.server.resume()
    result = ana.sync()
    assert (result.pushed, result.present, result.outbox, result.conflicts) == (N, 0, 0, 0)
    assert team.count() == N
    assert team.count("author = 'ana' AND kind = 'label'") == N
    uids = team.su.execute("SELECT count(DISTINCT payload->>'uid') FROM evaltui.events")
    assert uids.fetchone()[0] == N
    pulled = bo.sync()
    assert (pulled.pulled, pulled.outcome.added, pulled.outcome.changed) == (N, N, N)
    rows = {r["case_key"]: r for r in bo.state()["cases"]}
    assert len(rows) == N
    for i in range(N):
        row = rows[f"k{i:04d}"]
        assert (row["state"], row["class"], row["verdict"], row["reviewers"]) == (
            "triaged", CLASSES[i % 9].key, VERDICTS[i % 4], ["ana"],
        ), i  # fmt: skip
    assert ana.state() == bo.state()
    # once: again, nothing moves
    assert (ana.sync().pushed, bo.sync().pulled) == (0, 0)
    assert team.count() == N
