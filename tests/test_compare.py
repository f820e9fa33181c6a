"""The comparison engine, its statistics and `evaltui compare`."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui import service
from evaltui.cli import cli
from evaltui.compare import CHANGES, Comparison, Filter, Reducer
from evaltui.errors import InputError
from evaltui.stats import mcnemar_exact, wilson
from evaltui.store.runs import list_runs

from .helpers import write_jsonl

# -- statistics against published and hand-computed values ---------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe(k, n, low, high):
    lo, hi = wilson(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


def test_wilson_of_nothing_is_none():
    assert wilson(0, 0) is None


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 9, 2 * (1 + 10) / 1024),  # 2 * P(X <= 1), X ~ Bin(10, 1/2)
        (2, 8, 2 * (1 + 10 + 45) / 1024),
        (0, 5, 2 / 32),
        (5, 5, 1.0),  # capped at 1
        (0, 0, 1.0),
        (0, 1, 1.0),
    ],
)
def test_mcnemar_exact_hand_computed(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)
    assert mcnemar_exact(c, b) == pytest.approx(p, rel=1e-12)  # symmetric


def test_mcnemar_large_counts_agree_with_exact_sum():
    b, c = 610, 700  # the log-space path (n > 1000) against exact integers
    exact = min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c))
    assert mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-9)


def test_reducer_parsing():
    assert Reducer.parse("worst") == Reducer("worst")
    assert Reducer.parse("at-least-2") == Reducer("at-least-k", 2)
    assert Reducer.parse("worst-of-n").label == "worst"
    with pytest.raises(InputError, match="unknown reducer"):
        Reducer.parse("median")


# -- crafted runs ---------------------------------------------------------------------------

# case -> (baseline samples, candidate samples); a sample is (verdict, output)
CRAFTED = {
    "a-regressed": ([("pass", "x")], [("fail", "x")]),
    "b-improved": ([("fail", "x")], [("pass", "y")]),
    "c-same": ([("pass", "x")], [("pass", "x")]),
    "d-changed": ([("pass", "x")], [("pass", "y")]),
    "e-failing": ([("fail", "x")], [("fail", "z")]),
    "f-errored": ([("fail", "x")], [("error", "")]),
    "g-dropped": ([("pass", "x")], []),
    "h-added": ([], [("pass", "x")]),
    "i-pass-to-error": ([("pass", "x")], [("error", "")]),
    "j-epochs": ([("pass", "x")] * 3, [("pass", "x"), ("fail", "x"), ("pass", "x")]),
    "k-extra-epoch": ([("pass", "x")], [("pass", "x"), ("fail", "x")]),
}
RISK = {"a-regressed": "low", "i-pass-to-error": "high", "j-epochs": "high"}


def crafted_rows(side: int, cases=CRAFTED, risk=RISK):
    rows = []
    for key, sides in cases.items():
        for epoch, (verdict, output) in enumerate(sides[side]):
            rows.append(
                {
                    "suite": "s",
                    "case_key": key,
                    "epoch": epoch,
                    "verdict": verdict,
                    "output": output,
                    "attributes": {
                        "risk": risk.get(key, "medium"),
                        "task": key[0] if key < "f" else "late",
                    },
                    "criteria": {
                        "grounded": {"verdict": "fail" if (side and key == "c-same") else "pass"}
                    },
                }
            )
    return rows


@pytest.fixture
def crafted(store, tmp_path, db_path):
    ids = []
    for side, name in ((0, "base"), (1, "cand")):
        path = write_jsonl(tmp_path / f"{name}.jsonl", crafted_rows(side), header={"name": name})
        (out,) = service.import_path(store, path)
        ids.append(out.run_id)
    return ids


def changes_of(cmp: Comparison) -> dict[str, str]:
    return {r.case_key: r.change for r in cmp.page(Filter(frozenset(CHANGES)), limit=1000)}


def test_each_case_gets_its_change(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        assert changes_of(cmp) == {
            "a-regressed": "regressed",
            "b-improved": "improved",
            "c-same": "still_passing",
            "d-changed": "output_changed",
            "e-failing": "still_failing",
            "f-errored": "errored",
            "g-dropped": "dropped",
            "h-added": "added",
            "i-pass-to-error": "regressed",
            "j-epochs": "regressed",  # worst-of-N: one failing sample fails the case
            "k-extra-epoch": "regressed",  # the candidate's extra sample counts
        }
        counts = cmp.counts()
        assert counts["regressed"] == 4 and counts["added"] == 1 and counts["dropped"] == 1
        assert sum(counts.values()) == len(CRAFTED)


@pytest.mark.parametrize(
    ("reducer", "expected"),
    [("best", "still_passing"), ("majority", "still_passing"), ("mean", "still_passing"),
     ("at-least-2", "still_passing"), ("at-least-3", "regressed"), ("worst", "regressed")],
)  # fmt: skip
def test_reducers_on_repeated_samples(db_path, crafted, reducer, expected):
    with Comparison(db_path, *crafted, reducer=Reducer.parse(reducer)) as cmp:
        assert changes_of(cmp)["j-epochs"] == expected


def test_list_order_regressions_first_then_risk(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        order = [r.case_key for r in cmp.page(limit=100)]
    # regressed (high risk first, then medium, then low), errored, improved, output changed,
    # dropped, added; the still_* kinds are not "changed"
    assert order == [
        "i-pass-to-error", "j-epochs", "k-extra-epoch", "a-regressed",
        "f-errored", "b-improved", "d-changed", "g-dropped", "h-added",
    ]  # fmt: skip


def test_keyset_paging_neighbours_and_positions(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        everything = cmp.page(limit=100)
        pages, after = [], None
        while True:
            page = cmp.page(after=after, limit=2)
            if not page:
                break
            pages += page
            after = page[-1].key
        assert [r.case_id for r in pages] == [r.case_id for r in everything]
        assert cmp.page(before=everything[4].key, limit=2) == everything[2:4]
        assert cmp.neighbour(everything[0]).case_id == everything[1].case_id
        assert cmp.neighbour(everything[1], step=-1).case_id == everything[0].case_id
        assert cmp.neighbour(everything[-1]) is None
        assert cmp.neighbour(None, step=-1).case_id == everything[-1].case_id
        assert cmp.position(everything[3]) == 4 and cmp.count() == len(everything)
        nxt = cmp.neighbour(everything[3], changes={"regressed"})
        assert nxt is None  # the regressions are the first four
        assert cmp.neighbour(None, changes={"improved"}).case_key == "b-improved"


def test_filters(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        assert cmp.dimensions == ["task", "risk"]
        high = cmp.page(Filter(frozenset(CHANGES), segment=("risk", "high")))
        assert {r.case_key for r in high} == {"i-pass-to-error", "j-epochs"}
        assert [r.case_key for r in cmp.page(Filter(frozenset({"improved"})))] == ["b-improved"]
        assert [r.case_key for r in cmp.page(Filter(frozenset(CHANGES), text="epoch"))] == [
            "j-epochs", "k-extra-epoch",
        ]  # fmt: skip
        assert [r.case_key for r in cmp.page(Filter(frozenset(CHANGES), text="100%_"))] == []
        with pytest.raises(InputError, match="no segment dimension"):
            cmp.page(Filter(segment=("colour", "red")))


def test_segment_rows(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        rows = {(s.dimension, s.value): s for s in cmp.segments()}
    everything = rows[("all", "all")]
    # paired cases: 9 (g dropped, h added); baseline passes a c d i j k = 6; candidate b c d = 3
    assert (everything.n, everything.baseline_passed, everything.candidate_passed) == (9, 6, 3)
    assert (everything.regressed, everything.improved) == (4, 1)
    assert (everything.coverage.added, everything.coverage.dropped) == (1, 1)
    assert everything.p_value == pytest.approx(mcnemar_exact(4, 1))
    high = rows[("risk", "high")]
    assert (high.n, high.baseline_passed, high.candidate_passed, high.regressed) == (2, 2, 0, 2)
    assert high.delta == -1.0


def test_criterion_changes_find_hidden_regressions(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        crit = cmp.criterion_changes()
    # c-same: verdict held (still passing) but "grounded" went pass -> fail
    assert crit["grounded"].pass_to_fail == 1 and crit["grounded"].hidden_regressions == 1


def test_detail_holds_every_sample(db_path, crafted):
    with Comparison(db_path, *crafted) as cmp:
        row = cmp.find("s", "j-epochs")
        detail = cmp.detail(row.case_id)
        assert [s.verdict for s in detail.candidate] == ["pass", "fail", "pass"]
        assert len(detail.baseline) == 3 and detail.fallback is None
        assert detail.criteria_changes(cmp.reducer) == {"grounded": ("pass", "pass")}
        assert cmp.detail(cmp.find("s", "c-same").case_id).criteria_changes(cmp.reducer) == {
            "grounded": ("pass", "fail")
        }


def test_retired_and_quarantined_cases_leave_the_figures(db_path, crafted, store):
    store.conn.execute("UPDATE cases SET status = 'retired' WHERE case_key = 'a-regressed'")
    store.conn.execute("UPDATE cases SET status = 'quarantined' WHERE case_key = 'j-epochs'")
    with Comparison(db_path, *crafted) as cmp:
        assert cmp.counts()["regressed"] == 2
        assert cmp.status_counts() == {"active": 9, "quarantined": 1, "retired": 1}
        assert "a-regressed" not in changes_of(cmp)
    with Comparison(
        db_path, *crafted, statuses=frozenset({"active", "retired", "quarantined"})
    ) as cmp:
        assert cmp.counts()["regressed"] == 4


def test_fallback_column(db_path, crafted, store, tmp_path):
    rows = crafted_rows(0)
    for r in rows:
        r["verdict"] = "pass"
    path = write_jsonl(tmp_path / "fb.jsonl", rows, header={"name": "fb"})
    (out,) = service.import_path(store, path)
    with Comparison(db_path, *crafted, out.run_id) as cmp:
        everything = cmp.segments()[0]
        assert everything.fallback_rate == 1.0
        assert cmp.find("s", "a-regressed").fallback == "pass"


# -- properties ----------------------------------------------------------------------------

verdicts = st.lists(st.sampled_from(["pass", "fail", "error"]), min_size=1, max_size=3)
runs_strategy = st.dictionaries(
    st.text("abcdef", min_size=1, max_size=4),
    st.tuples(st.one_of(st.none(), verdicts), st.one_of(st.none(), verdicts)),
    min_size=1,
    max_size=12,
)


def _import_pair(store, tmp_path, data, n):
    cases = {
        k: ([(v, "o") for v in (b or [])], [(v, "o") for v in (c or [])])
        for k, (b, c) in data.items()
        if b or c
    }
    ids = []
    for side in (0, 1):
        rows = crafted_rows(side, cases, {})
        if not rows:
            return None
        path = write_jsonl(tmp_path / f"p{n}-{side}.jsonl", rows, header={"name": f"p{n}-{side}"})
        (out,) = service.import_path(store, path, force=True)
        ids.append(out.run_id)
    return ids, cases


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=runs_strategy, reducer=st.sampled_from(["worst", "best", "majority", "at-least-2"]))
def test_properties(store, db_path, tmp_path, data, reducer):
    n = len(list_runs(store))
    made = _import_pair(store, tmp_path, data, n)
    if made is None:
        return
    (b, c), cases = made
    red = Reducer.parse(reducer)
    with (
        Comparison(db_path, b, c, reducer=red) as fwd,
        Comparison(db_path, c, b, reducer=red) as rev,
    ):
        f, r = fwd.counts(), rev.counts()
        assert sum(f.values()) == len(cases)  # counts add up to the cases
        assert (f["regressed"], f["improved"]) == (
            r["improved"],
            r["regressed"],
        )  # a swap swaps them
        assert (f["added"], f["dropped"]) == (r["dropped"], r["added"])
    with Comparison(db_path, b, b, reducer=red) as same:
        s = same.counts()
        assert (
            s["regressed"]
            == s["improved"]
            == s["output_changed"]
            == s["added"]
            == s["dropped"]
            == 0
        )


# -- CLI -------------------------------------------------------------------------------------


def test_cli_compare_json_is_stable(db_path, crafted):
    result = CliRunner().invoke(cli, ["--db", str(db_path), "compare", "base", "cand", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["schema"] == "evaltui.compare/1"
    assert set(out) >= {"baseline", "candidate", "fallback", "reducer", "counts", "segments",
                        "coverage", "changed", "criteria", "dimensions", "excluded"}  # fmt: skip
    assert out["counts"]["regressed"] == 4
    assert out["changed"]["regressed"] == [
        "i-pass-to-error",
        "j-epochs",
        "k-extra-epoch",
        "a-regressed",
    ]
    row = out["segments"][0]
    assert row["dimension"] == "all" and row["flips"] == {"pass_to_fail": 4, "fail_to_pass": 1}
    assert row["baseline"]["ci95"] == [round(x, 6) for x in wilson(6, 9)]
    assert row["p_value"] == round(mcnemar_exact(4, 1), 6)


def test_cli_compare_for_people_and_errors(db_path, crafted):
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(db_path), "compare", "base", "cand", "--keys"])
    assert result.exit_code == 0, result.output
    assert (
        "regressed 4" in result.output
        and "coverage: 1 cases only in the candidate" in result.output
    )
    assert "a-regressed" in result.output
    result = runner.invoke(cli, ["--db", str(db_path), "compare", "base", "nope"])
    assert result.exit_code == 4 and "No run 'nope'" in result.output
    result = runner.invoke(
        cli, ["--db", str(db_path), "compare", "base", "cand", "--reducer", "median"]
    )
    assert result.exit_code == 2 and "unknown reducer" in result.output


def test_demo_comparison_tells_the_demo_story(demo_store, db_path):
    sel = service.get_selection(demo_store)
    with Comparison(db_path, sel["baseline"], sel["candidate"], sel["fallback"]) as cmp:
        rows = {(s.dimension, s.value): s for s in cmp.segments()}
        high = rows[("risk", "high")]
        assert high.delta < -0.2 and high.significant  # regressions concentrate in high risk
        assert rows[("risk", "medium")].delta > 0  # and improvements elsewhere
        first = cmp.page(limit=1)[0]
        assert first.change == "regressed" and first.segments["risk"] == "high"


def test_include_adds_statuses_and_only_replaces_them(demo_store, db_path):
    """`--include retired` counts retired cases as well as the active ones; `--only`
    counts exactly the statuses named."""
    from click.testing import CliRunner

    from evaltui.cli import cli
    from evaltui.review import lifecycle

    sel = service.get_selection(demo_store)
    b, c = str(sel["baseline"]), str(sel["candidate"])
    keys = [r[0] for r in demo_store.conn.execute("SELECT case_key FROM cases ORDER BY id LIMIT 3")]
    lifecycle.quarantine(demo_store, lifecycle.resolve_cases(demo_store, keys), "flaky")
    run = CliRunner()

    def summary(*args: str) -> dict:
        out = run.invoke(cli, ["--db", str(db_path), "compare", b, c, "--json", *args])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    active = summary()
    plus = summary("--include", "quarantined")
    only = summary("--only", "quarantined")
    assert set(plus["statuses"]) == {"active", "quarantined"} and only["statuses"] == [
        "quarantined"
    ]
    n = lambda s: s["segments"][0]["n"]  # noqa: E731
    assert active["excluded"]["quarantined"] > 0 and n(plus) == n(active) + n(only)
    both = run.invoke(
        cli, ["--db", str(db_path), "compare", b, c, "--include", "retired", "--only", "active"]
    )
    assert both.exit_code == 2


@pytest.mark.parametrize("regressions", [80, 30])
@pytest.mark.parametrize("reducer", ["worst", "best"])
def test_a_preview_is_the_first_page_of_the_whole(store, db_path, tmp_path, regressions, reducer):
    """`Comparison(first=N)` (the app's first page, read before the whole comparison)
    gives the whole one's first N rows: from the regressions alone when there are N,
    from every case when there are fewer."""
    from .helpers import line

    risks = ["high", "low", "medium"]
    base = [line(f"k{i:03d}", "pass", attributes={"risk": risks[i % 3]}) for i in range(200)]
    cand = [line(f"k{i:03d}", "fail" if i < regressions or i % 7 == 0 else "pass",
                 attributes={"risk": risks[i % 3]}, output=f"o{i % 5}") for i in range(200)]  # fmt: skip
    for name, rows, role in (("b", base, "production"), ("c", cand, "candidate")):
        service.import_path(
            store, write_jsonl(tmp_path / f"{name}.jsonl", rows, {"name": name, "role": role})
        )
    with Comparison(db_path, 1, 2, first=60, reducer=Reducer.parse(reducer)) as preview, \
            Comparison(db_path, 1, 2, reducer=Reducer.parse(reducer)) as whole:  # fmt: skip
        got = [(r.case_id, r.ord, r.change) for r in preview.page(Filter(), limit=60)]
        assert got == [(r.case_id, r.ord, r.change) for r in whole.page(Filter(), limit=60)]
        assert len(got) == 60 and got[0][2] == "regressed"
