"""Retire, quarantine and restore shared through the team store: an adjudicator's status
changes travel and are folded in every store (the latest wins); a reviewer's stay local,
and the database refuses them from a reviewer's login."""

from __future__ import annotations

import psycopg
import pytest

from evaltui.review import lifecycle
from evaltui.store import runs
from evaltui.team import TeamError
from evaltui.team.client import TeamClient
from evaltui.team.events import TeamEvent
from evaltui.team.statuses import subject

from .conftest import Team
from .stores import Local, make_locals


def status_of(local: Local, i: int) -> tuple[str, str | None, str | None, str | None]:
    with local.store() as store:
        (entry,) = [e for e in runs.list_cases(store) if e.case_key == f"k{i:04d}"]
        return entry.status, entry.reason, entry.note, entry.by


def test_retire_and_quarantine_travel_and_the_latest_change_wins(team: Team, tmp_path):
    team.init()
    ana, bo = make_locals(team, tmp_path, [("ana", "adjudicator"), ("bo", "reviewer")])
    with ana.store() as store:
        lifecycle.retire(store, [ana.case(1)], "duplicate", "same as k0002", actor="ana")
        lifecycle.quarantine(store, [ana.case(2)], "flaky grader", actor="ana")
    first = ana.sync()
    assert (first.pushed, first.not_allowed) == (2, 0)
    assert team.count("kind = 'case_status'") == 2
    got = bo.sync()
    assert got.outcome.statuses == {"folded": 2}
    assert status_of(bo, 1) == ("retired", "duplicate", "same as k0002", "ana")
    assert status_of(bo, 2) == ("quarantined", None, "flaky grader", "ana")
    before = bo.snapshot()
    assert bo.sync().pulled == 0 and bo.snapshot() == before  # a second sync: nothing
    assert ana.sync().pushed == 0  # ana's own changes are not pushed again

    # bo, a reviewer, retires a case: it stays in his store, and the database refuses it
    with bo.store() as store:
        lifecycle.retire(store, [bo.case(3)], "bad_case", actor="bo")
    mine = bo.sync()
    assert (mine.pushed, mine.not_allowed) == (0, 1)
    forged = TeamEvent.make("p", "bo", "case_status", subject("s", "k0003"),
                            {"status": "retired", "reason": "bad_case", "note": None,
                             "log": "0" * 64})  # fmt: skip
    with pytest.raises(TeamError, match="a reviewer may write label, undo, not case_status"):
        TeamClient(team.connect("bo"), "p").push([forged])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        team.connect("bo").execute(
            "INSERT INTO evaltui.events (hash, project, author, kind, subject, payload, "
            "client_at) VALUES (%s, 'p', 'bo', 'case_status', %s, '{}', %s)",
            (forged.hash, forged.subject, forged.client_at),
        )
    assert status_of(ana, 3)[0] == "active"

    # ana restores case 1: the later change wins in bo's store too
    with ana.store() as store:
        lifecycle.restore(store, [ana.case(1)], "not a duplicate after all", actor="ana")
    assert ana.sync().pushed == 1
    assert bo.sync().outcome.statuses == {"folded": 1}
    assert status_of(bo, 1) == ("active", None, "not a duplicate after all", "ana")
    assert [status_of(bo, i)[:3] for i in (1, 2)] == [status_of(ana, i)[:3] for i in (1, 2)]
