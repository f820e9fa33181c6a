"""The trend over a suite's last runs: pass rates per segment, case histories, read through
the store's reader (evaltui.views.trend)."""

from __future__ import annotations

import pytest

from evaltui import service
from evaltui.compare.kinds import Reducer
from evaltui.errors import InputError, StoreError
from evaltui.review import lifecycle
from evaltui.store.runs import resolve_case
from evaltui.views.trend import history, spark, trend

from .helpers import write_jsonl

# verdicts per run, oldest first; "-" = the case is not in that run
PLAN = {
    "steady": "ppp",
    "standing": "fff",
    "flips": "pfp",
    "late": "--f",
    "gone": "pf-",
}
REGION = {"steady": "eu", "standing": "eu", "flips": "us", "late": "us", "gone": "eu"}


@pytest.fixture
def suite_runs(store, tmp_path):
    ids = []
    for n, day in enumerate(("2026-01-01", "2026-01-02", "2026-01-03")):
        rows = [
            {
                "suite": "s",
                "case_key": key,
                "input": f"in {key}",
                "verdict": {"p": "pass", "f": "fail"}[marks[n]],
                "attributes": {"region": REGION[key]},
            }
            for key, marks in PLAN.items()
            if marks[n] != "-"
        ]
        header = {"name": f"r{n}", "created_at": f"{day}T00:00:00+00:00"}
        path = write_jsonl(tmp_path / f"r{n}.jsonl", rows, header=header)
        (out,) = service.import_path(store, path)
        ids.append(out.run_id)
    header = {"name": "other", "created_at": "2026-01-02T12:00:00+00:00"}
    row = {"suite": "t", "case_key": "x", "verdict": "pass"}
    other = write_jsonl(tmp_path / "other.jsonl", [row], header=header)
    service.import_path(store, other)
    return ids


def test_trend_reads_the_suites_runs_oldest_first_with_rates_and_histories(store, suite_runs):
    found = trend(store.path, suite_runs[-1], dimensions=["region"])
    assert [(r.id, r.name, r.at[:10]) for r in found.runs] == [
        (suite_runs[0], "r0", "2026-01-01"),
        (suite_runs[1], "r1", "2026-01-02"),
        (suite_runs[2], "r2", "2026-01-03"),
    ]  # the other suite's run, between them in time, is not one of them
    assert found.segments == [
        ("all", "", [0.75, 0.25, 0.5]),
        ("region", "eu", [2 / 3, 1 / 3, 0.5]),
        ("region", "us", [1.0, 0.0, 0.5]),
    ]
    assert (found.failing, found.standing) == (4, 1)
    assert found.cases == [
        ("s", "standing", ["fail", "fail", "fail"]),
        ("s", "flips", ["pass", "fail", "pass"]),
        ("s", "gone", ["pass", "fail", None]),
        ("s", "late", [None, None, "fail"]),
    ]
    assert spark(found.segments[0][2]) == "▇▃▅" and history(found.cases[2][2]) == "✓✗·"


def test_trend_stops_at_the_run_asked_for_and_bounds_runs_and_cases(store, suite_runs):
    found = trend(store.path, suite_runs[1], last=1, max_cases=1)
    assert [r.name for r in found.runs] == ["r1"]
    assert found.segments == [("all", "", [0.25])]
    assert (found.failing, found.standing) == (3, 0)
    assert found.cases == [("s", "flips", ["fail"])]


def test_trend_counts_active_cases_only_and_uses_the_reducer(store, suite_runs):
    lifecycle.retire(store, [resolve_case(store, "s/standing")], "bad_case")
    found = trend(store.path, suite_runs[-1], reducer=Reducer("best"), max_cases=10)
    assert found.segments == [("all", "", [1.0, 1 / 3, 2 / 3])]
    assert [c[1] for c in found.cases] == ["flips", "gone", "late"]
    assert found.standing == 0


def test_cases_without_the_attribute_are_the_none_segment_as_compare_names_it(store, suite_runs):
    found = trend(store.path, suite_runs[-1], dimensions=["nosuch"])
    every = [0.75, 0.25, 0.5]
    assert found.segments == [("all", "", every), ("nosuch", "(none)", every)]


def test_trend_of_an_unknown_run_or_a_missing_store_is_an_error(store, suite_runs, tmp_path):
    with pytest.raises(InputError, match="no run with id 999"):
        trend(store.path, 999)
    with pytest.raises(StoreError, match="No store"):
        trend(tmp_path / "none.db", 1)
    assert not (tmp_path / "none.db").exists()
